package vote

// Every use of the ballot package's voter-side API is in this file, so that
// a change of the ballot format (longer tracking codes, proofs bound to the
// credential) is adapted here and nowhere else. Nothing here does I/O; the
// model runs seal and spoil inside commands because they take a while.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
)

// codeShape is the number of symbols in each group of a printed voting
// code, read off a code the ballot package formats, so the entry screen
// groups symbols exactly as the code sheet prints them.
func codeShape() []int {
	c, err := ballot.NewVotingCode(bytes.NewReader(make([]byte, 64)))
	if err != nil {
		panic("vote: cannot format a voting code: " + err.Error())
	}
	var shape []int
	for g := range strings.SplitSeq(string(c), "-") {
		shape = append(shape, len(g))
	}
	return shape
}

// symbolAllowed reports whether r can be part of a typed voting code (the
// ballot package folds case and reads I/L as 1 and O as 0).
func symbolAllowed(r rune) bool {
	_, err := ballot.ParseVotingCode(string(r))
	return !errors.Is(err, ballot.ErrCodeSymbol)
}

// Why a typed voting code is refused, for the words on the screen.
type codeProblem int

const (
	codeOK codeProblem = iota
	codeTooShort
	codeBadSymbol
	codeMistyped
)

// checkCode parses a typed voting code; the check symbol catches a
// mistyped symbol here, before anything is sent.
func checkCode(typed string) (ballot.VotingCode, codeProblem) {
	c, err := ballot.ParseVotingCode(typed)
	switch {
	case err == nil:
		return c, codeOK
	case errors.Is(err, ballot.ErrCodeMistyped):
		return "", codeMistyped
	case errors.Is(err, ballot.ErrCodeSymbol):
		return "", codeBadSymbol
	}
	return "", codeTooShort
}

// newElection builds the ballot-making side of the election from the genesis
// and the verified election key.
func newElection(g *genesis.Genesis, key []byte) (*ballot.Election, error) {
	return ballot.NewElection(g.Manifest(), key)
}

// sealed is a ballot encrypted, proved and signed on this terminal, with
// what the terminal must keep until the voter casts or challenges it. The
// nonces can read the ballot: it lives only in memory and is dropped when
// the voter casts, leaves, or the terminal goes idle.
type sealed struct {
	choices  ballot.Choices
	ballot   *ballot.Ballot
	nonces   ballot.Nonces
	tx       []byte   // the ballot transaction's canonical bytes
	hash     [32]byte // SHA-256 of tx, the id a station reports on
	tracking string   // the ballot's tracking code, dash-grouped
}

// seal encrypts, proves and signs choices with the credential of code.
func seal(e *ballot.Election, code ballot.VotingCode, station string, choices ballot.Choices, rnd io.Reader) (*sealed, error) {
	cred := ballot.DeriveCredential(e.Manifest.ElectionID, code)
	b, nonces, err := e.NewBallot(cred, station, choices, rnd)
	if err != nil {
		return nil, fmt.Errorf("sealing the ballot: %w", err)
	}
	tx := chain.NewBallotTx(b).Encode()
	return &sealed{choices: choices, ballot: b, nonces: nonces, tx: tx, hash: sha256.Sum256(tx), tracking: b.TrackingCode()}, nil
}

// challenge is a sealed ballot opened for the voter's challenge: its
// transaction publishes the nonces, and revealed are the choices that anyone
// recovers from the published ballot (not what the terminal remembers).
type challenge struct {
	tx       []byte
	hash     [32]byte
	tracking string
	revealed ballot.Choices
}

// open reveals a sealed ballot and checks it the way an auditor of the chain
// will, so the screen shows exactly what anyone can recheck.
func open(e *ballot.Election, s *sealed) (*challenge, error) {
	sp, err := e.Spoil(s.ballot, s.choices, s.nonces)
	if err != nil {
		return nil, fmt.Errorf("opening the ballot: %w", err)
	}
	revealed, err := e.VerifySpoiled(sp)
	if err != nil {
		return nil, fmt.Errorf("checking the opened ballot: %w", err)
	}
	tx := chain.NewSpoiledTx(sp).Encode()
	return &challenge{tx: tx, hash: sha256.Sum256(tx), tracking: s.tracking, revealed: revealed}, nil
}

// parseTracking normalises a typed tracking code to the form stations
// index it by.
func parseTracking(typed string) (string, bool) {
	c, err := ballot.ParseTrackingCode(typed)
	return c, err == nil
}

// blankChoices is an unmarked ballot for the election's contests.
func blankChoices(g *genesis.Genesis) ballot.Choices {
	cs := g.Contests()
	ch := make(ballot.Choices, len(cs))
	for i, c := range cs {
		ch[i] = make([]bool, len(c.Candidates))
	}
	return ch
}
