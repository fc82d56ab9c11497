// Package tui holds what the voter terminal (tui/vote) and the officials'
// console (tui/official) share: the Node interface through which they reach
// a station, the named rules a station can reject a transaction for, and the
// one styles file.
//
// The screens never talk to the network themselves. They are given a Node
// (the client protocol in production, an in-memory tuitest.Fake in tests)
// and call it only from tea.Cmd functions, never from Update or View.
package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
)

// Node is what the terminals need of one station, through the client
// protocol. Every method may block on the network; callers run them in
// commands with a context that bounds the wait.
//
// An implementation returns errors that wrap ErrUnreachable when the station
// could not be reached or the connection broke (the screens then offer
// another station of the genesis), a *Rejection when the station refused a
// transaction for a rule of the election, and ErrUntrusted when an answer
// failed verification against the genesis.
type Node interface {
	// Status is the station's view of the election: a summary for screens,
	// not a fact the terminal relies on for anything it can check itself.
	Status(ctx context.Context) (Status, error)

	// ElectionKey returns the 32-byte election public key. The
	// implementation must take it from blocks whose commit certificates
	// verify against the genesis (the block that made the DKG result final),
	// never from the station's word; it wraps ErrUntrusted when they do not
	// verify, and ErrKeyNotReady before the key ceremony has finished.
	ElectionKey(ctx context.Context) ([]byte, error)

	// Submit sends a transaction's canonical bytes. It returns once the
	// station has accepted it into its mempool (Receipt.Committed false) or
	// found it already in a block (Committed true, Height set); a refusal is
	// a *Rejection. Submitting the same bytes again, to this or another
	// station, is safe: a station answers with the same receipt.
	Submit(ctx context.Context, tx []byte) (Receipt, error)

	// WaitCommitted waits until the transaction with this hash (SHA-256 of
	// its bytes) is in a committed block and returns the block's height, or
	// returns a *Rejection if the station dropped it.
	WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error)

	// Tracking looks up a tracking code (in canonical form) on the chain.
	// A code that is not on the chain is not an error: Status is 0.
	Tracking(ctx context.Context, code string) (Tracking, error)

	// Events streams one Event per committed block until ctx is done or the
	// connection breaks, when the channel is closed.
	Events(ctx context.Context) (<-chan Event, error)

	// Results returns the tally once the election is TALLIED, verified by
	// the implementation from the certified chain (every ballot proof and
	// decryption share re-checked), never taken from the station's word;
	// ErrNotTallied before that.
	Results(ctx context.Context) (Results, error)

	// Close ends the connection.
	Close() error
}

// Dialer connects to a station of the genesis, pinning its public key. The
// command layer supplies it; the voter terminal uses it to retry at another
// station when one cannot be reached.
type Dialer func(ctx context.Context, st genesis.Station) (Node, error)

// Errors a Node wraps.
var (
	ErrUnreachable = errors.New("station cannot be reached")
	ErrUntrusted   = errors.New("station's answer does not verify against the genesis")
	ErrKeyNotReady = errors.New("election key is not ready yet")
	ErrNotTallied  = errors.New("election is not tallied yet")
)

// Status is a station's summary of the election.
type Status struct {
	Station   int // index in the genesis of the station answering
	Phase     chain.Phase
	Height    uint64
	Round     uint32
	LastBlock time.Time // time of the last committed block; zero before the first
	Peers     []int     // indices of the stations it is connected to
	Mempool   int       // transactions waiting for a block
	Counted   uint64    // ballots counted
	Spoiled   uint64    // ballots challenged
	Turnout   []uint64  // ballots counted per station, by station index
	KeyReady  bool      // the station holds a key share that matches the election key
	// Officials (by index in the genesis) whose approvals to open and to
	// close the polls are on the chain.
	OpenApprovals, CloseApprovals []int
}

// Receipt is a station's answer to Submit.
type Receipt struct {
	Hash      [32]byte // SHA-256 of the transaction bytes
	Committed bool     // already in a block
	Height    uint64   // that block, when Committed
}

// Tracking is what the chain holds for a tracking code.
type Tracking struct {
	Status chain.TrackingStatus // 0 when the code is not on the chain
	Height uint64               // the block that holds the ballot
}

// Event is one committed block.
type Event struct {
	Height  uint64
	Phase   chain.Phase
	Txs     int
	Counted uint64
}

// Results is a verified tally.
type Results struct {
	Height uint64     // the block that completed the tally
	Counts [][]uint64 // votes per contest, per candidate, in genesis order
}

// Rejection is a station's refusal of a transaction: the rule it breaks and
// the station's own message.
type Rejection struct {
	Rule    Rule
	Message string
}

func (r *Rejection) Error() string {
	if r.Message == "" {
		return fmt.Sprintf("rejected: %s", r.Rule)
	}
	return fmt.Sprintf("rejected (%s): %s", r.Rule, r.Message)
}
