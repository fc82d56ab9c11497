package bft_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urna-vote/urna/chain/bft"
)

var testChainID = bft.Hash(sha256.Sum256([]byte("urna/bft test chain")))

// testKeys returns n deterministic key pairs (seeded from tag and index).
func testKeys(tag string, n int) ([]ed25519.PrivateKey, *bft.ValidatorSet) {
	privs := make([]ed25519.PrivateKey, n)
	pubs := make([]ed25519.PublicKey, n)
	for i := range privs {
		seed := sha256.Sum256([]byte(fmt.Sprintf("%s/validator/%d", tag, i)))
		privs[i] = ed25519.NewKeyFromSeed(seed[:])
		pubs[i] = privs[i].Public().(ed25519.PublicKey)
	}
	vals, err := bft.NewValidatorSet(pubs)
	if err != nil {
		panic(err)
	}
	return privs, vals
}

func testTimeouts() bft.TimeoutConfig {
	return bft.TimeoutConfig{
		Propose: time.Second, ProposeDelta: 500 * time.Millisecond,
		Prevote: 500 * time.Millisecond, PrevoteDelta: 250 * time.Millisecond,
		Precommit: 500 * time.Millisecond, PrecommitDelta: 250 * time.Millisecond,
		Max: 5 * time.Second,
	}
}

// errInvalidBlock is what testValidate rejects blocks with.
var errInvalidBlock = errors.New("invalid test block")

// testBlock builds a block value for height: the validity rule of the tests is that a
// block starts with "h<height>/" and does not contain "INVALID".
func testBlock(height uint64, tag string) []byte {
	return []byte(fmt.Sprintf("h%d/%s", height, tag))
}

func testValidate(height uint64, block []byte) error {
	if !bytes.HasPrefix(block, []byte(fmt.Sprintf("h%d/", height))) {
		return fmt.Errorf("%w: %q is not for height %d", errInvalidBlock, block, height)
	}
	if strings.Contains(string(block), "INVALID") {
		return fmt.Errorf("%w: %q is marked invalid", errInvalidBlock, block)
	}
	return nil
}

// errRefused is returned by guardSigner when signing would conflict.
var errRefused = errors.New("double-sign guard refused")

// signerState is the durable state of a double-sign guard: the last (height, round,
// step) signed, with its sign bytes and signature. It survives crashes and WAL wipes.
type signerState struct {
	height    uint64
	round     uint32
	step      bft.RoundStep
	signBytes []byte
	signature []byte
}

// guardSigner models the durable double-sign guard of chain/bft/signer: it refuses to
// sign below the last (height, round, step) it signed, and at that same point signs only
// identical bytes again. With guarded false it signs anything (a test of the core and
// WAL alone, without the guard's protection).
type guardSigner struct {
	priv    ed25519.PrivateKey
	state   *signerState
	guarded bool
	onSign  func(height uint64, round uint32, step bft.RoundStep, signBytes, sig []byte)
}

func (g *guardSigner) sign(h uint64, r uint32, s bft.RoundStep, b []byte) ([]byte, error) {
	st := g.state
	if g.guarded {
		switch cmpHRS(h, r, s, st.height, st.round, st.step) {
		case -1:
			return nil, fmt.Errorf("%w: h%d r%d %s is below the last signed h%d r%d %s", errRefused, h, r, s, st.height, st.round, st.step)
		case 0:
			if bytes.Equal(b, st.signBytes) {
				return bytes.Clone(st.signature), nil
			}
			return nil, fmt.Errorf("%w: h%d r%d %s already signed with other bytes", errRefused, h, r, s)
		}
	}
	sig := ed25519.Sign(g.priv, b)
	if cmpHRS(h, r, s, st.height, st.round, st.step) >= 0 {
		*st = signerState{height: h, round: r, step: s, signBytes: bytes.Clone(b), signature: bytes.Clone(sig)}
	}
	if g.onSign != nil {
		g.onSign(h, r, s, b, sig)
	}
	return sig, nil
}

func (g *guardSigner) Signer() bft.Signer { return bft.SignFunc(g.sign) }

func cmpHRS(h1 uint64, r1 uint32, s1 bft.RoundStep, h2 uint64, r2 uint32, s2 bft.RoundStep) int {
	switch {
	case h1 != h2:
		return cmpU(h1, h2)
	case r1 != r2:
		return cmpU(uint64(r1), uint64(r2))
	default:
		return cmpU(uint64(s1), uint64(s2))
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// signVote returns a vote signed by priv (for scripted peers and Byzantine nodes).
func signVote(priv ed25519.PrivateKey, t bft.VoteType, height uint64, round uint32, hash bft.Hash, validator uint32) *bft.Vote {
	v := &bft.Vote{Type: t, Height: height, Round: round, BlockHash: hash, Validator: validator}
	v.Signature = ed25519.Sign(priv, v.SignBytes(testChainID))
	return v
}

func signProposal(priv ed25519.PrivateKey, height uint64, round uint32, pol int32, block []byte, proposer uint32) *bft.Proposal {
	p := &bft.Proposal{Height: height, Round: round, POLRound: pol, Block: block, Proposer: proposer}
	p.Signature = ed25519.Sign(priv, p.SignBytes(testChainID))
	return p
}
