package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/audit"
)

// The demo's machinery: its station processes, its progress lines, the
// person at the keyboard, and the verification of the record.

// demoNode is one `urna node` process of the demo.
type demoNode struct {
	id   string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit, once done is closed
	// stopping says the demo asked it to stop: its exit is no failure.
	stopping bool
}

// startDemoNode starts `urna node --home home`, its output in home.log.
func startDemoNode(self, home, id string) (*demoNode, error) {
	n := &demoNode{id: id, log: home + ".log", done: make(chan struct{})}
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n.cmd = exec.Command(self, "node", "--home", home)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	n.cmd.Env = append(os.Environ(), "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true")
	n.cmd.SysProcAttr = nodeProcAttr()
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.err = n.cmd.Wait(); close(n.done) }()
	return n, nil
}

// stop asks the node to stop (SIGTERM: it finishes what it does and closes
// its store) and kills it if it has not within 30 s.
func (n *demoNode) stop() {
	n.stopping = true
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// stopNodes stops every station the demo started, all at once.
func (d *demo) stopNodes() {
	var wg sync.WaitGroup
	for _, n := range d.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
}

// nodesAlive is an error if a station's process ended on its own.
func (d *demo) nodesAlive() error {
	for _, n := range d.nodes {
		select {
		case <-n.done:
			if !n.stopping {
				return fmt.Errorf("station %s's node exited (%v); its log is %s", n.id, n.err, n.log)
			}
		default:
		}
	}
	return nil
}

// logTails prints the end of every station's log after a failure, before
// the temporary directory goes.
func (d *demo) logTails() {
	for _, n := range d.nodes {
		b, err := os.ReadFile(n.log)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		lines = lines[max(0, len(lines)-5):]
		fmt.Fprintf(d.stderr, "--- last lines of station %s's log (%s):\n%s\n", n.id, n.log, strings.Join(lines, "\n"))
	}
}

// progressWriter prints the demo's progress, each line stamped with the
// time since the start. While the voter terminal has the screen it holds
// the lines back.
type progressWriter struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	paused bool
	held   bytes.Buffer
}

func (p *progressWriter) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
	if p.paused {
		p.held.WriteString(line)
		return
	}
	io.WriteString(p.w, line)
}

func (p *progressWriter) pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

func (p *progressWriter) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = false
	p.w.Write(p.held.Bytes())
	p.held.Reset()
}

// indent is a writer whose lines become indented progress lines: for the
// output of the commands the demo reuses (polls, export).
func (p *progressWriter) indent() io.Writer { return &lineWriter{p: p} }

type lineWriter struct {
	p       *progressWriter
	partial []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		l.p.say("  %s", l.partial[:i])
		l.partial = l.partial[i+1:]
	}
}

// humanVoter is the person at the keyboard (--vote) and their voting code.
type humanVoter struct {
	code ballot.VotingCode
}

// voteInTerminal gives the screen to the real voter terminal, exactly as
// `urna vote` runs it, connected to the first station.
func (d *demo) voteInTerminal(ctx context.Context, h *humanVoter) error {
	d.out.pause()
	defer d.out.resume()
	st := d.genesis.Stations()[0]
	fmt.Fprintf(d.stdout, "\nThe polls are open and the simulated voters are casting. Your voting code is\n\n    %s\n\n"+
		"Write it down, then press Enter to open the voter terminal of %s.\n"+
		"Type the code, mark your choices, cast (or challenge and then cast); Ctrl-C leaves the terminal.\n", h.code, st.Name)
	enter := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		for {
			if _, err := os.Stdin.Read(b); err != nil {
				enter <- err
				return
			}
			if b[0] == '\n' || b[0] == '\r' {
				enter <- nil
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-enter:
		if err != nil {
			return fmt.Errorf("reading the keyboard: %w", err)
		}
	}
	return runVote(ctx, []string{"--node", st.Address, "--genesis", filepath.Join(d.dir, homeGenesis), "--log", filepath.Join(d.dir, "vote.log")}, d.stdout, d.stderr)
}

// verified is what the verification of the record found.
type verified struct {
	audit            *audit.Report
	result           [][]uint64 // per contest, per candidate
	counted, spoiled uint64
	report           string // urna tally's report, for people
	problems         []string
}

// verifyRecord verifies an election record against the genesis alone,
// exactly as `urna tally --genesis G --record R` does.
func verifyRecord(ctx context.Context, genesisPath, recordPath string) (*verified, error) {
	var out strings.Builder
	rep, err := tallyRecord(ctx, genesisPath, recordPath, &out, false)
	if rep == nil {
		return nil, err
	}
	if err != nil && rep.Verified {
		return nil, err // the audit could not be completed
	}
	v := &verified{audit: rep, counted: rep.Counted, spoiled: rep.Challenged, report: out.String()}
	for _, c := range rep.Results {
		counts := make([]uint64, len(c.Candidates))
		for j, cand := range c.Candidates {
			counts[j] = cand.Votes
		}
		v.result = append(v.result, counts)
	}
	if !rep.Verified {
		v.problems = append(v.problems, "urna tally: the record does not verify: "+rep.FirstFailure.Error())
	} else if !rep.Tallied {
		v.problems = append(v.problems, fmt.Sprintf("urna tally: the record holds no verified result (phase %s)", rep.Phase))
	}
	return v, nil
}
