package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
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

// fakeBackend is an in-memory station: a chain of opaque blocks, a
// mempool of accepted transactions, and a rule that refuses transactions
// starting with "bad".
type fakeBackend struct {
	mu        sync.Mutex
	blocks    [][]byte
	pending   map[[32]byte]chan uint64
	committed map[[32]byte]uint64
	subs      []chan Event
	roll      []byte
	lie       bool // answer receipts for another transaction
}

func newFake(blocks int) *fakeBackend {
	f := &fakeBackend{pending: map[[32]byte]chan uint64{}, committed: map[[32]byte]uint64{}, roll: bytes.Repeat([]byte("voter\n"), 1000)}
	for h := 1; h <= blocks; h++ {
		f.blocks = append(f.blocks, []byte(fmt.Sprintf("block %d", h)))
	}
	return f
}

func (f *fakeBackend) Status(context.Context) (*Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &Status{Election: [32]byte{1}, Station: 2, Phase: 3, Height: uint64(len(f.blocks)), Peers: []uint32{0, 1}, Turnout: []uint64{5, 6, 7}, Result: [][]uint64{{1, 2}}}, nil
}

func (f *fakeBackend) Submit(_ context.Context, tx []byte) (Receipt, error) {
	if bytes.HasPrefix(tx, []byte("forged")) {
		return Receipt{}, &RejectedError{Rule: "bad-ballot", Message: "ballot does not verify", Forged: true}
	}
	if bytes.HasPrefix(tx, []byte("bad")) {
		return Receipt{}, &RejectedError{Rule: "already-voted", Message: "credential has already cast a ballot"}
	}
	h := sha256.Sum256(tx)
	if f.lie {
		h[0] ^= 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if at, ok := f.committed[h]; ok {
		return Receipt{Hash: h, Committed: true, Height: at}, nil
	}
	if f.pending[h] == nil {
		f.pending[h] = make(chan uint64, 1)
	}
	return Receipt{Hash: h}, nil
}

// commit puts every pending transaction in a new block.
func (f *fakeBackend) commit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocks = append(f.blocks, []byte(fmt.Sprintf("block %d", len(f.blocks)+1)))
	h := uint64(len(f.blocks))
	for hash, ch := range f.pending {
		f.committed[hash] = h
		ch <- h
		delete(f.pending, hash)
	}
	for _, s := range f.subs {
		s <- Event{Height: h, Phase: 3}
	}
}

func (f *fakeBackend) WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error) {
	f.mu.Lock()
	if at, ok := f.committed[hash]; ok {
		f.mu.Unlock()
		return at, nil
	}
	ch := f.pending[hash]
	if ch == nil {
		ch = make(chan uint64, 1)
		f.pending[hash] = ch
	}
	f.mu.Unlock()
	select {
	case h := <-ch:
		return h, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (f *fakeBackend) Head() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.blocks))
}

func (f *fakeBackend) Block(h uint64) ([]byte, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h == 0 || h > uint64(len(f.blocks)) {
		return nil, nil, errors.New("no such block")
	}
	return f.blocks[h-1], []byte(fmt.Sprintf("cert %d", h)), nil
}

func (f *fakeBackend) Tracking(_ context.Context, code string) (Tracking, error) {
	switch code {
	case "known":
		return Tracking{Status: 1, Height: 3, Position: 4, BallotHash: [32]byte{9}}, nil
	case "unknown":
		return Tracking{}, nil
	}
	return Tracking{}, fmt.Errorf("%w: tracking code %q is malformed", ErrInvalid, code)
}

func (f *fakeBackend) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	return ch, func() {}
}

func (f *fakeBackend) Roll() []byte { return f.roll }

type testServer struct {
	ep     *endpoint.Endpoint
	srv    *Server
	key    ed25519.PublicKey
	addr   string
	client *Client
}

func startServer(t testing.TB, b Backend, lim Limits) *testServer {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ep, err := endpoint.Listen(endpoint.Config{Listen: "127.0.0.1:0", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ep, ServerConfig{Backend: b, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{ep: ep, srv: srv, key: key.Public().(ed25519.PublicKey), addr: ep.Addr().String()}
	t.Cleanup(func() {
		if ts.client != nil {
			ts.client.Close()
		}
		srv.Close()
		ep.Close()
	})
	ts.client = ts.dial(t)
	return ts
}

func (ts *testServer) dial(t testing.TB) *Client {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	c, err := Dial(ctx, ts.addr, []ed25519.PublicKey{other.Public().(ed25519.PublicKey), ts.key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Station() != 1 {
		t.Fatalf("Station() = %d, want 1 (the second key)", c.Station())
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestClientOperations(t *testing.T) {
	f := newFake(5)
	ts := startServer(t, f, Limits{MaxBlocks: 2, RollChunk: 1000})
	c := ts.client

	st, err := c.Status(ctx(t))
	if err != nil || st.Station != 2 || st.Height != 5 || len(st.Turnout) != 3 || st.Result[0][1] != 2 {
		t.Fatalf("status %+v, %v", st, err)
	}

	// Submit: accepted, then the same again after it committed.
	rc, err := c.Submit(ctx(t), []byte("tx-1"))
	if err != nil || rc.Committed || rc.Hash != sha256.Sum256([]byte("tx-1")) {
		t.Fatalf("submit: %+v %v", rc, err)
	}
	f.commit()
	rc, err = c.Submit(ctx(t), []byte("tx-1"))
	if err != nil || !rc.Committed || rc.Height != 6 {
		t.Fatalf("resubmit after commit: %+v %v", rc, err)
	}

	// Submit and wait: the first answer, then the commit, on one stream.
	var first []Receipt
	done := make(chan error, 1)
	go func() {
		rc, err := c.SubmitAndWait(ctx(t), []byte("tx-2"), func(r Receipt) { first = append(first, r) })
		if err == nil && (!rc.Committed || rc.Height != 7) {
			err = fmt.Errorf("receipt %+v", rc)
		}
		done <- err
	}()
	waitPending(t, f, 1)
	f.commit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].Committed {
		t.Fatalf("accepted callback: %+v", first)
	}

	// A refusal names the rule.
	_, err = c.Submit(ctx(t), []byte("bad ballot"))
	var rej *RejectedError
	if !errors.As(err, &rej) || !errors.Is(err, ErrRejected) || rej.Rule != "already-voted" || rej.Message == "" {
		t.Fatalf("refused transaction: %v", err)
	}

	// Blocks come in batches of MaxBlocks; the caller asks again.
	var got []Block
	for from := uint64(1); ; {
		bs, head, err := c.Blocks(ctx(t), from, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) > 2 || head != 7 {
			t.Fatalf("batch of %d, head %d", len(bs), head)
		}
		got = append(got, bs...)
		from += uint64(len(bs))
		if from > head {
			break
		}
	}
	for i, b := range got {
		if b.Height != uint64(i+1) || string(b.Block) != fmt.Sprintf("block %d", i+1) || string(b.Certificate) != fmt.Sprintf("cert %d", i+1) {
			t.Fatalf("block %d: %+v", i+1, b)
		}
	}
	if bs, _, err := c.Blocks(ctx(t), 3, 3); err != nil || len(bs) != 1 || bs[0].Height != 3 {
		t.Fatalf("one block: %v %v", bs, err)
	}
	if bs, head, err := c.Blocks(ctx(t), 100, 0); err != nil || len(bs) != 0 || head != 7 {
		t.Fatalf("beyond the head: %v %d %v", bs, head, err)
	}
	if _, _, err := c.Blocks(ctx(t), 0, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("blocks from 0: %v", err)
	}

	// Tracking: found, not found, malformed.
	if tr, err := c.Tracking(ctx(t), "known"); err != nil || tr.Status != 1 || tr.Height != 3 || tr.BallotHash != [32]byte{9} {
		t.Fatalf("tracking: %+v %v", tr, err)
	}
	if tr, err := c.Tracking(ctx(t), "unknown"); err != nil || tr.Status != 0 {
		t.Fatalf("unknown code: %+v %v", tr, err)
	}
	if _, err := c.Tracking(ctx(t), "??"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed code: %v", err)
	}

	// Events.
	ectx, cancel := context.WithCancel(ctx(t))
	evs, err := c.Events(ectx)
	if err != nil {
		t.Fatal(err)
	}
	waitSubs(t, f, 1)
	f.commit()
	if ev := <-evs; ev.Height != 8 {
		t.Fatalf("event %+v", ev)
	}
	cancel()
	for range evs {
	}

	// The roll, in chunks.
	roll, err := c.Roll(ctx(t))
	if err != nil || !bytes.Equal(roll, f.roll) {
		t.Fatalf("roll: %d bytes, %v", len(roll), err)
	}
	cs := ts.srv.Counts()
	if cs.Requests["submit"] != 4 || cs.Errors["rejected"] != 1 || cs.Errors["invalid"] != 2 {
		t.Fatalf("counts %+v", cs)
	}
}

func waitPending(t *testing.T, f *fakeBackend, n int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		k := len(f.pending)
		f.mu.Unlock()
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("transaction never pending")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitSubs(t *testing.T, f *fakeBackend, n int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		k := len(f.subs)
		f.mu.Unlock()
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no subscriber")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A station that answers for another transaction than the one sent is
// caught by the client.
func TestClientChecksReceipt(t *testing.T) {
	f := newFake(1)
	f.lie = true
	ts := startServer(t, f, Limits{})
	if _, err := ts.client.Submit(ctx(t), []byte("tx")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("lying receipt: %v", err)
	}
}

// A client that pins another key than the station's cannot connect.
func TestClientPinsStationKey(t *testing.T) {
	ts := startServer(t, newFake(1), Limits{})
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	_, err := Dial(ctx(t), ts.addr, []ed25519.PublicKey{other.Public().(ed25519.PublicKey)}, nil)
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, endpoint.ErrUnexpectedKey) {
		t.Fatalf("dial with the wrong key: %v", err)
	}
}

// rawConn is a client connection that writes whatever it wants.
func rawConn(t *testing.T, ts *testServer) *quic.Conn {
	conn, err := quic.DialAddr(ctx(t), ts.addr, endpoint.ClientTLS(ALPN, []ed25519.PublicKey{ts.key}, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	return conn
}

// rawRequest sends raw bytes on a new stream and returns the first reply
// (nil if the stream or connection died first).
func rawRequest(t *testing.T, conn *quic.Conn, b []byte) *reply {
	st, err := conn.OpenStreamSync(ctx(t))
	if err != nil {
		return nil
	}
	st.Write(b)
	st.Close()
	p, err := frame.NewReader(st, 1<<20).Next()
	if err != nil {
		return nil
	}
	r, err := decodeReply(p)
	if err != nil {
		t.Fatalf("the server's reply does not decode: %v", err)
	}
	return r
}

func closedWith(t *testing.T, conn *quic.Conn) quic.ApplicationErrorCode {
	t.Helper()
	select {
	case <-conn.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not cut the connection off")
	}
	var ae *quic.ApplicationError
	if err := context.Cause(conn.Context()); !errors.As(err, &ae) || !ae.Remote {
		t.Fatalf("closed by %v", context.Cause(conn.Context()))
	}
	return ae.ErrorCode
}

// Garbage, oversized requests, floods and silent streams are answered or
// cut off and counted; the server goes on serving other clients.
func TestBadClientsCutOff(t *testing.T) {
	cases := []struct {
		name string
		lim  Limits
		do   func(t *testing.T, conn *quic.Conn)
		code quic.ApplicationErrorCode
		cut  string
	}{
		{"garbage", Limits{}, func(t *testing.T, conn *quic.Conn) {
			for _, g := range [][]byte{{0x42}, {opStatus, 0xff}, {opSubmit, 0x80}} { // unknown op, bad CBOR, wrong body
				r := rawRequest(t, conn, frame.Append(nil, g))
				if r == nil {
					return
				}
				if r.typ != replyError || r.err.Code != CodeMalformed {
					t.Fatalf("garbage %x answered %+v", g, r)
				}
			}
		}, endpoint.CodeGarbage, "garbage"},
		{"not canonical", Limits{MaxMalformed: 1}, func(t *testing.T, conn *quic.Conn) {
			// [h'', false] with the byte string's length in a longer form.
			rawRequest(t, conn, frame.Append(nil, []byte{opSubmit, 0x82, 0x58, 0x00, 0xf4}))
		}, endpoint.CodeGarbage, "garbage"},
		{"forged", Limits{}, func(t *testing.T, conn *quic.Conn) {
			// An honest client's refusals are answered and never cut it off;
			// forgeries are answered, and the third one cuts it off (its
			// answer may be lost with the connection).
			for i := range 10 {
				r := rawRequest(t, conn, frame.Append(nil, encode(opSubmit, &submitBody{Tx: []byte("bad ballot")})))
				if r == nil || r.typ != replyError || r.err.Code != CodeRejected {
					t.Fatalf("honest refusal %d answered %+v", i, r)
				}
			}
			for i := range 3 {
				r := rawRequest(t, conn, frame.Append(nil, encode(opSubmit, &submitBody{Tx: []byte("forged ballot")})))
				if r == nil && i == 2 {
					return
				}
				if r == nil {
					t.Fatalf("cut off before forgery %d was answered", i)
				}
				if r.typ != replyError || r.err.Code != CodeRejected || r.err.Rule != "bad-ballot" {
					t.Fatalf("forgery %d answered %+v", i, r)
				}
			}
		}, endpoint.CodeGarbage, "garbage"},
		{"oversized", Limits{MaxRequest: 100}, func(t *testing.T, conn *quic.Conn) {
			rawRequest(t, conn, frame.Append(nil, encode(opSubmit, &submitBody{Tx: make([]byte, 200)})))
		}, endpoint.CodeOversized, "oversized"},
		{"flood", Limits{Rate: 5, Burst: 5}, func(t *testing.T, conn *quic.Conn) {
			busy := 0
			for range 100 {
				r := rawRequest(t, conn, frame.Append(nil, encode(opStatus, &emptyBody{})))
				if r == nil {
					break
				}
				if r.typ == replyError && r.err.Code == CodeBusy {
					busy++
				}
			}
			if busy == 0 {
				t.Fatal("no request answered busy before the cut")
			}
		}, endpoint.CodeFlood, "flood"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, newFake(1), c.lim)
			conn := rawConn(t, ts)
			c.do(t, conn)
			if code := closedWith(t, conn); code != c.code {
				t.Fatalf("closed with %#x, want %#x", code, c.code)
			}
			if n := ts.srv.Counts().Cut[c.cut]; n != 1 {
				t.Fatalf("cut %q counted %d times", c.cut, n)
			}
			if _, err := ts.client.Status(ctx(t)); err != nil {
				t.Fatalf("another client after the cut: %v", err)
			}
		})
	}
}

// A stream that never finishes its request is given up, and counted.
func TestSilentRequestTimesOut(t *testing.T) {
	ts := startServer(t, newFake(1), Limits{RequestTimeout: 200 * time.Millisecond})
	conn := rawConn(t, ts)
	st, err := conn.OpenStreamSync(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte{0, 0, 0, 9, opStatus}) // 4 of 9 bytes, then nothing
	if _, err := st.Read(make([]byte, 1)); err == nil {
		t.Fatal("the server answered a request it did not receive")
	}
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.Counts().Cut["timeout"] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("timeout not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Connections beyond the limit are refused with CodeBusy.
func TestConnectionLimit(t *testing.T) {
	ts := startServer(t, newFake(1), Limits{MaxConns: 1}) // the test's own client holds it
	// Once a request of the client is answered, the server has taken its
	// connection: the client's side of the handshake ends half a round trip
	// before the server's, and on a loaded machine the second connection
	// could otherwise be accepted first and take the one slot.
	if _, err := ts.client.Status(ctx(t)); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, ts)
	if code := closedWith(t, conn); code != endpoint.CodeBusy {
		t.Fatalf("closed with %#x", code)
	}
	if ts.srv.Counts().Cut["busy"] != 1 {
		t.Fatal("busy refusal not counted")
	}
}
