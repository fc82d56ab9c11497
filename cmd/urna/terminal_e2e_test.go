package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
)

// TestTerminalsEndToEnd drives the built urna binary in tmux against a real
// local cluster of four `urna node` processes, as a voter and an official
// would: the official console approves opening the polls; a voter types a
// code, marks a choice and casts, and the tracking code read off the screen
// is on the chain; a voter challenges, sees the revealed choice, votes
// again; a voter's station dies and the terminal sends the same ballot
// through another; a voter uses the line-by-line mode; the polls close and
// the console shows the results it verified itself, in which the challenged
// ballot is not counted.
func TestTerminalsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end (four node processes and the terminals in tmux): not with -short")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it); the terminals' end-to-end test needs it")
	}
	bin := urnaBinary(t)
	dir := filepath.Join(t.TempDir(), "election")
	var addrs []string
	for range 4 {
		p, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	mustRun(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", "8",
		"--addresses", strings.Join(addrs, ","), "--metrics", "off")
	gen := filepath.Join(dir, "genesis.json")
	e := loadTestElection(t, dir)
	g := e.genesis
	var codes []string
	for _, c := range e.codes {
		codes = append(codes, string(c))
	}
	nodes := map[string]*nodeProc{}
	for i, st := range g.Stations() {
		nodes[st.ID] = startNode(t, e.home(i))
	}
	defer func() {
		if t.Failed() {
			for id, n := range nodes {
				t.Logf("station %s log tail:\n%s", id, n.logTail())
			}
		}
	}()
	waitPhase(t, e.dialRetry(t, 0, "", time.Minute), chain.PhaseReady, 2*time.Minute)

	tm := newTmux(t)
	off := tm.start("official", bin, "official", "--node", addrs[0], "--genesis", gen,
		"--key", filepath.Join(dir, "officials", "clerk.key"), "--log", filepath.Join(dir, "official.log"))
	off.waitFor("READY: the key is known")
	off.keys("o")
	off.waitFor("Approve OPENING the polls?")
	off.keys("y")
	off.waitFor("Your approval of opening the polls is on the chain")
	mustRun(t, "polls", "open", "--key", filepath.Join(dir, "officials", "deputy-clerk.key"), "--node", addrs[1], "--genesis", gen)
	off.waitFor("OPEN: the polls are open")

	// A voter at South Fire Station casts for Ben Lindqvist.
	v := tm.start("vote", bin, "vote", "--node", addrs[2], "--genesis", gen, "--log", filepath.Join(dir, "vote.log"))
	v.waitFor("The polls are OPEN.")
	v.keys("Enter")
	v.waitFor("Your voting code")
	v.literal(strings.ToLower(codes[0]))
	v.waitFor("The code checks out.")
	v.keys("Enter")
	v.waitFor("Mayor of Riverton")
	v.keys("Down", "Space", "Enter")
	sealed := v.match(`Tracking code of this ballot: (\S+)`)
	v.keys("c")
	v.waitFor("Cast this ballot?")
	v.keys("y")
	screen := v.waitFor("Your vote is cast. It is recorded in block")
	cast := boxedCode(t, screen)
	if cast != sealed {
		t.Fatalf("the tracking code shown after the cast (%s) is not the sealed ballot's (%s)", cast, sealed)
	}
	if got := tracking(t, g, addrs[1], cast); got.Status != uint8(chain.StatusCast) {
		t.Fatalf("tracking code %s read off the screen is %+v on the chain (asked another station)", cast, got)
	}
	v.keys("Enter")
	v.waitFor("Welcome.")

	// A voter challenges a ballot for Dolores Vega, then votes Amara Okafor.
	v.keys("Enter")
	v.literal(codes[1])
	v.keys("Enter")
	v.waitFor("Mayor of Riverton")
	v.keys("Down", "Down", "Down", "Space", "Enter")
	v.waitFor("Sealed.")
	v.keys("h")
	v.waitFor("Challenge this ballot?")
	v.keys("y")
	screen = v.waitFor("This ballot will NOT be counted")
	if !strings.Contains(screen, "Dolores Vega") {
		t.Fatalf("the challenge does not show the revealed choice:\n%s", screen)
	}
	challenged := v.match(`Its tracking code (\S+) shows as`)
	if got := tracking(t, g, addrs[3], challenged); got.Status != uint8(chain.StatusChallenged) {
		t.Fatalf("challenged ballot %s is %+v on the chain", challenged, got)
	}
	v.keys("Enter")
	v.waitFor("Mayor of Riverton")
	v.keys("Down", "Down", "Down", "Space", "Up", "Up", "Up", "Space", "Enter")
	v.waitFor("Amara Okafor")
	v.waitFor("Sealed.")
	v.keys("c", "y")
	v.waitFor("Your vote is cast.")
	v.keys("Enter")
	v.waitFor("Welcome.")

	// The terminal's station dies while a voter casts: the same sealed
	// ballot goes through another station.
	v.keys("Enter")
	v.literal(codes[2])
	v.keys("Enter")
	v.waitFor("Mayor of Riverton")
	v.keys("Down", "Down", "Space", "Enter")
	v.waitFor("Sealed.")
	if err := nodes["south"].stop(); err != nil {
		t.Fatal(err)
	}
	v.keys("c", "y")
	v.waitFor("This station cannot be reached.")
	v.keys("Enter") // North Library, the first other station
	v.waitFor("(via North Library)")
	v.waitFor("Your vote is cast.")
	v.keys("Enter")

	// A voter in line-by-line mode, through East Community Hall.
	cmd := exec.Command(bin, "vote", "--accessible", "--node", addrs[1], "--genesis", gen, "--log", filepath.Join(dir, "accessible.log"))
	cmd.Stdin = strings.NewReader("1\n" + codes[3] + "\n4\nc\ny\n\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Your vote is cast.") || strings.Contains(string(out), "\x1b[") {
		t.Fatalf("line-by-line vote: %v\n%s", err, out)
	}

	// Close the polls; the console shows the results it verified.
	off.keys("c")
	off.waitFor("Approve CLOSING the polls?")
	off.keys("y")
	off.waitFor("Your approval of closing the polls is on the chain")
	mustRun(t, "polls", "close", "--key", filepath.Join(dir, "officials", "deputy-clerk.key"), "--node", addrs[0], "--genesis", gen)
	off.waitForWithin("TALLIED: the results are on the chain", 2*time.Minute)
	off.keys("r")
	screen = off.waitFor("Verified results")
	for name, want := range map[string]int{"Amara Okafor": 1, "Ben Lindqvist": 1, "Chen Wei": 1, "Dolores Vega": 1} {
		m := regexp.MustCompile(regexp.QuoteMeta(name) + `\s+[#.]+\s+(\d+)`).FindStringSubmatch(screen)
		if m == nil {
			t.Fatalf("no count for %s:\n%s", name, screen)
		}
		if n, _ := strconv.Atoi(m[1]); n != want {
			t.Errorf("%s has %d votes, want %d (the challenged ballot must not count):\n%s", name, n, want, screen)
		}
	}
}

// mustRun runs the binary to completion.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runBin(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tracking asks a station (not the one the ballot went through) about a
// tracking code.
func tracking(t *testing.T, g *genesis.Genesis, addr, code string) struct{ Status uint8 } {
	t.Helper()
	canon, err := ballot.ParseTrackingCode(code)
	if err != nil {
		t.Fatalf("%q read off the screen is not a tracking code: %v", code, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := dialStation(ctx, g, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The block may reach this station a moment after the terminal's.
	for {
		tr, err := c.Tracking(ctx, canon)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != 0 || ctx.Err() != nil {
			return struct{ Status uint8 }{tr.Status}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// boxedCode reads the tracking code out of its box on the screen: groups
// separated by three spaces, symbols by one.
func boxedCode(t *testing.T, screen string) string {
	t.Helper()
	var groups []string
	for _, l := range strings.Split(screen, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "│") {
			continue
		}
		l = strings.TrimSpace(strings.Trim(l, "│"))
		for _, g := range strings.Split(l, "   ") {
			groups = append(groups, strings.ReplaceAll(g, " ", ""))
		}
	}
	if len(groups) == 0 {
		t.Fatalf("no tracking code box on the screen:\n%s", screen)
	}
	return strings.Join(groups, "-")
}

// tmux is a private tmux server for one test, its socket in the test's
// temporary directory.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T) *tmux {
	x := &tmux{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.socket, "kill-server").Run() })
	return x
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pane is one program running in an 80x24 tmux window, without colour.
type pane struct {
	x    *tmux
	name string
}

func (x *tmux) start(name, bin string, args ...string) *pane {
	x.t.Helper()
	quoted := []string{"NO_COLOR=1", "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true", "exec", shellQuote(bin)}
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	x.run("new-session", "-d", "-s", name, "-x", "80", "-y", "24", "sh -c '"+strings.ReplaceAll(strings.Join(quoted, " "), "'", `'\''`)+"; echo EXIT=$?; sleep 600'")
	return &pane{x: x, name: name}
}

func shellQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func (p *pane) screen() string { return p.x.run("capture-pane", "-p", "-t", p.name) }

func (p *pane) waitFor(text string) string { return p.waitForWithin(text, 60*time.Second) }

func (p *pane) waitForWithin(text string, within time.Duration) string {
	p.x.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := p.screen()
		if strings.Contains(s, text) {
			return s
		}
		if time.Now().After(deadline) {
			p.x.t.Fatalf("%s: %q did not appear within %s; the screen:\n%s", p.name, text, within, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// match waits for a line matching re and returns its first group.
func (p *pane) match(re string) string {
	p.x.t.Helper()
	r := regexp.MustCompile(re)
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := p.screen()
		if m := r.FindStringSubmatch(s); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			p.x.t.Fatalf("%s: nothing matches %s; the screen:\n%s", p.name, re, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// keys presses named keys (Enter, Down, Space, …) or single characters, one
// at a time, as a person does.
func (p *pane) keys(keys ...string) {
	p.x.t.Helper()
	for _, k := range keys {
		p.x.run("send-keys", "-t", p.name, k)
		time.Sleep(150 * time.Millisecond)
	}
}

// literal types text.
func (p *pane) literal(s string) {
	p.x.t.Helper()
	p.x.run("send-keys", "-t", p.name, "-l", s)
	time.Sleep(150 * time.Millisecond)
}
