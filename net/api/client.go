package api

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urna-vote/urna/net/endpoint"
	"github.com/urna-vote/urna/net/frame"
)

// Options tune a Client. The zero value is fine.
type Options struct {
	// MaxReply is the largest reply frame the client reads (default 80 MiB:
	// a block of the largest size a genesis allows, with its certificate).
	MaxReply int
	// QUIC is the connection's QUIC configuration (default: keep-alives
	// every 5 s, 20 s idle timeout).
	QUIC *quic.Config
}

// Client is a connection to one station. Its methods are safe for
// concurrent use; each request is its own QUIC stream, so a long wait
// (SubmitAndWait, Events) does not hold up other requests.
type Client struct {
	conn     *quic.Conn
	station  int
	maxReply int
}

// Dial connects to the station at addr. keys are the station keys the
// client accepts: the one station it means to reach, or every station of
// the genesis when the address alone does not say which one it is (behind
// a port mapping, say). The TLS handshake proves the station holds the key;
// Station tells which of keys it was. Dial fails with ErrUnreachable when
// no station answers, or when the one that answers holds none of the keys.
func Dial(ctx context.Context, addr string, keys []ed25519.PublicKey, opts *Options) (*Client, error) {
	if len(keys) == 0 {
		return nil, errors.New("api: Dial needs the station keys to pin")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxReply <= 0 {
		o.MaxReply = 80 << 20
	}
	if o.QUIC == nil {
		o.QUIC = &quic.Config{
			HandshakeIdleTimeout: 5 * time.Second,
			MaxIdleTimeout:       20 * time.Second,
			KeepAlivePeriod:      5 * time.Second,
			MaxIncomingStreams:   -1, // a station never opens streams to a client
		}
	}
	conn, err := quic.DialAddr(ctx, addr, endpoint.ClientTLS(ALPN, keys, nil), o.QUIC)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	c := &Client{conn: conn, station: -1, maxReply: o.MaxReply}
	k := endpoint.PeerKey(conn)
	for i, want := range keys {
		if k.Equal(want) {
			c.station = i
		}
	}
	return c, nil
}

// Station is the index, in the keys given to Dial, of the key the station
// proved it holds.
func (c *Client) Station() int { return c.station }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.CloseWithError(0, "") }

// call is one request stream.
type call struct {
	c    *Client
	st   *quic.Stream
	r    *frame.Reader
	stop func() bool
}

// open sends a request and returns the stream to read its replies from.
// The stream is cancelled when ctx is done.
func (c *Client) open(ctx context.Context, op byte, body any) (*call, error) {
	st, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	stop := context.AfterFunc(ctx, func() {
		st.CancelRead(0)
		st.CancelWrite(0)
	})
	if err := frame.Write(st, encode(op, body)); err != nil {
		stop()
		st.CancelRead(0)
		return nil, c.streamErr(ctx, err)
	}
	st.Close()
	return &call{c: c, st: st, r: frame.NewReader(st, c.maxReply), stop: stop}, nil
}

func (k *call) done() {
	k.stop()
	k.st.CancelRead(0)
}

// streamErr classifies a failure on a stream.
func (c *Client) streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, frame.ErrTooLarge) || errors.Is(err, frame.ErrTruncated) {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// next reads the next reply; an error reply becomes the error; a clean end
// of the stream is io.EOF.
func (k *call) next(ctx context.Context) (*reply, error) {
	p, err := k.r.Next()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, k.c.streamErr(ctx, err)
	}
	r, err := decodeReply(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if r.typ == replyError {
		return nil, errorOf(&r.err)
	}
	return r, nil
}

// expect reads the next reply and checks its type.
func (k *call) expect(ctx context.Context, typ byte) (*reply, error) {
	r, err := k.next(ctx)
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the station closed the stream without an answer", ErrProtocol)
	}
	if err != nil {
		return nil, err
	}
	if r.typ != typ {
		return nil, fmt.Errorf("%w: reply type %#x, want %#x", ErrProtocol, r.typ, typ)
	}
	return r, nil
}

// Status asks for the station's summary (its word: see Status).
func (c *Client) Status(ctx context.Context) (*Status, error) {
	k, err := c.open(ctx, opStatus, &emptyBody{})
	if err != nil {
		return nil, err
	}
	defer k.done()
	r, err := k.expect(ctx, replyStatus)
	if err != nil {
		return nil, err
	}
	return &r.status, nil
}

// Submit sends a transaction (its canonical bytes). It returns once the
// station has accepted it into its mempool (Receipt.Committed false) or
// found it already committed; a refusal is a *RejectedError naming the
// rule. Submitting the same bytes again, here or at another station, is
// safe.
func (c *Client) Submit(ctx context.Context, tx []byte) (Receipt, error) {
	return c.submit(ctx, tx, false, nil)
}

// SubmitAndWait sends a transaction and waits on the same stream until it
// is committed: accepted, if not nil, is called once with the station's
// first answer (accepted, or already committed), and the returned Receipt
// has Committed and Height set.
func (c *Client) SubmitAndWait(ctx context.Context, tx []byte, accepted func(Receipt)) (Receipt, error) {
	return c.submit(ctx, tx, true, accepted)
}

func (c *Client) submit(ctx context.Context, tx []byte, wait bool, accepted func(Receipt)) (Receipt, error) {
	k, err := c.open(ctx, opSubmit, &submitBody{Tx: tx, Wait: wait})
	if err != nil {
		return Receipt{}, err
	}
	defer k.done()
	r, err := k.expect(ctx, replyAccepted)
	if err != nil {
		return Receipt{}, err
	}
	rc := r.receipt
	if rc.Hash != sha256.Sum256(tx) {
		return Receipt{}, fmt.Errorf("%w: receipt for another transaction (%x…)", ErrProtocol, rc.Hash[:6])
	}
	if accepted != nil {
		accepted(rc)
	}
	if !wait || rc.Committed {
		return rc, nil
	}
	r, err = k.expect(ctx, replyCommitted)
	if err != nil {
		return rc, err
	}
	rc.Committed, rc.Height = true, r.committed.Height
	return rc, nil
}

// WaitCommitted waits until the transaction with this hash (SHA-256 of its
// bytes) is committed at this station and returns the height. It waits as
// long as ctx allows, even for a transaction the station never saw.
func (c *Client) WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error) {
	k, err := c.open(ctx, opWait, &waitBody{Hash: hash})
	if err != nil {
		return 0, err
	}
	defer k.done()
	r, err := k.expect(ctx, replyCommitted)
	if err != nil {
		return 0, err
	}
	return r.committed.Height, nil
}

// Blocks fetches committed blocks with their certificates, from height
// from (≥ 1) to height to (0: the station's head), in order. A station
// answers a bounded batch at a time: Blocks returns that batch and the
// station's head, and the caller asks again from the next height until it
// reaches what it wants. The blocks are the station's word until checked
// (chain/verify).
func (c *Client) Blocks(ctx context.Context, from, to uint64) ([]Block, uint64, error) {
	k, err := c.open(ctx, opBlocks, &blocksBody{From: from, To: to})
	if err != nil {
		return nil, 0, err
	}
	defer k.done()
	var out []Block
	for {
		r, err := k.next(ctx)
		if err == io.EOF {
			return nil, 0, fmt.Errorf("%w: block list without an end", ErrProtocol)
		}
		if err != nil {
			return nil, 0, err
		}
		switch r.typ {
		case replyBlock:
			if want := from + uint64(len(out)); r.block.Height != want || (to != 0 && want > to) {
				return nil, 0, fmt.Errorf("%w: block of height %d where %d was due", ErrProtocol, r.block.Height, want)
			}
			out = append(out, r.block)
		case replyEnd:
			if n := uint64(len(out)); n > 0 && from+n-1 > r.end.Head {
				return nil, 0, fmt.Errorf("%w: head %d below the blocks sent", ErrProtocol, r.end.Head)
			}
			return out, r.end.Head, nil
		default:
			return nil, 0, fmt.Errorf("%w: reply type %#x in a block list", ErrProtocol, r.typ)
		}
	}
}

// Tracking looks up a tracking code on the station's chain. A code that is
// not there is no error: Status is 0.
func (c *Client) Tracking(ctx context.Context, code string) (Tracking, error) {
	k, err := c.open(ctx, opTracking, &trackingBody{Code: code})
	if err != nil {
		return Tracking{}, err
	}
	defer k.done()
	r, err := k.expect(ctx, replyTracking)
	if err != nil {
		return Tracking{}, err
	}
	return r.tracking, nil
}

// Events streams one Event per block the station commits from now on,
// until ctx is done or the connection breaks; then the channel is closed.
// A client that does not keep up may miss events (heights tell).
func (c *Client) Events(ctx context.Context) (<-chan Event, error) {
	k, err := c.open(ctx, opEvents, &emptyBody{})
	if err != nil {
		return nil, err
	}
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		defer k.done()
		for {
			r, err := k.next(ctx)
			if err != nil || r.typ != replyEvent {
				return
			}
			select {
			case out <- r.event:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Roll fetches the voter roll file. It is the station's word until checked
// against the genesis's roll hash (chain/verify does).
func (c *Client) Roll(ctx context.Context) ([]byte, error) {
	k, err := c.open(ctx, opRoll, &emptyBody{})
	if err != nil {
		return nil, err
	}
	defer k.done()
	var roll []byte
	for {
		r, err := k.next(ctx)
		if err == io.EOF {
			return nil, fmt.Errorf("%w: roll without an end", ErrProtocol)
		}
		if err != nil {
			return nil, err
		}
		switch r.typ {
		case replyChunk:
			if len(roll)+len(r.chunk.Data) > c.maxReply*16 {
				return nil, fmt.Errorf("%w: roll larger than %d bytes", ErrProtocol, c.maxReply*16)
			}
			roll = append(roll, r.chunk.Data...)
		case replyEnd:
			return roll, nil
		default:
			return nil, fmt.Errorf("%w: reply type %#x in the roll", ErrProtocol, r.typ)
		}
	}
}
