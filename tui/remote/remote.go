// Package remote is the terminals' tui.Node over the client protocol: a
// net/api connection to one station, with everything a terminal can check
// checked here rather than taken on the station's word. The election key
// comes from the setup blocks replayed by chain/verify (every certificate
// checked against the genesis), and the results from the whole chain
// replayed the same way.
package remote

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/tui"
)

// Node is a connection to one station. Safe for concurrent use.
type Node struct {
	g *genesis.Genesis
	c *api.Client

	mu       sync.Mutex       // guards follower
	follower *verify.Follower // the verified chain so far, nil until the key is fetched
}

// Dial connects to station st of genesis g, pinning its public key.
func Dial(ctx context.Context, g *genesis.Genesis, st genesis.Station) (*Node, error) {
	c, err := api.Dial(ctx, st.Address, []ed25519.PublicKey{st.PublicKey}, nil)
	if err != nil {
		return nil, classify(err)
	}
	return New(g, c), nil
}

// Dialer is Dial as a tui.Dialer.
func Dialer(g *genesis.Genesis) tui.Dialer {
	return func(ctx context.Context, st genesis.Station) (tui.Node, error) {
		n, err := Dial(ctx, g, st)
		if err != nil {
			return nil, err
		}
		return n, nil
	}
}

// New wraps an open client connection to a station of g.
func New(g *genesis.Genesis, c *api.Client) *Node { return &Node{g: g, c: c} }

var _ tui.Node = (*Node)(nil)

// classify maps the client protocol's errors to the terminals' own.
func classify(err error) error {
	var rej *api.RejectedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rej):
		return &tui.Rejection{Rule: tui.Rule(rej.Rule), Message: rej.Message}
	case errors.Is(err, api.ErrBusy):
		return &tui.Rejection{Rule: tui.RuleMempoolFull, Message: err.Error()}
	case errors.Is(err, api.ErrProtocol):
		return fmt.Errorf("%w: %w", tui.ErrUntrusted, err)
	case errors.Is(err, verify.ErrKeyNotReady):
		return fmt.Errorf("%w: %w", tui.ErrKeyNotReady, err)
	case errors.Is(err, verify.ErrRoll), errors.Is(err, verify.ErrBlock),
		errors.Is(err, verify.ErrCertificate), errors.Is(err, verify.ErrSource):
		return fmt.Errorf("%w: %w", tui.ErrUntrusted, err)
	}
	// Unreachable, unavailable, timed out, or anything else the station
	// did not answer properly: another station may do better.
	return tagged{tui.ErrUnreachable, err}
}

// tagged is err, also matching tag with errors.Is, with err's own message
// (the client's errors already say "station cannot be reached").
type tagged struct{ tag, err error }

func (t tagged) Error() string   { return t.err.Error() }
func (t tagged) Unwrap() []error { return []error{t.tag, t.err} }

// Status implements tui.Node. A station serving another election is not
// to be trusted.
func (n *Node) Status(ctx context.Context) (tui.Status, error) {
	s, err := n.c.Status(ctx)
	if err != nil {
		return tui.Status{}, classify(err)
	}
	if s.Election != n.g.Fingerprint() {
		return tui.Status{}, fmt.Errorf("%w: the station serves election %x…, not this genesis", tui.ErrUntrusted, s.Election[:6])
	}
	out := tui.Status{
		Station: int(s.Station), Phase: chain.Phase(s.Phase), Height: s.Height, Round: s.Round,
		Mempool: int(s.Mempool), Counted: s.Counted, Spoiled: s.Spoiled, Turnout: s.Turnout,
		KeyReady: s.KeyReady,
	}
	if s.LastBlock != 0 {
		out.LastBlock = time.UnixMilli(s.LastBlock)
	}
	for _, p := range s.Peers {
		out.Peers = append(out.Peers, int(p))
	}
	for _, o := range s.OpenApprovals {
		out.OpenApprovals = append(out.OpenApprovals, int(o))
	}
	for _, o := range s.CloseApprovals {
		out.CloseApprovals = append(out.CloseApprovals, int(o))
	}
	return out, nil
}

// source is the station's certified blocks as chain/verify reads them.
func (n *Node) source(ctx context.Context, from uint64) ([]verify.Block, uint64, error) {
	bs, head, err := n.c.Blocks(ctx, from, 0)
	if err != nil {
		return nil, 0, err
	}
	out := make([]verify.Block, len(bs))
	for i, b := range bs {
		out[i] = verify.Block{Height: b.Height, Block: b.Block, Certificate: b.Certificate}
	}
	return out, head, nil
}

// ElectionKey implements tui.Node: it fetches the voter roll (checked
// against the genesis) and replays the certified setup blocks until the
// key is final, checking every block and certificate.
func (n *Node) ElectionKey(ctx context.Context) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.follower == nil {
		roll, err := n.c.Roll(ctx)
		if err != nil {
			return nil, classify(err)
		}
		_, f, err := verify.ElectionKey(ctx, n.g, roll, n.source)
		if err != nil {
			return nil, classify(err)
		}
		n.follower = f
	}
	e, err := n.follower.Election()
	if err != nil {
		return nil, classify(err)
	}
	return e.KeyBytes[:], nil
}

// Submit implements tui.Node.
func (n *Node) Submit(ctx context.Context, tx []byte) (tui.Receipt, error) {
	r, err := n.c.Submit(ctx, tx)
	if err != nil {
		return tui.Receipt{}, classify(err)
	}
	return tui.Receipt{Hash: r.Hash, Committed: r.Committed, Height: r.Height}, nil
}

// WaitCommitted implements tui.Node.
func (n *Node) WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error) {
	h, err := n.c.WaitCommitted(ctx, hash)
	return h, classify(err)
}

// Tracking implements tui.Node.
func (n *Node) Tracking(ctx context.Context, code string) (tui.Tracking, error) {
	t, err := n.c.Tracking(ctx, code)
	if err != nil {
		return tui.Tracking{}, classify(err)
	}
	return tui.Tracking{Status: chain.TrackingStatus(t.Status), Height: t.Height}, nil
}

// Events implements tui.Node.
func (n *Node) Events(ctx context.Context) (<-chan tui.Event, error) {
	in, err := n.c.Events(ctx)
	if err != nil {
		return nil, classify(err)
	}
	out := make(chan tui.Event, 16)
	go func() {
		defer close(out)
		for ev := range in {
			select {
			case out <- tui.Event{Height: ev.Height, Phase: chain.Phase(ev.Phase), Txs: int(ev.Txs), Counted: ev.Counted}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Results implements tui.Node: it replays the whole certified chain from
// where it got to (every ballot proof, every decryption share) and reads
// the tally from the state it computed itself.
func (n *Node) Results(ctx context.Context) (tui.Results, error) {
	if _, err := n.ElectionKey(ctx); err != nil {
		if errors.Is(err, tui.ErrKeyNotReady) {
			return tui.Results{}, tui.ErrNotTallied
		}
		return tui.Results{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	tallied := func(st *chain.State) bool { return st.Phase == chain.PhaseTallied }
	if _, err := n.follower.Follow(ctx, n.source, tallied); err != nil {
		return tui.Results{}, classify(err)
	}
	st := n.follower.State()
	if st.Phase != chain.PhaseTallied {
		return tui.Results{}, tui.ErrNotTallied
	}
	if st.TallyError != "" {
		return tui.Results{}, fmt.Errorf("%w: the tally failed on the chain: %s", tui.ErrUntrusted, st.TallyError)
	}
	return tui.Results{Height: st.TallyHeight, Counts: st.Result}, nil
}

// Close implements tui.Node.
func (n *Node) Close() error { return n.c.Close() }
