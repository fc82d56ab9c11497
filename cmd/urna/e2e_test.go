package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/record"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// nodeProc is one `urna node` process.
type nodeProc struct {
	t    *testing.T
	home string
	log  string
	cmd  *exec.Cmd
	done chan error
}

func startNode(t *testing.T, home string) *nodeProc {
	t.Helper()
	p := &nodeProc{t: t, home: home, log: home + ".log"}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"node", "--home", home}
	if os.Getenv("URNA_E2E_KEEP") != "" {
		args = append(args, "--log-level", "debug")
	}
	p.cmd = exec.Command(urnaBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill stops the process at once (SIGKILL), as a crash would.
func (p *nodeProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
	p.done <- errors.New("killed")
}

// stop asks the process to stop (SIGTERM) and waits for a clean exit.
func (p *nodeProc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(30 * time.Second):
		p.kill()
		return errors.New("did not stop within 30 s of SIGTERM")
	}
}

func (p *nodeProc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// An election across four real `urna node` processes on loopback: the
// key ceremony, polls opened by an official quorum through `urna polls`,
// 500 ballots from concurrent clients while one station is killed (-9) and
// restarted (it catches up by block sync), the polls closed, the tally.
// The result must equal the plain choices, every ballot a client was told
// is committed must be in every station's chain at the height it was told,
// and invalid transactions must be refused with the rule they break.
func TestElectionAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	urnaBinary(t)
	start := time.Now()
	const ballots = 500
	dir := filepath.Join(t.TempDir(), "e")
	if keep := os.Getenv("URNA_E2E_KEEP"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("election-%d", time.Now().Unix()))
		t.Logf("keeping the election and the nodes' logs in %s", dir)
	}
	var addrs []string
	for range 4 {
		p, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	if _, err := runBin(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir,
		"--voters", strconv.Itoa(ballots+1), "--addresses", strings.Join(addrs, ",")); err != nil {
		t.Fatal(err)
	}
	e := loadTestElection(t, dir)
	g := e.genesis
	nodes := make([]*nodeProc, 4)
	for i := range nodes {
		nodes[i] = startNode(t, e.home(i))
	}
	defer func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("station %d log tail:\n%s", i, n.logTail())
			}
		}
	}()
	clients := make([]*api.Client, 4)
	for i := range clients {
		clients[i] = e.dial(t, i, "")
	}
	el := e.electionKey(t, clients[0])
	t.Logf("election key verified from the setup blocks after %v", time.Since(start).Round(time.Millisecond))
	gen := filepath.Join(dir, "genesis.json")

	// An observer follows the election block by block from the four
	// stations (one of which dies on the way) until the result is on the
	// chain; its report must be the one of the record exported at the end.
	follow := exec.Command(urnaBinary(t), "tally", "--genesis", gen, "--node", strings.Join(addrs, ","), "--follow", "--json", "--timeout", "20s")
	var followOut, followErr strings.Builder
	follow.Stdout, follow.Stderr = &followOut, &followErr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	followDone := make(chan error, 1)
	go func() { followDone <- follow.Wait() }()
	t.Cleanup(func() { follow.Process.Kill() })

	// Open the polls: two officials, through two stations.
	if _, err := runBin(t, "polls", "open", "--key", filepath.Join(dir, "officials", "clerk.key"), "--node", addrs[0], "--genesis", gen); err != nil {
		t.Fatal(err)
	}
	out, err := runBin(t, "polls", "open", "--key", filepath.Join(dir, "officials", "deputy-clerk.key"), "--node", addrs[1], "--genesis", gen)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "approvals 2 of 2 to open the polls") {
		t.Fatalf("polls open said:\n%s", out)
	}
	waitPhase(t, clients[0], chain.PhaseOpen, 30*time.Second)

	// Ballots from 12 concurrent voters over 6 connections to stations 0-2,
	// while station 3 is killed and later restarted.
	v := newVoters(e, el)
	type work struct {
		c  *api.Client
		st string
	}
	var conns []work
	for i := range 6 {
		conns = append(conns, work{c: e.dial(t, i%3, ""), st: g.Stations()[i%3].ID})
	}
	next := make(chan int)
	go func() {
		for k := range ballots {
			next <- k
		}
		close(next)
	}()
	// Generous: on a loaded machine a round whose proposer is down or
	// catching up costs a propose timeout (3 s).
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), 1))
			c := conns[w%len(conns)]
			for k := range next {
				if err := v.vote(ctx, c.c, c.st, k, rng); err != nil {
					v.mu.Lock()
					v.failures = append(v.failures, err)
					v.mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	waitFor(t, 4*time.Minute, "150 ballots committed", func() (bool, error) { return v.committed() >= 150, nil })
	nodes[3].kill()
	t.Logf("station 3 killed (-9) at %d ballots, %v", v.committed(), time.Since(start).Round(time.Millisecond))
	waitFor(t, 4*time.Minute, "300 ballots committed", func() (bool, error) { return v.committed() >= 300, nil })
	nodes[3] = startNode(t, e.home(3))
	t.Logf("station 3 restarted at %d ballots, %v", v.committed(), time.Since(start).Round(time.Millisecond))
	wg.Wait()
	if len(v.failures) > 0 {
		t.Fatalf("%d ballots failed; first: %v", len(v.failures), v.failures[0])
	}
	t.Logf("%d ballots committed after %v", v.committed(), time.Since(start).Round(time.Millisecond))

	// Invalid transactions are refused with the rule they break.
	refusals(t, e, el, clients[0])

	// Close the polls, and wait for the tally.
	for _, o := range []string{"clerk", "observer"} {
		if _, err := runBin(t, "polls", "close", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addrs[2], "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, clients[0], chain.PhaseTallied, 60*time.Second)

	// Every station holds the same chain; station 0's verifies block by
	// block (every proof, every certificate) to the plain counts.
	clients[3] = e.dialRetry(t, 3, "", 30*time.Second) // its old connection died with it
	heads := make([]uint64, 4)
	waitFor(t, 60*time.Second, "the restarted station to catch up", func() (bool, error) {
		for i, c := range clients {
			st, err := c.Status(context.Background())
			if err != nil {
				return false, err
			}
			heads[i] = st.Height
		}
		return heads[3] >= heads[0], nil
	})
	chains := make([][]verify.Block, 4)
	for i, c := range clients {
		chains[i] = fetchAll(t, c, heads[0])
	}
	for i := 1; i < 4; i++ {
		for h := range chains[0] {
			if !bytes.Equal(chains[i][h].Block, chains[0][h].Block) {
				t.Fatalf("station %d's block %d differs from station 0's", i, h+1)
			}
		}
	}
	f, err := verify.NewFollower(g, e.roll)
	if err != nil {
		t.Fatal(err)
	}
	where := map[[32]byte]uint64{}
	for _, b := range chains[0] {
		a, err := f.Apply(b.Block, b.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range a.Block.Txs {
			where[sha256.Sum256(tx)] = b.Height
		}
	}
	st := f.State()
	if st.Phase != chain.PhaseTallied || st.Counted != ballots {
		t.Fatalf("verified chain: phase %v, %d counted", st.Phase, st.Counted)
	}
	if !slices.Equal(st.Result[0], v.counts) {
		t.Fatalf("result %v, the plain choices %v", st.Result[0], v.counts)
	}
	for _, c := range v.casts {
		if where[c.hash] != c.height {
			t.Fatalf("ballot %x told committed at %d is at %d of the chain", c.hash[:6], c.height, where[c.hash])
		}
	}
	// And each station finds a tracking code.
	for i, c := range clients {
		tr, err := c.Tracking(context.Background(), v.casts[i].code)
		if err != nil || chain.TrackingStatus(tr.Status) != chain.StatusCast || tr.Height != v.casts[i].height {
			t.Fatalf("station %d: tracking %s: %+v %v", i, v.casts[i].code, tr, err)
		}
	}
	t.Logf("result %v verified after %v", st.Result[0], time.Since(start).Round(time.Millisecond))

	// The operator's tools: status --json, export --node, metrics.
	out, err = runBin(t, "status", "--node", addrs[3], "--genesis", gen, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sj statusJSON
	if err := json.Unmarshal([]byte(out), &sj); err != nil || sj.Phase != "TALLIED" || sj.Counted != ballots || sj.Station != g.Stations()[3].ID {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	recFile := filepath.Join(dir, "election.record")
	if _, err := runBin(t, "export", "--node", addrs[1], "--genesis", gen, "--out", recFile); err != nil {
		t.Fatal(err)
	}
	rf, err := os.Open(recFile)
	if err != nil {
		t.Fatal(err)
	}
	fp := g.Fingerprint()
	ver, err := record.Replay(rf, &fp, nil)
	rf.Close()
	if err != nil || ver.State.Counted != ballots || !slices.Equal(ver.State.Result[0], v.counts) {
		t.Fatalf("exported record: %v", err)
	}
	out, err = runBin(t, "tally", "--genesis", gen, "--record", recFile, "--json")
	if err != nil {
		t.Fatal(err)
	}
	plain := decodeReport(t, out)
	if !plain.Verified || !plain.Tallied || plain.Counted != ballots || !slices.Equal(resultOf(plain), v.counts) {
		t.Fatalf("urna tally --record: %+v", plain.Report)
	}
	select {
	case err := <-followDone:
		if err != nil {
			t.Fatalf("urna tally --follow: %v\n%s", err, followErr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("urna tally --follow did not end once the result was on the chain:\n%s", followErr.String())
	}
	followed := decodeReport(t, followOut.String())
	sameReport(t, followed, plain)
	for i, s := range followed.Stations {
		if !s.Agrees || s.Station != g.Stations()[i].ID || s.Height == 0 {
			t.Fatalf("urna tally --follow: station %d: %+v", i, s)
		}
	}
	t.Logf("urna tally --follow verified %d blocks as they came and ends with the record's report", followed.Height)
	cfg, err := loadNodeConfig(mustHome(t, e.home(0)))
	if err != nil {
		t.Fatal(err)
	}
	metrics := scrape(t, cfg.Metrics)
	for _, want := range []string{"urna_ballots_counted 500", "urna_phase 5", "urna_peers 3", `urna_client_rejections_total{rule="already-voted"} 1`} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}

	if os.Getenv("URNA_E2E_KEEP") != "" {
		for i := range nodes {
			c, err := loadNodeConfig(mustHome(t, e.home(i)))
			if err == nil {
				os.WriteFile(e.home(i)+".metrics", []byte(scrape(t, c.Metrics)), 0o644)
			}
		}
	}

	// A clean stop: every node exits 0 on SIGTERM and says so.
	for i, n := range nodes {
		if err := n.stop(); err != nil {
			t.Fatalf("station %d: %v", i, err)
		}
		if !strings.Contains(n.logTail(), "station stopped") {
			t.Fatalf("station %d's log does not end with its stop", i)
		}
	}
	t.Logf("whole election across processes: %v", time.Since(start).Round(time.Millisecond))
}

// refusals submits invalid transactions and checks each is refused with
// the rule it breaks.
func refusals(t *testing.T, e *testElection, el *ballot.Election, c *api.Client) {
	t.Helper()
	ctx := context.Background()
	cred := ballot.DeriveCredential(e.genesis.ElectionID(), e.codes[0]) // voted already
	again, _, err := el.NewBallot(cred, e.genesis.Stations()[0].ID, ballot.Choices{{true, false, false, false}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	outsider, err := ballot.NewVotingCode(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _, err := el.NewBallot(ballot.DeriveCredential(e.genesis.ElectionID(), outsider), e.genesis.Stations()[0].ID, ballot.Choices{{true, false, false, false}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, notOfficial, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name string
		tx   []byte
		rule error
	}{
		{"a second ballot of a credential", chain.NewBallotTx(again).Encode(), chain.ErrAlreadyVoted},
		{"a ballot of a credential not on the roll", chain.NewBallotTx(stranger).Encode(), chain.ErrIneligible},
		{"an approval signed by a non-official", chain.NewApprovalTx(e.genesis.Fingerprint(), chain.ActionClose, notOfficial).Encode(), chain.ErrNotOfficial},
		{"garbage", []byte("not a transaction"), chain.ErrTxEncoding},
	}
	for _, tc := range cases {
		_, err := c.Submit(ctx, tc.tx)
		var rej *api.RejectedError
		if !errors.As(err, &rej) || !errors.Is(chain.RuleError(rej.Rule), tc.rule) {
			t.Errorf("%s: %v, want a refusal for rule %q", tc.name, err, chain.RuleName(tc.rule))
		}
	}
}

// fetchAll fetches blocks 1..head.
func fetchAll(t *testing.T, c *api.Client, head uint64) []verify.Block {
	t.Helper()
	var out []verify.Block
	for uint64(len(out)) < head {
		bs, _, err := c.Blocks(context.Background(), uint64(len(out))+1, head)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) == 0 {
			t.Fatalf("no block %d", len(out)+1)
		}
		for _, b := range bs {
			out = append(out, verify.Block{Height: b.Height, Block: b.Block, Certificate: b.Certificate})
		}
	}
	return out
}

func mustHome(t *testing.T, dir string) *home {
	h, err := openHome(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
