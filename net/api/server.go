package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urna-vote/urna/net/endpoint"
	"github.com/urna-vote/urna/net/frame"
	"github.com/urna-vote/urna/net/limit"
)

// Backend is what a station node offers clients; the node implements it
// over its engine. Errors choose the reply: a *RejectedError names the rule
// a transaction breaks; an error wrapping ErrInvalid says an argument is
// invalid; ErrBusy asks to retry; anything else is ErrUnavailable.
type Backend interface {
	// Status is the station's summary.
	Status(ctx context.Context) (*Status, error)
	// Submit checks a transaction and, if valid, takes it in; it returns
	// once the transaction is accepted or found committed.
	Submit(ctx context.Context, tx []byte) (Receipt, error)
	// WaitCommitted waits until the transaction with this hash is
	// committed and returns the height.
	WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error)
	// Head is the height of the last committed block.
	Head() uint64
	// Block returns a committed block and its certificate, canonical bytes.
	Block(height uint64) (block, cert []byte, err error)
	// Tracking looks up a tracking code.
	Tracking(ctx context.Context, code string) (Tracking, error)
	// Subscribe returns committed-block events and a function that stops
	// them; the channel is closed when the station stops. A subscriber
	// that does not keep up may miss events.
	Subscribe() (<-chan Event, func())
	// Roll is the voter roll file (its hash is in the genesis).
	Roll() []byte
}

// Limits bound what one client connection can make a station do. Zero
// fields take the defaults in brackets.
type Limits struct {
	// MaxRequest is the largest request frame [4 MiB]; a larger one cuts
	// the connection off.
	MaxRequest int
	// Rate and Burst bound requests per second per connection [50, 100];
	// ByteRate and ByteBurst request bytes per second [8 MiB, 32 MiB]. A
	// request above the rate is answered "busy"; a client that keeps
	// flooding is cut off.
	Rate, Burst, ByteRate, ByteBurst float64
	// MaxMalformed is how many malformed requests, and forged
	// transactions (RejectedError.Forged), a connection may send before it
	// is cut off [3].
	MaxMalformed int
	// MaxConns bounds concurrent client connections [256]. (Concurrent
	// requests per connection are bounded by the endpoint's QUIC stream
	// limit.)
	MaxConns int
	// RequestTimeout bounds the wait for a whole request [10 s];
	// WriteTimeout one reply frame's write [30 s].
	RequestTimeout, WriteTimeout time.Duration
	// MaxBlocks and MaxBlockBytes bound one Blocks answer [64, 16 MiB];
	// the client asks again for the rest.
	MaxBlocks, MaxBlockBytes int
	// RollChunk is the size of the roll's chunks [1 MiB].
	RollChunk int
}

func (l *Limits) fill() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxRequest, 4<<20)
	deff(&l.Rate, 50)
	deff(&l.Burst, 100)
	deff(&l.ByteRate, 8<<20)
	deff(&l.ByteBurst, 32<<20)
	def(&l.MaxMalformed, 3)
	def(&l.MaxConns, 256)
	def(&l.MaxBlocks, 64)
	def(&l.MaxBlockBytes, 16<<20)
	def(&l.RollChunk, 1<<20)
	if l.RequestTimeout <= 0 {
		l.RequestTimeout = 10 * time.Second
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 30 * time.Second
	}
}

// ServerConfig configures a Server.
type ServerConfig struct {
	Backend Backend
	Limits  Limits
	Logger  *slog.Logger
	// Now is the clock of the rate limits (nil: time.Now).
	Now func() time.Time
}

// Server serves the client protocol on a node's endpoint.
type Server struct {
	cfg    ServerConfig
	b      Backend
	log    *slog.Logger
	counts serverCounts

	mu     sync.Mutex
	conns  map[*quic.Conn]struct{}
	closed bool
	active sync.WaitGroup // connections being served
}

// NewServer registers the client protocol on an endpoint.
func NewServer(ep *endpoint.Endpoint, cfg ServerConfig) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("api: server without a backend")
	}
	cfg.Limits.fill()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, b: cfg.Backend, log: cfg.Logger, conns: map[*quic.Conn]struct{}{}}
	err := ep.Register(&endpoint.Protocol{
		ALPN:     ALPN,
		Handle:   s.handle,
		MaxConns: cfg.Limits.MaxConns,
		Busy:     func() { s.counts.cut[cutBusy].Add(1) },
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes every client connection, refuses new ones, and waits until
// no request is being served (so the backend may be closed after it).
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*quic.Conn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.CloseWithError(endpoint.CodeShutdown, "station stopping")
	}
	s.active.Wait()
}

// conn is one client connection's state.
type conn struct {
	s         *Server
	qc        *quic.Conn
	frames    *limit.Bucket
	bytes     *limit.Bucket
	malformed atomic.Int32
}

func (s *Server) handle(qc *quic.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		qc.CloseWithError(endpoint.CodeShutdown, "station stopping")
		return
	}
	s.conns[qc] = struct{}{}
	s.active.Add(1)
	s.mu.Unlock()
	defer s.active.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, qc)
		s.mu.Unlock()
	}()
	l := &s.cfg.Limits
	c := &conn{s: s, qc: qc,
		frames: limit.New(l.Rate, l.Burst, s.cfg.Now),
		bytes:  limit.New(l.ByteRate, l.ByteBurst, s.cfg.Now),
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st, err := qc.AcceptStream(qc.Context())
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serve(st)
		}()
	}
}

// cut closes a client's connection for misbehaviour and counts it.
func (c *conn) cut(reason int, code quic.ApplicationErrorCode, why string) {
	c.s.counts.cut[reason].Add(1)
	c.s.log.Warn("cutting off a client", "addr", c.qc.RemoteAddr(), "reason", cutNames[reason], "detail", why)
	c.qc.CloseWithError(code, why)
}

// serve answers one request stream.
func (c *conn) serve(st *quic.Stream) {
	s := c.s
	defer st.Close()
	st.SetReadDeadline(time.Now().Add(s.cfg.Limits.RequestTimeout))
	p, err := frame.NewReader(st, s.cfg.Limits.MaxRequest).Next()
	switch {
	case errors.Is(err, frame.ErrTooLarge):
		c.cut(cutOversized, endpoint.CodeOversized, err.Error())
		return
	case errors.Is(err, frame.ErrTruncated), errors.Is(err, io.EOF):
		c.malformedRequest(st, "request: "+err.Error())
		return
	case err != nil:
		// A deadline or the connection's end: nothing to answer.
		if c.qc.Context().Err() == nil {
			s.counts.cut[cutTimeout].Add(1)
			st.CancelRead(0)
			st.CancelWrite(0)
		}
		return
	}
	st.CancelRead(0) // nothing more is read from a request stream
	switch max(c.frames.Take(1), c.bytes.Take(float64(len(p)))) {
	case limit.Cut:
		c.cut(cutFlood, endpoint.CodeFlood, "far above the request rate limit")
		return
	case limit.Drop:
		c.writeError(st, &errorBody{Code: CodeBusy, Message: "over the request rate limit; slow down"})
		return
	}
	req, err := decodeRequest(p)
	if err != nil {
		c.malformedRequest(st, err.Error())
		return
	}
	s.counts.requests[req.op].Add(1)
	ctx := st.Context()
	switch req.op {
	case opStatus:
		c.status(ctx, st)
	case opSubmit:
		c.submit(ctx, st, &req.submit)
	case opWait:
		c.wait(ctx, st, req.wait.Hash)
	case opBlocks:
		c.blocks(st, &req.blocks)
	case opTracking:
		c.tracking(ctx, st, req.tracking.Code)
	case opEvents:
		c.events(ctx, st)
	case opRoll:
		c.roll(st)
	}
}

func (c *conn) malformedRequest(st *quic.Stream, why string) {
	c.writeError(st, &errorBody{Code: CodeMalformed, Message: why})
	c.countMalformed("too many malformed requests: " + why)
}

// countMalformed counts a malformed request or a forged transaction and
// cuts the connection off at MaxMalformed.
func (c *conn) countMalformed(why string) {
	if int(c.malformed.Add(1)) >= c.s.cfg.Limits.MaxMalformed {
		c.cut(cutGarbage, endpoint.CodeGarbage, why)
	}
}

// write writes one reply frame.
func (c *conn) write(st *quic.Stream, typ byte, body any) error {
	st.SetWriteDeadline(time.Now().Add(c.s.cfg.Limits.WriteTimeout))
	return frame.Write(st, encode(typ, body))
}

func (c *conn) writeError(st *quic.Stream, e *errorBody) {
	c.s.counts.errors[e.Code].Add(1)
	c.write(st, replyError, e)
}

func (c *conn) status(ctx context.Context, st *quic.Stream) {
	stat, err := c.s.b.Status(ctx)
	if err != nil {
		c.writeError(st, replyOf(err))
		return
	}
	c.write(st, replyStatus, stat)
}

func (c *conn) submit(ctx context.Context, st *quic.Stream, req *submitBody) {
	r, err := c.s.b.Submit(ctx, req.Tx)
	if err != nil {
		c.writeError(st, replyOf(err))
		if rej := (*RejectedError)(nil); errors.As(err, &rej) && rej.Forged {
			c.countMalformed("too many forged transactions: " + rej.Rule)
		}
		return
	}
	if err := c.write(st, replyAccepted, &r); err != nil || !req.Wait || r.Committed {
		return
	}
	c.wait(ctx, st, r.Hash)
}

func (c *conn) wait(ctx context.Context, st *quic.Stream, hash [32]byte) {
	h, err := c.s.b.WaitCommitted(ctx, hash)
	if err != nil {
		if ctx.Err() == nil {
			c.writeError(st, replyOf(err))
		}
		return
	}
	c.write(st, replyCommitted, &committedBody{Height: h})
}

func (c *conn) blocks(st *quic.Stream, req *blocksBody) {
	if req.From == 0 || (req.To != 0 && req.To < req.From) {
		c.writeError(st, &errorBody{Code: CodeInvalid, Message: fmt.Sprintf("block range %d..%d (heights start at 1)", req.From, req.To)})
		return
	}
	l := &c.s.cfg.Limits
	head := c.s.b.Head()
	last := head
	if req.To != 0 {
		last = min(last, req.To)
	}
	size := 0
	for h := req.From; h <= last && h < req.From+uint64(l.MaxBlocks) && size < l.MaxBlockBytes; h++ {
		b, cert, err := c.s.b.Block(h)
		if err != nil {
			c.writeError(st, replyOf(err))
			return
		}
		size += len(b) + len(cert)
		if err := c.write(st, replyBlock, &Block{Height: h, Block: b, Certificate: cert}); err != nil {
			return
		}
	}
	c.write(st, replyEnd, &endBody{Head: head})
}

func (c *conn) tracking(ctx context.Context, st *quic.Stream, code string) {
	t, err := c.s.b.Tracking(ctx, code)
	if err != nil {
		c.writeError(st, replyOf(err))
		return
	}
	c.write(st, replyTracking, &t)
}

func (c *conn) events(ctx context.Context, st *quic.Stream) {
	ch, stop := c.s.b.Subscribe()
	defer stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				c.writeError(st, &errorBody{Code: CodeUnavailable, Message: "station stopping"})
				return
			}
			if err := c.write(st, replyEvent, &ev); err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (c *conn) roll(st *quic.Stream) {
	r := c.s.b.Roll()
	n := c.s.cfg.Limits.RollChunk
	for len(r) > 0 {
		k := min(n, len(r))
		if err := c.write(st, replyChunk, &chunkBody{Data: r[:k]}); err != nil {
			return
		}
		r = r[k:]
	}
	c.write(st, replyEnd, &endBody{})
}

// Reasons a client connection is cut off (or refused).
const (
	cutOversized = iota
	cutGarbage
	cutFlood
	cutTimeout
	cutBusy
	numCuts
)

var cutNames = [numCuts]string{"oversized", "garbage", "flood", "timeout", "busy"}

type serverCounts struct {
	requests [256]atomic.Uint64
	errors   [256]atomic.Uint64
	cut      [numCuts]atomic.Uint64
}

// Counts are the server's counters.
type Counts struct {
	// Requests by type ("status", "submit", ...).
	Requests map[string]uint64
	// Errors answered, by code name ("malformed", "rejected", "busy",
	// "unavailable", "invalid").
	Errors map[string]uint64
	// Cut connections by reason ("oversized", "garbage", "flood",
	// "timeout"; "busy": refused for the connection limit; "timeout" also
	// counts requests that did not arrive in time).
	Cut map[string]uint64
}

var codeNames = map[uint8]string{
	CodeMalformed: "malformed", CodeRejected: "rejected", CodeBusy: "busy",
	CodeUnavailable: "unavailable", CodeInvalid: "invalid",
}

// Counts returns every counter, zero or not.
func (s *Server) Counts() Counts {
	c := Counts{Requests: map[string]uint64{}, Errors: map[string]uint64{}, Cut: map[string]uint64{}}
	for op, name := range opNames {
		c.Requests[name] = s.counts.requests[op].Load()
	}
	for code, name := range codeNames {
		c.Errors[name] = s.counts.errors[code].Load()
	}
	for i, name := range cutNames {
		c.Cut[name] = s.counts.cut[i].Load()
	}
	return c
}
