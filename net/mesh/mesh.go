// Package mesh is the station mesh: it moves (from, channel, bytes) between
// the stations of one election over QUIC, and knows nothing of elections.
// It is given the stations' Ed25519 keys and addresses, in index order, and
// a network id (the node passes the election fingerprint); the node wires
// it to the station engine's Transport.
//
// Connections. Between two stations there is one QUIC connection, dialled
// by the station with the lower index and re-dialled with backoff whenever
// it drops; the other side accepts it and replaces any older one. Both
// sides authenticate by TLS 1.3 with their Ed25519 keys: the dialer pins the
// key of the station it means to reach, the acceptor takes only keys of the
// configured stations, and the index a packet carries is the one of the key
// that connection proved. Keep-alives keep idle links up.
//
// Streams. Each side opens one unidirectional stream per channel it sends
// on, starting with the channel id (one byte), then length-prefixed frames
// (package frame) of at most the channel's limit. Stream 0 is the control
// stream: one hello frame (version, network id); nothing is delivered
// before the hello arrives. Streams have QUIC priorities by channel, and
// each channel has its own queues, so a block sync never delays a vote.
//
// Limits. Sends never block: each peer has a bounded queue per channel and
// a frame that does not fit is dropped (and counted); the consensus
// protocol re-sends what matters. Each peer has a token bucket per channel
// in frames and in bytes; frames above the rate are dropped, and a peer
// that keeps flooding is cut off, as is one that sends an oversized frame
// or bytes that break the protocol. A cut-off peer is refused for a while.
// Everything dropped or cut is counted (Counts).
package mesh

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urna-vote/urna/net/endpoint"
	"github.com/urna-vote/urna/net/frame"
	"github.com/urna-vote/urna/net/limit"
)

// ALPN is the mesh's TLS application protocol.
const ALPN = "urna-mesh/1"

// Peer is one station: its identity key and the address its node listens
// on.
type Peer struct {
	Key  ed25519.PublicKey
	Addr string
}

// Channel configures one channel.
type Channel struct {
	ID   uint8  // 1..15 (0 is the control stream)
	Name string // for logs and metrics
	// MaxFrame is the largest frame accepted or sent on the channel.
	MaxFrame int
	// SendQueue is how many frames may wait per peer (default 256), and
	// SendQueueBytes how many bytes (default 64 MiB or 4 frames, the
	// larger); RecvQueue and RecvQueueBytes bound the received frames
	// waiting for the node, from all peers together (defaults 1024 and
	// 256 MiB or 8 frames).
	SendQueue, RecvQueue           int
	SendQueueBytes, RecvQueueBytes int64
	// Rate and Burst bound a peer's frames per second; ByteRate and
	// ByteBurst its bytes per second.
	Rate, Burst, ByteRate, ByteBurst float64
	// Urgency is the QUIC stream priority (0 first, 7 last).
	Urgency int8
}

// Config configures a mesh.
type Config struct {
	// Self is this station's index in Peers.
	Self int
	// Peers are all the stations, in index order, this one included.
	Peers []Peer
	// Network identifies the election; a peer that greets with another
	// one is cut off.
	Network [32]byte
	// Channels, in delivery priority order: when the node is busy, frames
	// of earlier channels are delivered first.
	Channels []Channel
	Logger   *slog.Logger
	// Backoff between dials of a peer: from MinBackoff (default 200 ms),
	// doubling to MaxBackoff (default 5 s), with jitter.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds one dial (default 5 s). GreetTimeout bounds the
	// wait for a peer's hello and for its first bytes on a stream (default
	// 10 s). WriteTimeout bounds one frame's write to a peer that does not
	// read (default 10 s). Penalty is how long a cut-off peer is refused
	// (default 10 s).
	DialTimeout, GreetTimeout, WriteTimeout, Penalty time.Duration
	// Now is the clock of the rate limits (nil: time.Now).
	Now func() time.Time
}

// Packet is a frame received from a station.
type Packet struct {
	From    int // index of the station whose key the connection proved
	Channel uint8
	Data    []byte
}

// Mesh is a station's side of the mesh.
type Mesh struct {
	cfg    Config
	log    *slog.Logger
	ep     *endpoint.Endpoint
	byKey  map[string]int
	chans  map[uint8]int // channel id → index in cfg.Channels
	counts counters

	inbox  []chan Packet  // per channel
	queued []atomic.Int64 // bytes waiting in each inbox
	signal chan struct{}
	out    chan Packet

	mu     sync.Mutex
	links  []*link
	banned []time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Errors of configuration and of peers.
var (
	ErrConfig       = errors.New("mesh: invalid configuration")
	ErrNotAStation  = errors.New("key is not a station of this mesh")
	ErrWrongNetwork = errors.New("peer belongs to another network")
)

// New makes a station's mesh on an endpoint and registers its protocol
// there; Start begins dialling.
func New(ep *endpoint.Endpoint, cfg Config) (*Mesh, error) {
	if cfg.Self < 0 || cfg.Self >= len(cfg.Peers) {
		return nil, fmt.Errorf("%w: self %d of %d peers", ErrConfig, cfg.Self, len(cfg.Peers))
	}
	if !ep.Key().Public().(ed25519.PublicKey).Equal(cfg.Peers[cfg.Self].Key) {
		return nil, fmt.Errorf("%w: the endpoint's key is not peer %d's", ErrConfig, cfg.Self)
	}
	setDefault := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setDefault(&cfg.MinBackoff, 200*time.Millisecond)
	setDefault(&cfg.MaxBackoff, 5*time.Second)
	setDefault(&cfg.DialTimeout, 5*time.Second)
	setDefault(&cfg.GreetTimeout, 10*time.Second)
	setDefault(&cfg.WriteTimeout, 10*time.Second)
	setDefault(&cfg.Penalty, 10*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Mesh{
		cfg: cfg, log: cfg.Logger, ep: ep,
		byKey:  map[string]int{},
		chans:  map[uint8]int{},
		signal: make(chan struct{}, 1),
		out:    make(chan Packet, 256),
		links:  make([]*link, len(cfg.Peers)),
		banned: make([]time.Time, len(cfg.Peers)),
	}
	for i, p := range cfg.Peers {
		if len(p.Key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: peer %d has no Ed25519 key", ErrConfig, i)
		}
		if _, dup := m.byKey[string(p.Key)]; dup {
			return nil, fmt.Errorf("%w: peers %d and %d share a key", ErrConfig, m.byKey[string(p.Key)], i)
		}
		m.byKey[string(p.Key)] = i
	}
	m.cfg.Channels = slices.Clone(cfg.Channels)
	for i := range m.cfg.Channels {
		c := &m.cfg.Channels[i]
		if c.ID == 0 || c.ID > maxChannelID {
			return nil, fmt.Errorf("%w: channel id %d (1..%d)", ErrConfig, c.ID, maxChannelID)
		}
		if _, dup := m.chans[c.ID]; dup {
			return nil, fmt.Errorf("%w: channel %d twice", ErrConfig, c.ID)
		}
		if c.MaxFrame <= 0 || c.Rate <= 0 || c.Burst <= 0 || c.ByteRate <= 0 || c.ByteBurst <= 0 {
			return nil, fmt.Errorf("%w: channel %d needs a frame limit and rates", ErrConfig, c.ID)
		}
		if c.SendQueue <= 0 {
			c.SendQueue = 256
		}
		if c.RecvQueue <= 0 {
			c.RecvQueue = 1024
		}
		if c.SendQueueBytes <= 0 {
			c.SendQueueBytes = max(64<<20, 4*int64(c.MaxFrame))
		}
		if c.RecvQueueBytes <= 0 {
			c.RecvQueueBytes = max(256<<20, 8*int64(c.MaxFrame))
		}
		if c.Name == "" {
			c.Name = fmt.Sprintf("channel-%d", c.ID)
		}
		m.chans[c.ID] = i
		m.inbox = append(m.inbox, make(chan Packet, c.RecvQueue))
	}
	m.queued = make([]atomic.Int64, len(m.cfg.Channels))
	m.ctx, m.cancel = context.WithCancel(context.Background())
	err := ep.Register(&endpoint.Protocol{
		ALPN:      ALPN,
		Authorize: m.authorize,
		Handle:    m.accepted,
		MaxConns:  2 * len(cfg.Peers),
		Refused:   func(error) { m.counts.add(Refused, 0) },
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// authorize accepts the keys of the other stations.
func (m *Mesh) authorize(k ed25519.PublicKey) error {
	i, ok := m.byKey[string(k)]
	if !ok || i == m.cfg.Self {
		return fmt.Errorf("%w: %x…", ErrNotAStation, k[:8])
	}
	return nil
}

// Start dials the peers with higher indices (they accept; lower ones dial
// us) and starts delivering.
func (m *Mesh) Start() {
	m.wg.Add(1)
	go m.deliver()
	for j := m.cfg.Self + 1; j < len(m.cfg.Peers); j++ {
		m.wg.Add(1)
		go m.dialLoop(j)
	}
}

// Close closes every connection and stops the mesh.
func (m *Mesh) Close() error {
	m.cancel()
	m.mu.Lock()
	for _, l := range m.links {
		if l != nil {
			l.conn.CloseWithError(endpoint.CodeShutdown, "station stopping")
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// Receive delivers the frames received from the stations. It is never
// closed.
func (m *Mesh) Receive() <-chan Packet { return m.out }

// Peers lists the stations connected now (greeted and not closed), in
// index order.
func (m *Mesh) Peers() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for i, l := range m.links {
		if l != nil && l.isUp() {
			out = append(out, i)
		}
	}
	return out
}

// Send queues a frame for one station; it never blocks. A frame for a
// station that is not connected, or whose queue is full, is dropped and
// counted.
func (m *Mesh) Send(to int, ch uint8, data []byte) {
	ci, ok := m.chans[ch]
	if !ok || to < 0 || to >= len(m.links) || to == m.cfg.Self {
		return
	}
	if len(data) > m.cfg.Channels[ci].MaxFrame {
		m.log.Error("frame above the channel's limit not sent", "channel", m.cfg.Channels[ci].Name, "bytes", len(data))
		return
	}
	m.mu.Lock()
	l := m.links[to]
	m.mu.Unlock()
	if l == nil || !l.isUp() {
		m.counts.add(DropNoLink, ch)
		return
	}
	n := int64(len(data))
	if l.queued[ci].Add(n) > m.cfg.Channels[ci].SendQueueBytes {
		l.queued[ci].Add(-n)
		m.counts.add(DropQueueFull, ch)
		return
	}
	select {
	case l.send[ci] <- data:
	default:
		l.queued[ci].Add(-n)
		m.counts.add(DropQueueFull, ch)
	}
}

// Broadcast queues a frame for every other station.
func (m *Mesh) Broadcast(ch uint8, data []byte) {
	for j := range m.cfg.Peers {
		if j != m.cfg.Self {
			m.Send(j, ch, data)
		}
	}
}

// deliver moves received frames to the node, earlier channels first.
func (m *Mesh) deliver() {
	defer m.wg.Done()
	for {
		var p Packet
		got := false
		for ci, q := range m.inbox {
			select {
			case p = <-q:
				got = true
				m.queued[ci].Add(-int64(len(p.Data)))
			default:
			}
			if got {
				break
			}
		}
		if !got {
			select {
			case <-m.signal:
				continue
			case <-m.ctx.Done():
				return
			}
		}
		select {
		case m.out <- p:
			m.counts.add(Received, p.Channel)
		case <-m.ctx.Done():
			return
		}
	}
}

// enqueue hands a received frame to the delivery queue of its channel.
func (m *Mesh) enqueue(ci int, p Packet) {
	n := int64(len(p.Data))
	if m.queued[ci].Add(n) > m.cfg.Channels[ci].RecvQueueBytes {
		m.queued[ci].Add(-n)
		m.counts.add(DropInboxFull, p.Channel)
		return
	}
	select {
	case m.inbox[ci] <- p:
		select {
		case m.signal <- struct{}{}:
		default:
		}
	default:
		m.queued[ci].Add(-n)
		m.counts.add(DropInboxFull, p.Channel)
	}
}

// dialLoop keeps a connection to peer j (j > self), re-dialling with
// backoff.
func (m *Mesh) dialLoop(j int) {
	defer m.wg.Done()
	peer := m.cfg.Peers[j]
	log := m.log.With("peer", j, "addr", peer.Addr)
	backoff := m.cfg.MinBackoff
	failures := 0
	for m.ctx.Err() == nil {
		// Wait while a connection (possibly one the peer dialled) is live.
		m.mu.Lock()
		l := m.links[j]
		until := m.banned[j]
		m.mu.Unlock()
		if l != nil {
			select {
			case <-l.done:
				continue
			case <-m.ctx.Done():
				return
			}
		}
		if wait := time.Until(until); wait > 0 {
			if !m.sleep(wait) {
				return
			}
		}
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.DialTimeout)
		conn, err := m.ep.Dial(ctx, peer.Addr, ALPN, []ed25519.PublicKey{peer.Key}, true)
		cancel()
		if err == nil {
			l := m.attach(j, conn)
			l.run()
			if l.greeted() {
				backoff, failures = m.cfg.MinBackoff, 0
				log.Info("connection to peer closed", "cause", closeCause(conn))
				if !m.sleep(m.cfg.MinBackoff) { // never a hot loop of dials
					return
				}
				continue
			}
			err = closeCause(conn)
			if refusedUs(err) {
				err = fmt.Errorf("peer refused our key at the handshake (is this station's key in its genesis?): %w", err)
			}
		}
		if m.ctx.Err() != nil {
			return
		}
		failures++
		if failures == 1 || failures%20 == 0 {
			log.Warn("cannot connect to peer; retrying", "attempts", failures, "err", err)
		} else {
			log.Debug("cannot connect to peer; retrying", "attempts", failures, "err", err)
		}
		if !m.sleep(backoff/2 + rand.N(backoff/2+1)) {
			return
		}
		backoff = min(2*backoff, m.cfg.MaxBackoff)
	}
}

func (m *Mesh) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.ctx.Done():
		return false
	}
}

// accepted serves a connection a peer dialled.
func (m *Mesh) accepted(conn *quic.Conn) {
	j, ok := m.byKey[string(endpoint.PeerKey(conn))]
	if !ok {
		conn.CloseWithError(endpoint.CodeGarbage, "unknown key")
		return
	}
	m.mu.Lock()
	banned := time.Now().Before(m.banned[j])
	m.mu.Unlock()
	if banned {
		conn.CloseWithError(endpoint.CodeFlood, "cut off for a while")
		return
	}
	if m.ctx.Err() != nil {
		conn.CloseWithError(endpoint.CodeShutdown, "station stopping")
		return
	}
	m.attach(j, conn).run()
}

// attach makes conn the connection of peer j, replacing (and closing) an
// older one.
func (m *Mesh) attach(j int, conn *quic.Conn) *link {
	l := newLink(m, j, conn)
	m.mu.Lock()
	old := m.links[j]
	m.links[j] = l
	m.mu.Unlock()
	if old != nil {
		old.conn.CloseWithError(endpoint.CodeReplaced, "replaced by a newer connection")
	}
	return l
}

// detach forgets a closed link (unless a newer one replaced it).
func (m *Mesh) detach(l *link) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.links[l.peer] == l {
		m.links[l.peer] = nil
	}
}

// cut closes a peer's connection for misbehaviour, counts it, and refuses
// the peer for the penalty time.
func (m *Mesh) cut(l *link, ev Event, ch uint8, code quic.ApplicationErrorCode, why string) {
	m.counts.add(ev, ch)
	m.log.Warn("cutting off a peer", "peer", l.peer, "reason", ev.String(), "detail", why)
	m.mu.Lock()
	m.banned[l.peer] = time.Now().Add(m.cfg.Penalty)
	m.mu.Unlock()
	l.conn.CloseWithError(code, why)
}

// closeCause is why a connection closed.
func closeCause(conn *quic.Conn) error {
	<-conn.Context().Done()
	return context.Cause(conn.Context())
}

// refusedUs tells a peer's refusal of our certificate: a TLS alert it sent.
func refusedUs(err error) bool {
	var te *quic.TransportError
	return errors.As(err, &te) && te.Remote && te.ErrorCode.IsCryptoError()
}

// link is one connection to a peer.
type link struct {
	m      *Mesh
	peer   int
	conn   *quic.Conn
	send   []chan []byte  // per channel (index in cfg.Channels)
	queued []atomic.Int64 // bytes waiting in each send queue

	frames, bytes []*limit.Bucket

	mu      sync.Mutex
	up      bool
	opened  []bool // streams the peer opened, per channel index
	control bool   // the peer opened its control stream
	upCh    chan struct{}
	done    chan struct{}
}

func newLink(m *Mesh, j int, conn *quic.Conn) *link {
	l := &link{
		m: m, peer: j, conn: conn,
		opened: make([]bool, len(m.cfg.Channels)),
		queued: make([]atomic.Int64, len(m.cfg.Channels)),
		upCh:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for _, c := range m.cfg.Channels {
		l.send = append(l.send, make(chan []byte, c.SendQueue))
		l.frames = append(l.frames, limit.New(c.Rate, c.Burst, m.cfg.Now))
		l.bytes = append(l.bytes, limit.New(c.ByteRate, c.ByteBurst, m.cfg.Now))
	}
	return l
}

func (l *link) isUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

func (l *link) greeted() bool { return l.isUp() }

// run serves the link until its connection closes.
func (l *link) run() {
	defer close(l.done)
	defer l.m.detach(l)
	ctx := l.conn.Context()
	var wg sync.WaitGroup
	wg.Add(2 + len(l.send))
	go func() { defer wg.Done(); l.greet() }()
	go func() { defer wg.Done(); l.acceptStreams() }()
	for ci := range l.send {
		go func() { defer wg.Done(); l.writer(ci) }()
	}
	t := time.NewTimer(l.m.cfg.GreetTimeout)
	select {
	case <-l.upCh:
		l.m.log.Info("peer connected", "peer", l.peer, "addr", l.conn.RemoteAddr())
	case <-t.C:
		l.m.counts.add(CutTimeout, 0)
		l.conn.CloseWithError(endpoint.CodeTimeout, "no hello")
	case <-ctx.Done():
	}
	t.Stop()
	<-ctx.Done()
	wg.Wait()
}

// greet sends our hello on the control stream.
func (l *link) greet() {
	s, err := l.conn.OpenUniStream()
	if err != nil {
		return
	}
	s.SetPriority(0, false)
	h := hello{Version: helloVersion, Network: l.m.cfg.Network}
	s.SetWriteDeadline(time.Now().Add(l.m.cfg.WriteTimeout))
	if _, err := s.Write(frame.Append([]byte{0}, h.encode())); err != nil {
		return
	}
	s.Close()
}

// acceptStreams reads the streams the peer opens.
func (l *link) acceptStreams() {
	ctx := l.conn.Context()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		s, err := l.conn.AcceptUniStream(ctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.readStream(s)
		}()
	}
}

// readStream reads one stream: its channel id, then frames.
func (l *link) readStream(s *quic.ReceiveStream) {
	m := l.m
	defer s.CancelRead(0)
	s.SetReadDeadline(time.Now().Add(m.cfg.GreetTimeout))
	var id [1]byte
	if _, err := io.ReadFull(s, id[:]); err != nil {
		return
	}
	if id[0] == 0 {
		l.readHello(s)
		return
	}
	ci, ok := m.chans[id[0]]
	l.mu.Lock()
	dup := ok && l.opened[ci]
	if ok {
		l.opened[ci] = true
	}
	l.mu.Unlock()
	if !ok || dup {
		m.cut(l, CutGarbage, 0, endpoint.CodeGarbage, fmt.Sprintf("stream for channel %d (unknown or opened twice)", id[0]))
		return
	}
	// Nothing is delivered before the peer's hello.
	select {
	case <-l.upCh:
	case <-l.conn.Context().Done():
		return
	}
	s.SetReadDeadline(time.Time{})
	spec := &m.cfg.Channels[ci]
	r := frame.NewReader(s, spec.MaxFrame)
	for {
		data, err := r.Next()
		if err != nil {
			if errors.Is(err, frame.ErrTooLarge) {
				m.cut(l, CutOversized, spec.ID, endpoint.CodeOversized, fmt.Sprintf("%s: %v", spec.Name, err))
			} else if errors.Is(err, frame.ErrTruncated) && l.conn.Context().Err() == nil {
				m.cut(l, CutGarbage, spec.ID, endpoint.CodeGarbage, fmt.Sprintf("%s: %v", spec.Name, err))
			}
			return
		}
		v := max(l.frames[ci].Take(1), l.bytes[ci].Take(float64(len(data))))
		switch v {
		case limit.Cut:
			m.cut(l, CutFlood, spec.ID, endpoint.CodeFlood, fmt.Sprintf("%s: far above %g frames/s", spec.Name, spec.Rate))
			return
		case limit.Drop:
			m.counts.add(DropRate, spec.ID)
			continue
		}
		m.enqueue(ci, Packet{From: l.peer, Channel: spec.ID, Data: data})
	}
}

// readHello reads the peer's control stream and marks the link up.
func (l *link) readHello(s *quic.ReceiveStream) {
	m := l.m
	l.mu.Lock()
	dup := l.control
	l.control = true
	l.mu.Unlock()
	if dup {
		m.cut(l, CutGarbage, 0, endpoint.CodeGarbage, "second control stream")
		return
	}
	b, err := frame.NewReader(s, helloSize).Next()
	if err != nil {
		if l.conn.Context().Err() == nil {
			m.cut(l, CutGarbage, 0, endpoint.CodeGarbage, fmt.Sprintf("hello: %v", err))
		}
		return
	}
	h, err := decodeHello(b)
	if err != nil {
		m.cut(l, CutGarbage, 0, endpoint.CodeGarbage, err.Error())
		return
	}
	if h.Network != m.cfg.Network {
		m.cut(l, CutWrongNetwork, 0, endpoint.CodeWrongNetwork, fmt.Sprintf("%v: %x…", ErrWrongNetwork, h.Network[:8]))
		return
	}
	l.mu.Lock()
	l.up = true
	l.mu.Unlock()
	close(l.upCh)
}

// writer sends the frames queued for one channel on its own stream,
// opened at the first frame.
func (l *link) writer(ci int) {
	m := l.m
	spec := &m.cfg.Channels[ci]
	ctx := l.conn.Context()
	var s *quic.SendStream
	for {
		var data []byte
		select {
		case data = <-l.send[ci]:
			l.queued[ci].Add(-int64(len(data)))
		case <-ctx.Done():
			return
		}
		buf := make([]byte, 0, 1+frame.HeaderSize+len(data))
		if s == nil {
			var err error
			if s, err = l.conn.OpenUniStream(); err != nil {
				l.conn.CloseWithError(endpoint.CodeGarbage, "cannot open a stream")
				return
			}
			s.SetPriority(spec.Urgency, true)
			buf = append(buf, spec.ID)
		}
		buf = frame.Append(buf, data)
		s.SetWriteDeadline(time.Now().Add(m.cfg.WriteTimeout))
		if _, err := s.Write(buf); err != nil {
			if ctx.Err() == nil {
				m.counts.add(CutTimeout, spec.ID)
				l.conn.CloseWithError(endpoint.CodeTimeout, fmt.Sprintf("%s: write stalled: %v", spec.Name, err))
			}
			return
		}
		m.counts.add(Sent, spec.ID)
	}
}
