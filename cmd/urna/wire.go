package main

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/station"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/net/mesh"
)

// meshChannels are the mesh's channels for an election: the frame limits
// follow from the genesis's block size, the rates are generous for honest
// stations (a station sends its Have every tick and on each round change and
// commit, re-sends a peer at most 256 consensus messages a tick, and gossips
// every ballot once) and far below what a flood needs. In delivery priority
// order: votes, then Haves, before transactions before block sync.
func meshChannels(p genesis.Params) []mesh.Channel {
	msg := min(p.MaxBlockBytes+128<<10, bft.MaxMessageBytes)
	sync := min(p.MaxBlockBytes+256<<10, bft.MaxMessageBytes) + 1 // the decision marker byte
	return []mesh.Channel{
		{ID: uint8(station.ChannelConsensus), Name: "consensus", MaxFrame: msg,
			SendQueue: 1024, RecvQueue: 4096, Rate: 500, Burst: 2000,
			ByteRate: 64 << 20, ByteBurst: float64(4 * msg), Urgency: 0},
		{ID: uint8(station.ChannelState), Name: "state", MaxFrame: bft.MaxHaveBytes,
			SendQueue: 64, RecvQueue: 1024, Rate: 200, Burst: 1000,
			ByteRate: 4 << 20, ByteBurst: 16 << 20, Urgency: 1},
		{ID: uint8(station.ChannelGossip), Name: "gossip", MaxFrame: chain.MaxTxSize,
			SendQueue: 8192, RecvQueue: 8192, Rate: 5000, Burst: 20000,
			ByteRate: 64 << 20, ByteBurst: 128 << 20, Urgency: 3},
		{ID: uint8(station.ChannelSync), Name: "sync", MaxFrame: sync,
			SendQueue: 64, RecvQueue: 256, Rate: 200, Burst: 500,
			ByteRate: 128 << 20, ByteBurst: float64(40 * sync), Urgency: 6},
	}
}

// meshTransport is the engine's station.Transport over the mesh.
type meshTransport struct {
	m    *mesh.Mesh
	in   chan station.Packet
	stop chan struct{}
	done chan struct{}
}

func newMeshTransport(m *mesh.Mesh) *meshTransport {
	t := &meshTransport{m: m, in: make(chan station.Packet, 256), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for {
			select {
			case p := <-m.Receive():
				select {
				case t.in <- station.Packet{From: p.From, Channel: station.Channel(p.Channel), Data: p.Data}:
				case <-t.stop:
					return
				}
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (t *meshTransport) Send(to int, ch station.Channel, data []byte) { t.m.Send(to, uint8(ch), data) }
func (t *meshTransport) Broadcast(ch station.Channel, data []byte)    { t.m.Broadcast(uint8(ch), data) }
func (t *meshTransport) Receive() <-chan station.Packet               { return t.in }
func (t *meshTransport) Peers() []int                                 { return t.m.Peers() }

func (t *meshTransport) close() {
	close(t.stop)
	<-t.done
}

// backend is the client protocol's api.Backend over a station engine.
type backend struct {
	e       *station.Engine
	g       *genesis.Genesis
	roll    []byte
	metrics *nodeMetrics
}

var _ api.Backend = (*backend)(nil)

// ruleOf names the rule a refused transaction breaks: the chain's rules,
// then the station's own admission limits.
func ruleOf(err error) string {
	if n := chain.RuleName(err); n != "" {
		return n
	}
	switch {
	case errors.Is(err, station.ErrPendingVoter):
		return "pending-voter"
	case errors.Is(err, station.ErrMempoolFull):
		return "mempool-full"
	case errors.Is(err, station.ErrTooLarge):
		return "too-large"
	}
	return "other"
}

// forgedRules are the rules that no honest client's transaction breaks:
// it does not decode, or a proof or signature in it fails. (A voter who
// votes twice or mistypes a voting code is honest; a terminal that sends a
// ballot whose proofs fail is not.) A connection that sends a few is cut
// off (api.RejectedError.Forged).
var forgedRules = map[string]bool{
	chain.RuleName(chain.ErrBadBallot): true, chain.RuleName(chain.ErrBadPayload): true,
	chain.RuleName(chain.ErrTxEncoding): true, chain.RuleName(chain.ErrBadTxSignature): true,
	chain.RuleName(chain.ErrUnknownKind): true,
}

// refusal turns the engine's error into the client protocol's.
func (b *backend) refusal(err error) error {
	if errors.Is(err, station.ErrRejected) {
		rule := ruleOf(err)
		b.metrics.rejections.WithLabelValues(rule).Inc()
		return &api.RejectedError{Rule: rule, Message: err.Error(), Forged: forgedRules[rule]}
	}
	if errors.Is(err, station.ErrStopped) {
		return fmt.Errorf("%w: station stopping", api.ErrUnavailable)
	}
	return err
}

func (b *backend) Status(context.Context) (*api.Status, error) {
	s := b.e.Status()
	st := b.e.Ledger().State()
	out := &api.Status{
		Election: b.g.Fingerprint(), Station: uint32(s.Station), Phase: uint8(s.Phase),
		Height: s.Height, Round: s.Round, Mempool: uint32(s.Mempool),
		Counted: s.Counted, Spoiled: s.Spoiled, Turnout: s.Turnout, KeyReady: s.KeyReady,
		Result: s.Result, LastBlock: st.Time,
		OpenApprovals: setBits(st.OpenApprovals), CloseApprovals: setBits(st.CloseApprovals),
	}
	for _, p := range s.Peers {
		out.Peers = append(out.Peers, uint32(p))
	}
	return out, nil
}

// setBits lists the set bits of a bit set (officials by index).
func setBits(set uint64) []uint32 {
	var out []uint32
	for set != 0 {
		i := bits.TrailingZeros64(set)
		out = append(out, uint32(i))
		set &^= 1 << i
	}
	return out
}

func (b *backend) Submit(ctx context.Context, tx []byte) (api.Receipt, error) {
	start := time.Now()
	r, err := b.e.Submit(ctx, tx)
	b.metrics.verify.Observe(time.Since(start).Seconds())
	if err != nil {
		return api.Receipt{}, b.refusal(err)
	}
	return api.Receipt{Hash: r.Hash, Committed: r.Committed, Height: r.Height}, nil
}

func (b *backend) WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error) {
	start := time.Now()
	h, err := b.e.WaitCommitted(ctx, hash)
	if err != nil {
		return 0, b.refusal(err)
	}
	b.metrics.commitWait.Observe(time.Since(start).Seconds())
	return h, nil
}

func (b *backend) Head() uint64 { return b.e.Ledger().Height() }

func (b *backend) Block(h uint64) ([]byte, []byte, error) {
	blk, err := b.e.Ledger().Block(h)
	if err != nil {
		return nil, nil, err
	}
	cert, err := b.e.Ledger().Store().Certificate(h)
	if err != nil {
		return nil, nil, err
	}
	return blk, cert, nil
}

func (b *backend) Tracking(_ context.Context, code string) (api.Tracking, error) {
	if _, err := ballot.TrackingKey(code); err != nil {
		return api.Tracking{}, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	e, found, err := b.e.Tracking(code)
	if err != nil {
		return api.Tracking{}, err
	}
	if !found {
		return api.Tracking{}, nil
	}
	return api.Tracking{Status: uint8(e.Status), Height: e.Height, Position: e.Position, BallotHash: e.BallotHash}, nil
}

func (b *backend) Subscribe() (<-chan api.Event, func()) {
	in, stop := b.e.Subscribe()
	out := make(chan api.Event, 64)
	quit := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- api.Event{Height: ev.Height, Phase: uint8(ev.Phase), Txs: uint32(ev.Txs), Counted: ev.Counted}:
				default: // a slow subscriber misses events
				}
			case <-quit:
				return
			}
		}
	}()
	return out, func() {
		stop()
		close(quit)
	}
}

func (b *backend) Roll() []byte { return b.roll }
