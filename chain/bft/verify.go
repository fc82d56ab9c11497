package bft

import (
	"crypto/ed25519"
	"fmt"
)

// Verify checks the vote's fields and that its signature is the validator's over
// SignBytes(chainID).
func (v *Vote) Verify(chainID Hash, vals *ValidatorSet) error {
	if err := checkVote(v); err != nil {
		return err
	}
	key, err := vals.key(v.Validator)
	if err != nil {
		return fmt.Errorf("%s: %w", v, err)
	}
	if !ed25519.Verify(key, v.SignBytes(chainID), v.Signature) {
		return fmt.Errorf("%w: %s", ErrBadSignature, v)
	}
	return nil
}

// Verify checks the proposal's fields, that its signer is the proposer of its height
// and round, and the signature.
func (p *Proposal) Verify(chainID Hash, vals *ValidatorSet) error {
	if err := checkProposal(p); err != nil {
		return err
	}
	key, err := vals.key(p.Proposer)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if want := vals.Proposer(p.Height, p.Round); want != p.Proposer {
		return fmt.Errorf("%w: %s: the proposer of h%d r%d is v%d", ErrWrongProposer, p, p.Height, p.Round, want)
	}
	if !ed25519.Verify(key, p.SignBytes(chainID), p.Signature) {
		return fmt.Errorf("%w: %s", ErrBadSignature, p)
	}
	return nil
}

// Verify checks that c holds at least Quorum valid precommit signatures of distinct
// validators, sorted by validator index, for a non-nil block. Errors name the
// signature at fault and wrap ErrNilBlock, ErrUnsortedSigners, ErrDuplicateSigner,
// ErrUnknownValidator, ErrTooFewSigners or ErrBadSignature.
func (c *Certificate) Verify(chainID Hash, vals *ValidatorSet) error {
	if c.BlockHash.IsZero() {
		return fmt.Errorf("%w: certificate h%d r%d", ErrNilBlock, c.Height, c.Round)
	}
	if err := checkCertificate(c); err != nil {
		return err
	}
	if vals == nil {
		return fmt.Errorf("%w: nil validator set", ErrInvalidValidatorSet)
	}
	for i := range c.Signatures {
		id := c.Signatures[i].Validator
		if _, err := vals.key(id); err != nil {
			return fmt.Errorf("certificate h%d r%d: signature %d: %w", c.Height, c.Round, i, err)
		}
		if i > 0 {
			prev := c.Signatures[i-1].Validator
			if prev == id {
				return fmt.Errorf("%w: certificate h%d r%d: validator %d at signatures %d and %d", ErrDuplicateSigner, c.Height, c.Round, id, i-1, i)
			}
			if prev > id {
				return fmt.Errorf("%w: certificate h%d r%d: validator %d after validator %d at signature %d", ErrUnsortedSigners, c.Height, c.Round, id, prev, i)
			}
		}
	}
	if got, want := len(c.Signatures), vals.Quorum(); got < want {
		return fmt.Errorf("%w: certificate h%d r%d has %d signatures, quorum is %d of %d", ErrTooFewSigners, c.Height, c.Round, got, want, vals.N())
	}
	vote := Vote{Type: Precommit, Height: c.Height, Round: c.Round, BlockHash: c.BlockHash}
	msg := vote.SignBytes(chainID)
	for i := range c.Signatures {
		s := &c.Signatures[i]
		if !ed25519.Verify(vals.Keys[s.Validator], msg, s.Signature) {
			return fmt.Errorf("%w: certificate h%d r%d %s: precommit of validator %d", ErrBadSignature, c.Height, c.Round, c.BlockHash, s.Validator)
		}
	}
	return nil
}

// Verify checks that d's certificate verifies, is for d's height, and certifies d's block.
func (d *Decision) Verify(chainID Hash, vals *ValidatorSet) error {
	if err := checkDecision(d); err != nil {
		return err
	}
	if got := HashValue(d.Block); got != d.Certificate.BlockHash {
		return fmt.Errorf("%w: decision h%d: block hashes to %s, certificate is for %s", ErrHashMismatch, d.Height, got, d.Certificate.BlockHash)
	}
	return d.Certificate.Verify(chainID, vals)
}

// Verify checks that e proves equivocation: two votes of one validator for the same
// height, round and type, with different block hashes, both validly signed.
func (e *Evidence) Verify(chainID Hash, vals *ValidatorSet) error {
	a, b := &e.A, &e.B
	if a.Validator != b.Validator || a.Height != b.Height || a.Round != b.Round || a.Type != b.Type {
		return fmt.Errorf("%w: votes (%s) and (%s) are not for the same validator, height, round and type", ErrNotEquivocation, a, b)
	}
	if a.BlockHash == b.BlockHash {
		return fmt.Errorf("%w: both votes are for %s", ErrNotEquivocation, a.BlockHash)
	}
	if err := a.Verify(chainID, vals); err != nil {
		return fmt.Errorf("evidence vote A: %w", err)
	}
	if err := b.Verify(chainID, vals); err != nil {
		return fmt.Errorf("evidence vote B: %w", err)
	}
	return nil
}
