package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/net/endpoint"
	"github.com/urna-vote/urna/net/mesh"
)

// Floods against a real node process, while voters at two stations (one
// of them the station under attack) keep casting ballots:
//
//   - clients that submit invalid ballots as fast as they can, on 16
//     streams at once, reconnecting each time they are cut off: forged
//     ones (valid encoding, eligible credentials, proofs that do not
//     verify), and ballots of credentials not on the roll;
//   - a client that sends a request frame declaring 1 GiB, and keeps
//     sending its bytes;
//   - a client that opens connections without end (bounded here: more
//     than the node's limit of 256);
//   - strangers (keys of no station) at the stations' protocol.
//
// Every voter's ballot must be committed; the node's memory must stay
// bounded (its peak resident size, VmHWM, grows by less than 256 MiB);
// the forger must be cut off after a few forgeries, the other flooder
// answered busy and cut off, the 1 GiB frame
// cut off at once, the connections above the limit refused, the strangers
// refused at the handshake; and the
// node's /metrics must count each.
func TestFloodsAgainstANode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	const voters, forgedVoters = 40, 40
	e, addrs, dir := newProcessElection(t, voters+forgedVoters)
	nodes := make([]*nodeProc, 4)
	for i := range nodes {
		nodes[i] = startNode(t, e.home(i))
	}
	defer func() {
		if t.Failed() {
			t.Logf("station 0 log tail:\n%s", nodes[0].logTail())
		}
	}()
	c0 := e.dial(t, 0, "")
	el := e.electionKey(t, c0)
	gen := filepath.Join(dir, "genesis.json")
	for i, o := range []string{"clerk", "deputy-clerk"} {
		if _, err := runBin(t, "polls", "open", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addrs[i], "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, c0, chain.PhaseOpen, 60*time.Second)
	g := e.genesis
	pid := nodes[0].cmd.Process.Pid
	memBefore := procMemory(t, pid)
	target := addrs[0]
	pin := []ed25519.PublicKey{g.Stations()[0].PublicKey}

	// The forged ballots: eligible credentials that have not voted, a range
	// proof that does not verify, signed by the credential.
	var forged [][]byte
	for k := voters; k < voters+forgedVoters; k++ {
		cred := ballot.DeriveCredential(g.ElectionID(), e.codes[k])
		b, _, err := el.NewBallot(cred, g.Stations()[0].ID, ballot.Choices{{true, false, false, false}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pr := &b.Contests[0].Proof
		pr.Branches[0].V = pr.Branches[1].V
		copy(b.Signature[:], cred.Sign(b.SigningBytes()))
		forged = append(forged, chain.NewBallotTx(b).Encode())
	}

	// The voters: two connections to the station under attack, two to
	// another, each voter's ballot committed (a "busy" is retried).
	v := newVoters(e, el)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	next := make(chan int)
	// The last ten ballots wait until the connection flood holds the node
	// full: they are cast while it does.
	const late = 10
	floodHeld := make(chan struct{})
	go func() {
		defer close(next)
		for k := range voters {
			if k == voters-late {
				select {
				case <-floodHeld:
				case <-ctx.Done():
					return
				}
			}
			select {
			case next <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := range 4 {
		s := w % 2
		c := e.dial(t, s, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), 3))
			for k := range next {
				if err := v.vote(ctx, c, g.Stations()[s].ID, k, rng); err != nil {
					v.mu.Lock()
					v.failures = append(v.failures, err)
					v.mu.Unlock()
				}
				time.Sleep(50 * time.Millisecond) // a polling station's pace, not a flood
			}
		}()
	}

	// 1. Invalid ballots at full speed, on 16 streams at once,
	// reconnecting after each cut: (a) forged ones, which no honest
	// terminal sends: cut off after a few (MaxMalformed); (b) ballots of
	// credentials not on the roll, as a mistyped voting code makes: refused
	// cheaply, answered busy above the rate limit, cut off as a flood.
	var strangers [][]byte
	for range 50 {
		code, err := ballot.NewVotingCode(crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := el.NewBallot(ballot.DeriveCredential(g.ElectionID(), code), g.Stations()[0].ID, ballot.Choices{{false, true, false, false}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		strangers = append(strangers, chain.NewBallotTx(b).Encode())
	}
	floods := []struct {
		name string
		txs  [][]byte
		rule string
		code quic.ApplicationErrorCode
	}{
		{"forged ballots", forged, "bad-ballot", endpoint.CodeGarbage},
		{"ballots of strangers", strangers, "ineligible", endpoint.CodeFlood},
	}
	cuts := map[quic.ApplicationErrorCode]int{}
	for _, fl := range floods {
		var busy, rejected atomic.Int64
		for conn := range 4 {
			c, err := api.Dial(ctx, target, pin, nil)
			if err != nil {
				t.Fatalf("flooder connection %d: %v", conn, err)
			}
			var fw sync.WaitGroup
			var cutCode atomic.Uint64
			for s := range 16 {
				fw.Add(1)
				go func() {
					defer fw.Done()
					for i := 0; i < 2000 && cutCode.Load() == 0; i++ {
						_, err := c.Submit(ctx, fl.txs[(s*7+i)%len(fl.txs)])
						var rej *api.RejectedError
						var ae *quic.ApplicationError
						switch {
						case errors.As(err, &rej):
							if rej.Rule != fl.rule {
								t.Errorf("%s: refused for %q, want %q", fl.name, rej.Rule, fl.rule)
							}
							rejected.Add(1)
						case errors.Is(err, api.ErrBusy):
							busy.Add(1)
						case errors.As(err, &ae) && ae.Remote:
							cutCode.Store(uint64(ae.ErrorCode))
						case err != nil:
							if ctx.Err() != nil {
								return
							}
							cutCode.Store(1 << 32)
							t.Errorf("%s: %v", fl.name, err)
						default:
							t.Errorf("%s: a ballot was accepted", fl.name)
						}
					}
				}()
			}
			fw.Wait()
			c.Close()
			if got := quic.ApplicationErrorCode(cutCode.Load()); got != fl.code {
				t.Fatalf("%s: connection %d ended with code %d, want %d", fl.name, conn, got, fl.code)
			}
			cuts[fl.code]++
		}
		t.Logf("%s at full speed: %d refused (%s), %d answered busy, cut off 4 times; %d voters' ballots committed so far",
			fl.name, rejected.Load(), fl.rule, busy.Load(), v.committed())
		if rejected.Load() == 0 {
			t.Errorf("%s: none refused", fl.name)
		}
		if fl.code == endpoint.CodeFlood && busy.Load() == 0 {
			t.Errorf("%s: never answered busy", fl.name)
		}
		if fl.code == endpoint.CodeGarbage && rejected.Load() > 4*(16+3) {
			t.Errorf("%s: %d verified and refused on 4 connections: more than the streams in flight and MaxMalformed", fl.name, rejected.Load())
		}
	}

	// 2. A request frame declaring 1 GiB, followed by as many bytes as
	// the node takes (at most 64 MiB here).
	tr := quicTransport(t)
	qc, err := tr.Dial(ctx, udpAddr(t, target), endpoint.ClientTLS(api.ALPN, pin, nil), &quic.Config{HandshakeIdleTimeout: 10 * time.Second, MaxIdleTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := qc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1<<30)
	st.SetWriteDeadline(time.Now().Add(60 * time.Second))
	sent := 0
	if _, err := st.Write(hdr[:]); err == nil {
		chunk := make([]byte, 1<<20)
		for sent < 64<<20 {
			n, err := st.Write(chunk)
			sent += n
			if err != nil {
				break
			}
		}
	}
	select {
	case <-qc.Context().Done():
	case <-time.After(30 * time.Second):
	}
	if !closedWith(context.Cause(qc.Context()), endpoint.CodeOversized) {
		t.Fatalf("the 1 GiB frame: connection ends with %v, want the code %d (oversized)", context.Cause(qc.Context()), endpoint.CodeOversized)
	}
	t.Logf("1 GiB frame: cut off after %d MiB of its payload were written", sent>>20)

	// 3. Connections without end: 300 (the node allows 256 clients, and
	// the voters hold 3 of them), opened 32 at a time and held.
	var mu sync.Mutex
	var conns []*quic.Conn
	var failed atomic.Int64
	var cw sync.WaitGroup
	slots := make(chan struct{}, 32)
	for range 300 {
		slots <- struct{}{}
		cw.Add(1)
		go func() {
			defer cw.Done()
			defer func() { <-slots }()
			c, err := tr.Dial(ctx, udpAddr(t, target), endpoint.ClientTLS(api.ALPN, pin, nil), &quic.Config{HandshakeIdleTimeout: 10 * time.Second, MaxIdleTimeout: 60 * time.Second, KeepAlivePeriod: 5 * time.Second})
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	cw.Wait()
	defer func() {
		for _, c := range conns {
			c.CloseWithError(0, "")
		}
	}()
	// A connection above the limit is closed right after its handshake
	// (once the node's accept loop gets to it). The test holds 3 others to
	// station 0: its first client and two voters'.
	const others = 3
	var open, refused int
	waitFor(t, 60*time.Second, "the node to refuse the connections above its limit", func() (bool, error) {
		open, refused = 0, 0
		for _, c := range conns {
			select {
			case <-c.Context().Done():
				if closedWith(context.Cause(c.Context()), endpoint.CodeBusy) {
					refused++
				}
			default:
				open++
			}
		}
		return open <= 256-others && open+refused == len(conns), nil
	})
	t.Logf("connection flood: %d held open, %d refused (busy), %d handshakes failed", open, refused, failed.Load())
	if refused == 0 {
		t.Errorf("connection flood: none refused")
	}
	// While the node is full, the voters already connected go on.
	close(floodHeld)
	wg.Wait()
	if len(v.failures) > 0 {
		t.Fatalf("%d voters' ballots failed; first: %v", len(v.failures), v.failures[0])
	}
	if v.committed() != voters {
		t.Fatalf("%d of %d voters' ballots committed", v.committed(), voters)
	}
	for _, c := range conns {
		select {
		case <-c.Context().Done():
		default:
			continue
		}
		if !closedWith(context.Cause(c.Context()), endpoint.CodeBusy) {
			t.Fatalf("a held connection ended: %v", context.Cause(c.Context()))
		}
	}

	// 4. Strangers at the stations' protocol on the same port: 50
	// handshakes with keys that are no station's, each refused.
	strangersRefused := 0
	for range 50 {
		_, key, _ := ed25519.GenerateKey(crand.Reader)
		cert, err := endpoint.Certificate(key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tr.Dial(ctx, udpAddr(t, target), endpoint.ClientTLS(mesh.ALPN, pin, &cert), &quic.Config{HandshakeIdleTimeout: 10 * time.Second})
		if err == nil {
			// TLS 1.3: the refusal of our certificate may come after Dial.
			_, err = c.AcceptStream(ctx)
		}
		var te *quic.TransportError // a TLS alert: the handshake was refused
		if errors.As(err, &te) && te.ErrorCode.IsCryptoError() {
			strangersRefused++
		} else {
			t.Errorf("a stranger at the stations' protocol: %v", err)
		}
	}
	if strangersRefused != 50 {
		t.Errorf("%d of 50 strangers refused at the stations' protocol", strangersRefused)
	}

	// Memory stayed bounded.
	memAfter := procMemory(t, pid)
	t.Logf("node memory: resident %d → %d MiB, peak %d → %d MiB", memBefore.rss>>20, memAfter.rss>>20, memBefore.hwm>>20, memAfter.hwm>>20)
	if memAfter.hwm > max(memBefore.hwm, memBefore.rss)+256<<20 {
		t.Errorf("the node's peak memory grew from %d to %d MiB", memBefore.hwm>>20, memAfter.hwm>>20)
	}

	// The metrics count each offence.
	cfg, err := loadNodeConfig(mustHome(t, e.home(0)))
	if err != nil {
		t.Fatal(err)
	}
	m := scrape(t, cfg.Metrics)
	for _, want := range []string{
		`urna_client_cut_total{reason="flood"}`,
		`urna_client_cut_total{reason="garbage"}`,
		`urna_client_cut_total{reason="oversized"}`,
		`urna_client_cut_total{reason="busy"}`,
		`urna_client_errors_total{code="busy"}`,
		`urna_client_rejections_total{rule="bad-ballot"}`,
		`urna_client_rejections_total{rule="ineligible"}`,
	} {
		if metricValue(t, m, want) == 0 {
			t.Errorf("metric %s is 0", want)
		}
	}
	if n := metricSum(m, "urna_net_events_total", `event="refused"`); n < 50 {
		t.Errorf("urna_net_events_total{event=\"refused\"} is %v, 50 strangers were refused", n)
	}
	for reason, code := range map[string]quic.ApplicationErrorCode{"flood": endpoint.CodeFlood, "garbage": endpoint.CodeGarbage} {
		if got := metricValue(t, m, `urna_client_cut_total{reason="`+reason+`"}`); got < float64(cuts[code]) {
			t.Errorf("urna_client_cut_total{reason=%q} is %v, the flooders were cut %d times so", reason, got, cuts[code])
		}
	}
}

// metricSum sums a metric's samples whose labels contain a string.
func metricSum(scrape, name, labels string) float64 {
	var sum float64
	for _, line := range strings.Split(scrape, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok || !strings.Contains(rest, labels) {
			continue
		}
		f := strings.Fields(rest)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// newProcessElection makes an election of four stations on free loopback
// ports with `urna init`.
func newProcessElection(t *testing.T, voters int) (*testElection, []string, string) {
	t.Helper()
	urnaBinary(t)
	dir := filepath.Join(t.TempDir(), "e")
	var addrs []string
	for range 4 {
		p, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	if _, err := runBin(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir,
		"--voters", strconv.Itoa(voters), "--addresses", strings.Join(addrs, ",")); err != nil {
		t.Fatal(err)
	}
	return loadTestElection(t, dir), addrs, dir
}

// closedWith reports whether err is a connection closed by the node with
// an application error code.
func closedWith(err error, code quic.ApplicationErrorCode) bool {
	var ae *quic.ApplicationError
	return errors.As(err, &ae) && ae.Remote && ae.ErrorCode == code
}

func quicTransport(t *testing.T) *quic.Transport {
	t.Helper()
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: uc}
	t.Cleanup(func() { tr.Close(); uc.Close() })
	return tr
}

func udpAddr(t *testing.T, addr string) *net.UDPAddr {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ua
}

type memory struct{ rss, hwm uint64 }

// procMemory reads a process's resident and peak resident size (Linux).
func procMemory(t *testing.T, pid int) memory {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to measure the node's memory: %v", err)
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.rss = n << 10
		case "VmHWM":
			m.hwm = n << 10
		}
	}
	if m.rss == 0 || m.hwm == 0 {
		t.Fatalf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return m
}
