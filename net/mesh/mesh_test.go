package mesh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urna-vote/urna/net/endpoint"
	"github.com/urna-vote/urna/net/frame"
)

func TestMain(m *testing.M) {
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	os.Exit(m.Run())
}

const (
	chVote uint8 = 1
	chTx   uint8 = 2
	chSync uint8 = 3
)

func testChannels() []Channel {
	return []Channel{
		{ID: chVote, Name: "vote", MaxFrame: 1 << 10, Rate: 1000, Burst: 2000, ByteRate: 1 << 20, ByteBurst: 1 << 20, Urgency: 0},
		{ID: chTx, Name: "tx", MaxFrame: 64 << 10, Rate: 1000, Burst: 2000, ByteRate: 1 << 26, ByteBurst: 1 << 26, Urgency: 3},
		{ID: chSync, Name: "sync", MaxFrame: 1 << 20, Rate: 1000, Burst: 2000, ByteRate: 1 << 28, ByteBurst: 1 << 28, Urgency: 6},
	}
}

var testNetwork = [32]byte{'t', 'e', 's', 't'}

// station is one member of a test mesh.
type station struct {
	key  ed25519.PrivateKey
	ep   *endpoint.Endpoint
	mesh *Mesh
}

type testNet struct {
	t        testing.TB
	stations []*station
	peers    []Peer
	edit     func(*Config)
}

// newNet starts n stations on loopback, on free ports.
func newNet(t testing.TB, n int, edit func(*Config)) *testNet {
	tn := &testNet{t: t, edit: edit}
	for range n {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		ep, err := endpoint.Listen(endpoint.Config{Listen: "127.0.0.1:0", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		tn.stations = append(tn.stations, &station{key: key, ep: ep})
		tn.peers = append(tn.peers, Peer{Key: key.Public().(ed25519.PublicKey), Addr: ep.Addr().String()})
	}
	for i := range tn.stations {
		tn.startMesh(i)
	}
	t.Cleanup(func() {
		for _, s := range tn.stations {
			if s.mesh != nil {
				s.mesh.Close()
			}
			s.ep.Close()
		}
	})
	return tn
}

func (tn *testNet) config(i int) Config {
	cfg := Config{
		Self: i, Peers: tn.peers, Network: testNetwork, Channels: testChannels(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Penalty: 300 * time.Millisecond,
	}
	if tn.edit != nil {
		tn.edit(&cfg)
	}
	return cfg
}

func (tn *testNet) startMesh(i int) {
	s := tn.stations[i]
	m, err := New(s.ep, tn.config(i))
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := s.ep.Start(); err != nil {
		tn.t.Fatal(err)
	}
	m.Start()
	s.mesh = m
}

// restart stops station i and starts it again on the same address.
func (tn *testNet) restart(i int) {
	s := tn.stations[i]
	s.mesh.Close()
	s.ep.Close()
	ep, err := endpoint.Listen(endpoint.Config{Listen: tn.peers[i].Addr, Key: s.key})
	if err != nil {
		tn.t.Fatal(err)
	}
	s.ep = ep
	tn.startMesh(i)
}

// waitConnected waits until every station sees every other.
func (tn *testNet) waitConnected() {
	tn.t.Helper()
	waitFor(tn.t, "every station connected to every other", func() bool {
		for _, s := range tn.stations {
			if len(s.mesh.Peers()) != len(tn.stations)-1 {
				return false
			}
		}
		return true
	})
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func recv(t *testing.T, m *Mesh) Packet {
	t.Helper()
	select {
	case p := <-m.Receive():
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no packet")
	}
	return Packet{}
}

func TestMeshDeliversWithAuthenticatedSender(t *testing.T) {
	tn := newNet(t, 4, nil)
	tn.waitConnected()
	for i, s := range tn.stations {
		s.mesh.Broadcast(chVote, []byte(fmt.Sprintf("vote from %d", i)))
	}
	for j, s := range tn.stations {
		seen := map[int]bool{}
		for range 3 {
			p := recv(t, s.mesh)
			if p.Channel != chVote || string(p.Data) != fmt.Sprintf("vote from %d", p.From) {
				t.Fatalf("station %d got %+v", j, p)
			}
			if p.From == j || seen[p.From] {
				t.Fatalf("station %d: packet from %d twice or from itself", j, p.From)
			}
			seen[p.From] = true
		}
	}
	// A large frame on the sync channel, and a direct send.
	big := bytes.Repeat([]byte{0xab}, 900<<10)
	tn.stations[3].mesh.Send(0, chSync, big)
	if p := recv(t, tn.stations[0].mesh); p.From != 3 || p.Channel != chSync || !bytes.Equal(p.Data, big) {
		t.Fatalf("sync frame: from %d channel %d %d bytes", p.From, p.Channel, len(p.Data))
	}
}

// A station that restarts is reconnected, whichever side dials.
func TestMeshReconnectsAfterRestart(t *testing.T) {
	tn := newNet(t, 3, nil)
	tn.waitConnected()
	for _, i := range []int{0, 2} { // the dialer of every link, then a pure acceptor
		tn.restart(i)
		tn.waitConnected()
		other := (i + 1) % 3
		tn.stations[other].mesh.Send(i, chVote, []byte("hello again"))
		if p := recv(t, tn.stations[i].mesh); p.From != other || string(p.Data) != "hello again" {
			t.Fatalf("after restarting %d: %+v", i, p)
		}
	}
}

// An outsider whose key is not a station's is refused at the handshake:
// its Dial succeeds (TLS 1.3 client authentication ends after the client's
// last flight), the refusal shows on its first stream operation, and the
// station never counts it as a peer.
func TestUnknownKeyRefusedAtHandshake(t *testing.T) {
	tn := newNet(t, 2, nil)
	tn.waitConnected()
	_, outsiderKey, _ := ed25519.GenerateKey(rand.Reader)
	out, err := endpoint.Listen(endpoint.Config{Listen: "127.0.0.1:0", Key: outsiderKey})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := out.Dial(ctx, tn.peers[0].Addr, ALPN, []ed25519.PublicKey{tn.peers[0].Key}, true)
	if err != nil {
		t.Fatalf("the refused dialer's Dial failed (%v): the test expects TLS 1.3's late client-auth failure", err)
	}
	s, err := conn.OpenUniStream()
	if err == nil {
		_, err = s.Write(frame.Append([]byte{0}, hello{Version: helloVersion, Network: testNetwork}.encode()))
	}
	if err == nil {
		_, err = conn.AcceptUniStream(ctx)
	}
	var te *quic.TransportError
	if !errors.As(err, &te) || !te.Remote || te.ErrorCode != 0x100+42 {
		t.Fatalf("first stream operation: %v, want the station's bad_certificate alert (CRYPTO_ERROR 0x12a, remote)", err)
	}
	if n := tn.stations[0].mesh.Count(Refused, -1); n != 1 {
		t.Fatalf("refused handshakes counted: %d", n)
	}
	if got := tn.stations[0].mesh.Peers(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("station 0's peers: %v", got)
	}

	// A dialer that pins another key than the station presents refuses the
	// station itself: there the error is local and at dial.
	_, err = out.Dial(ctx, tn.peers[0].Addr, ALPN, []ed25519.PublicKey{tn.peers[1].Key}, true)
	if !errors.As(err, &te) || te.Remote || !te.ErrorCode.IsCryptoError() || !errors.Is(err, endpoint.ErrUnexpectedKey) {
		t.Fatalf("dial with the wrong pin: %v, want a local crypto error wrapping ErrUnexpectedKey", err)
	}
}

// A whole mesh whose own key is not in the others' genesis never gets a
// peer, and says why in its log; the stations count the refusals.
func TestMisKeyedStationNeverJoins(t *testing.T) {
	tn := newNet(t, 2, nil)
	tn.waitConnected()
	_, wrong, _ := ed25519.GenerateKey(rand.Reader)
	ep, err := endpoint.Listen(endpoint.Config{Listen: "127.0.0.1:0", Key: wrong})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	// It believes it is station 0 of a three-station mesh and dials 1 and 2.
	peers := []Peer{{Key: wrong.Public().(ed25519.PublicKey), Addr: ep.Addr().String()}, tn.peers[0], tn.peers[1]}
	m, err := New(ep, Config{Self: 0, Peers: peers, Network: testNetwork, Channels: testChannels(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ep.Start()
	m.Start()
	defer m.Close()
	waitFor(t, "both stations to refuse the mis-keyed one", func() bool {
		return tn.stations[0].mesh.Count(Refused, -1) >= 2 && tn.stations[1].mesh.Count(Refused, -1) >= 2
	})
	if len(m.Peers()) != 0 || len(tn.stations[0].mesh.Peers()) != 1 || len(tn.stations[1].mesh.Peers()) != 1 {
		t.Fatalf("peers: outsider %v, 0: %v, 1: %v", m.Peers(), tn.stations[0].mesh.Peers(), tn.stations[1].mesh.Peers())
	}
}

// rogue is a raw connection with a station's key, speaking the mesh
// protocol badly on purpose.
type rogue struct {
	t    *testing.T
	ep   *endpoint.Endpoint
	conn *quic.Conn
}

// dialRogue connects to station `to` with station `as`'s key (after
// stopping the real station `as`).
func dialRogue(t *testing.T, tn *testNet, as, to int) *rogue {
	s := tn.stations[as]
	s.mesh.Close()
	s.ep.Close()
	s.mesh = nil
	ep, err := endpoint.Listen(endpoint.Config{Listen: "127.0.0.1:0", Key: s.key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := ep.Dial(ctx, tn.peers[to].Addr, ALPN, []ed25519.PublicKey{tn.peers[to].Key}, true)
	if err != nil {
		t.Fatal(err)
	}
	return &rogue{t: t, ep: ep, conn: conn}
}

// stream opens a stream and writes raw bytes on it.
func (r *rogue) stream(b []byte) *quic.SendStream {
	s, err := r.conn.OpenUniStream()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := s.Write(b); err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rogue) greet(network [32]byte) {
	r.stream(frame.Append([]byte{0}, hello{Version: helloVersion, Network: network}.encode())).Close()
}

// closedWith waits for the connection to be closed by the station and
// returns the application error code.
func (r *rogue) closedWith() quic.ApplicationErrorCode {
	r.t.Helper()
	select {
	case <-r.conn.Context().Done():
	case <-time.After(10 * time.Second):
		r.t.Fatal("the station did not cut the rogue connection off")
	}
	var ae *quic.ApplicationError
	if err := context.Cause(r.conn.Context()); !errors.As(err, &ae) || !ae.Remote {
		r.t.Fatalf("connection closed by %v, want the station's application error", err)
	}
	return ae.ErrorCode
}

// Garbage, oversized frames, floods and wrong elections are cut off and
// counted, and the station goes on serving its honest peers.
func TestBadPeersCutOff(t *testing.T) {
	cases := []struct {
		name  string
		do    func(r *rogue)
		code  quic.ApplicationErrorCode
		event Event
		ch    int
	}{
		{"unknown channel", func(r *rogue) { r.greet(testNetwork); r.stream([]byte{9, 0, 0, 0, 1, 1}) }, endpoint.CodeGarbage, CutGarbage, -1},
		{"second stream of a channel", func(r *rogue) {
			r.greet(testNetwork)
			r.stream(frame.Append([]byte{chVote}, []byte("a")))
			r.stream(frame.Append([]byte{chVote}, []byte("b")))
		}, endpoint.CodeGarbage, CutGarbage, -1},
		{"malformed hello", func(r *rogue) { r.stream(frame.Append([]byte{0}, []byte("hi"))).Close() }, endpoint.CodeGarbage, CutGarbage, -1},
		{"wrong election", func(r *rogue) { r.greet([32]byte{'x'}) }, endpoint.CodeWrongNetwork, CutWrongNetwork, -1},
		{"oversized frame", func(r *rogue) {
			r.greet(testNetwork)
			r.stream(frame.Append([]byte{chVote}, make([]byte, 1<<10+1)))
		}, endpoint.CodeOversized, CutOversized, int(chVote)},
		{"flood", func(r *rogue) {
			r.greet(testNetwork)
			s := r.stream([]byte{chVote})
			one := frame.Append(nil, []byte("spam"))
			for range 10_000 {
				if _, err := s.Write(one); err != nil {
					return
				}
			}
		}, endpoint.CodeFlood, CutFlood, int(chVote)},
		{"silence", func(r *rogue) {}, endpoint.CodeTimeout, CutTimeout, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn := newNet(t, 3, func(cfg *Config) {
				cfg.GreetTimeout = time.Second
				for i := range cfg.Channels {
					cfg.Channels[i].Rate, cfg.Channels[i].Burst = 100, 100
				}
			})
			tn.waitConnected()
			r := dialRogue(t, tn, 2, 0)
			c.do(r)
			if code := r.closedWith(); code != c.code {
				t.Fatalf("closed with code %#x, want %#x", code, c.code)
			}
			if n := tn.stations[0].mesh.Count(c.event, c.ch); n != 1 {
				t.Fatalf("%s counted %d times", c.event, n)
			}
			// The station still serves its honest peer.
			// (What the rogue sent before it was cut may come first.)
			tn.stations[1].mesh.Send(0, chVote, []byte("still there?"))
			for {
				p := recv(t, tn.stations[0].mesh)
				if p.From == 1 {
					if string(p.Data) != "still there?" {
						t.Fatalf("after the cut: %+v", p)
					}
					break
				}
			}
		})
	}
}

// A cut-off peer is refused for the penalty time, then may come back.
func TestCutOffPeerRefusedForAWhile(t *testing.T) {
	tn := newNet(t, 2, func(cfg *Config) { cfg.Penalty = time.Hour })
	tn.waitConnected()
	r := dialRogue(t, tn, 1, 0)
	r.stream([]byte{9})
	if code := r.closedWith(); code != endpoint.CodeGarbage {
		t.Fatalf("code %#x", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := r.ep.Dial(ctx, tn.peers[0].Addr, ALPN, []ed25519.PublicKey{tn.peers[0].Key}, true)
	if err != nil {
		t.Fatal(err)
	}
	r2 := &rogue{t: t, ep: r.ep, conn: conn}
	if code := r2.closedWith(); code != endpoint.CodeFlood {
		t.Fatalf("a banned peer's new connection: code %#x, want %#x", code, endpoint.CodeFlood)
	}
}

// A peer that stops reading never blocks the sender: its queue fills, the
// surplus is dropped and counted, and sends to the other peers go on.
func TestSlowPeerNeverBlocks(t *testing.T) {
	tn := newNet(t, 3, func(cfg *Config) {
		for i := range cfg.Channels {
			cfg.Channels[i].SendQueue = 8
		}
	})
	tn.waitConnected()
	r := dialRogue(t, tn, 2, 0) // greets, then never reads a byte
	r.greet(testNetwork)
	waitFor(t, "the rogue to be station 0's peer", func() bool { return len(tn.stations[0].mesh.Peers()) == 2 })
	big := make([]byte, 60<<10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 { // ~120 MB: far beyond QUIC's flow-control windows
			tn.stations[0].mesh.Send(2, chTx, big)
		}
		tn.stations[0].mesh.Send(1, chVote, []byte("not blocked"))
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Send blocked on a peer that does not read")
	}
	if n := tn.stations[0].mesh.Count(DropQueueFull, int(chTx)); n == 0 {
		t.Fatal("no frame dropped for the slow peer")
	}
	if p := recv(t, tn.stations[1].mesh); string(p.Data) != "not blocked" {
		t.Fatalf("%+v", p)
	}
}

// When the node falls behind, votes are delivered before queued sync
// frames.
func TestDeliveryByChannelPriority(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ep, err := endpoint.Listen(endpoint.Config{Listen: "127.0.0.1:0", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	m, err := New(ep, Config{Self: 0, Network: testNetwork, Channels: testChannels(), Peers: []Peer{
		{Key: key.Public().(ed25519.PublicKey)}, {Key: other.Public().(ed25519.PublicKey)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		m.enqueue(2, Packet{From: 1, Channel: chSync, Data: []byte{byte(i)}})
	}
	m.enqueue(1, Packet{From: 1, Channel: chTx})
	m.enqueue(0, Packet{From: 1, Channel: chVote})
	m.Start()
	defer m.Close()
	var order []uint8
	for range 3 {
		order = append(order, recv(t, m).Channel)
	}
	if order[0] != chVote || order[1] != chTx || order[2] != chSync {
		t.Fatalf("delivery order %v, want vote, tx, sync", order)
	}
}

// Many concurrent senders: every frame of a peer on one channel arrives, in
// order (the race detector watches the mesh's state).
func TestOrderedUnderConcurrency(t *testing.T) {
	tn := newNet(t, 3, nil)
	tn.waitConnected()
	const each = 200
	var wg sync.WaitGroup
	for _, i := range []int{1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				tn.stations[i].mesh.Send(0, chTx, []byte{byte(i), byte(k >> 8), byte(k)})
			}
		}()
	}
	next := map[int]int{}
	for range 2 * each {
		p := recv(t, tn.stations[0].mesh)
		k := int(p.Data[1])<<8 | int(p.Data[2])
		if int(p.Data[0]) != p.From || k != next[p.From] {
			t.Fatalf("from %d: frame %d, want %d", p.From, k, next[p.From])
		}
		next[p.From]++
	}
	wg.Wait()
}

// The send queue is bounded in bytes as well as in frames.
func TestSendQueueBoundedInBytes(t *testing.T) {
	tn := newNet(t, 3, func(cfg *Config) {
		for i := range cfg.Channels {
			cfg.Channels[i].SendQueue = 1 << 16
			cfg.Channels[i].SendQueueBytes = 1 << 20
		}
	})
	tn.waitConnected()
	r := dialRogue(t, tn, 2, 0) // never reads
	r.greet(testNetwork)
	waitFor(t, "the rogue to be station 0's peer", func() bool { return len(tn.stations[0].mesh.Peers()) == 2 })
	m := tn.stations[0].mesh
	big := make([]byte, 60<<10)
	for range 500 { // 30 MB
		m.Send(2, chTx, big)
	}
	m.mu.Lock()
	l := m.links[2]
	m.mu.Unlock()
	if q := l.queued[m.chans[chTx]].Load(); q > 1<<20 {
		t.Fatalf("%d bytes queued for a peer, bound 1 MiB", q)
	}
	if m.Count(DropQueueFull, int(chTx)) == 0 {
		t.Fatal("nothing dropped")
	}
}
