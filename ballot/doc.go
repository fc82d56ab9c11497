// Package ballot is urna's election cryptography: strict and cofactored
// point decoding, exponential ElGamal, Chaum–Pedersen proofs with strong
// Fiat–Shamir bound to the voter's credential, voting codes and
// credentials, encrypted ballots and their batch verification
// (VerifyBallots), cast-or-challenge, the DKG and threshold decryption.
//
// docs/crypto.md is its specification, exact enough to write a verifier in
// another language; ballot/spec_test.go checks the wire shapes against it.
// The package imports nothing else of urna.
package ballot
