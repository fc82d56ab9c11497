// Package verify is what a client checks for itself instead of trusting a
// station: that blocks are certified by a quorum of the genesis's stations
// and hash-linked, that they are valid under the election's rules (by
// replaying them through the state machine), and so what the election key,
// the turnout and the result are.
//
// A client (voter terminal, official's tool, observer) holds only the
// genesis. It fetches the voter roll and the certified blocks from any
// station and gives them to a Follower, which trusts none of it: the roll
// must hash to the genesis's roll hash, every block must extend the last
// one and apply under the rules, and every certificate must carry 2f+1
// valid precommits of the genesis's stations for exactly that block. The
// election key is then the one the replayed setup blocks produced.
package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
)

// Errors of verification.
var (
	// ErrRoll: the roll is not the one the genesis names.
	ErrRoll = errors.New("voter roll does not match the genesis")
	// ErrBlock: a block is not the next valid block of the chain.
	ErrBlock = errors.New("block does not verify")
	// ErrCertificate: a certificate is not a quorum's commit of its block.
	ErrCertificate = errors.New("commit certificate does not verify")
	// ErrSource: the block source broke its promise (no progress, wrong
	// heights).
	ErrSource = errors.New("block source misbehaves")
	// ErrKeyNotReady: the chain has no election key yet.
	ErrKeyNotReady = errors.New("election key is not on the chain yet")
)

// Roll decodes a voter roll file and checks it is the genesis's.
func Roll(g *genesis.Genesis, file []byte) (*ballot.Roll, error) {
	roll, err := ballot.DecodeRoll(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRoll, err)
	}
	if roll.ElectionID != g.ElectionID() || roll.Hash() != g.RollHash() {
		return nil, fmt.Errorf("%w: SHA-256 %x, the genesis says %x", ErrRoll, roll.Hash(), g.RollHash())
	}
	return roll, nil
}

// Certified checks one block on its own: its canonical bytes decode, it
// belongs to this election at this height, and its certificate is a
// quorum's precommits for exactly these bytes. It does not check the
// block's transactions (a Follower does), which 2f+1 stations vouch for.
func Certified(g *genesis.Genesis, vals *bft.ValidatorSet, height uint64, block, cert []byte) (*chain.Block, error) {
	b, err := chain.DecodeBlock(block, g.Params().MaxBlockBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: height %d: %w", ErrBlock, height, err)
	}
	if b.Header.Election != g.Fingerprint() || b.Header.Height != height {
		return nil, fmt.Errorf("%w: height %d: block is of election %x… height %d", ErrBlock, height, b.Header.Election[:4], b.Header.Height)
	}
	if err := checkCertificate(g, vals, height, sha256.Sum256(block), cert); err != nil {
		return nil, err
	}
	return b, nil
}

func checkCertificate(g *genesis.Genesis, vals *bft.ValidatorSet, height uint64, hash [32]byte, cert []byte) error {
	c, err := bft.DecodeCertificate(cert)
	if err != nil {
		return fmt.Errorf("%w: height %d: %w", ErrCertificate, height, err)
	}
	if c.Height != height || [32]byte(c.BlockHash) != hash {
		return fmt.Errorf("%w: height %d: it certifies height %d, block %x…", ErrCertificate, height, c.Height, c.BlockHash[:4])
	}
	if err := c.Verify(bft.Hash(g.Fingerprint()), vals); err != nil {
		return fmt.Errorf("%w: height %d: %w", ErrCertificate, height, err)
	}
	return nil
}

// Follower replays a chain from its first block, checking everything. It
// keeps the state in memory. Not safe for concurrent use.
type Follower struct {
	g  *genesis.Genesis
	m  *chain.Machine
	kv *chain.MemKV
	st *chain.State
}

// NewFollower starts at the genesis, with the election's voter roll file
// (checked against the genesis).
func NewFollower(g *genesis.Genesis, rollFile []byte) (*Follower, error) {
	roll, err := Roll(g, rollFile)
	if err != nil {
		return nil, err
	}
	m, err := chain.NewMachine(g, roll)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRoll, err)
	}
	return &Follower{g: g, m: m, kv: chain.NewMemKV(), st: m.InitialState()}, nil
}

// Apply checks the next block and its certificate and, if both verify,
// moves the follower's state past it. On an error nothing changes.
func (f *Follower) Apply(block, cert []byte) (*chain.Applied, error) {
	h := f.st.Height + 1
	a, err := f.m.Apply(f.st, f.kv, block)
	if err != nil {
		return nil, fmt.Errorf("%w: height %d: %w", ErrBlock, h, err)
	}
	if err := checkCertificate(f.g, f.m.Validators(), h, a.Hash, cert); err != nil {
		return nil, err
	}
	f.kv.Write(a.Writes)
	f.st = a.State
	return a, nil
}

// State is the state after the last verified block.
func (f *Follower) State() *chain.State { return f.st }

// Height is the last verified block's height (0 at the start).
func (f *Follower) Height() uint64 { return f.st.Height }

// Machine is the election's state machine.
func (f *Follower) Machine() *chain.Machine { return f.m }

// Genesis is the genesis the follower started from.
func (f *Follower) Genesis() *genesis.Genesis { return f.g }

// Election is the ballot-level election, with the key the verified setup
// blocks produced; ErrKeyNotReady before them.
func (f *Follower) Election() (*ballot.Election, error) {
	if f.st.Key == nil {
		return nil, ErrKeyNotReady
	}
	return f.m.Election(f.st)
}

// Block is one block with its certificate, as a station sends it.
type Block struct {
	Height             uint64
	Block, Certificate []byte
}

// Source fetches committed blocks from height from on: a batch (possibly
// empty) and the source's head height. A client protocol connection is one,
// through a few lines of adapter.
type Source func(ctx context.Context, from uint64) (blocks []Block, head uint64, err error)

// Follow applies the source's blocks from the follower's height on, after
// each asking stop (nil: never). It returns true when stop said so, false
// when the source had no more blocks.
func (f *Follower) Follow(ctx context.Context, src Source, stop func(*chain.State) bool) (bool, error) {
	if stop != nil && stop(f.st) {
		return true, nil
	}
	for {
		from := f.Height() + 1
		blocks, head, err := src(ctx, from)
		if err != nil {
			return false, err
		}
		if len(blocks) == 0 {
			if head >= from {
				return false, fmt.Errorf("%w: no block %d though its head is %d", ErrSource, from, head)
			}
			return false, nil
		}
		for _, b := range blocks {
			if b.Height != f.Height()+1 {
				return false, fmt.Errorf("%w: block %d where %d was due", ErrSource, b.Height, f.Height()+1)
			}
			if _, err := f.Apply(b.Block, b.Certificate); err != nil {
				return false, err
			}
			if stop != nil && stop(f.st) {
				return true, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
	}
}

// ElectionKey replays the setup blocks from a source, checking every one,
// until the election key is on the chain, and returns the election with
// that key and the follower (at the block that made the key final, ready to
// follow on). ErrKeyNotReady if the source's chain has no key yet.
func ElectionKey(ctx context.Context, g *genesis.Genesis, rollFile []byte, src Source) (*ballot.Election, *Follower, error) {
	f, err := NewFollower(g, rollFile)
	if err != nil {
		return nil, nil, err
	}
	ready, err := f.Follow(ctx, src, func(st *chain.State) bool { return st.Key != nil })
	if err != nil {
		return nil, nil, err
	}
	if !ready {
		return nil, nil, ErrKeyNotReady
	}
	e, err := f.Election()
	if err != nil {
		return nil, nil, err
	}
	return e, f, nil
}
