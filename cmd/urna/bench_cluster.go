package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The cluster side of `urna bench`: a local election of real `urna node`
// processes, and what the bench reads about each station's process (CPU,
// memory) and home (bytes on disk).

// benchTemplate is the election the bench makes: one contest of five
// candidates (the "1 × 5 ballot" of docs/BENCHMARKS.md), n stations, two
// officials who must both approve the opening.
func benchTemplate(stations, voters int) string {
	var b strings.Builder
	b.WriteString(`# made by urna bench
election:
  id: bench
  title: urna bench election
contests:
  - id: mayor
    title: Mayor
    kind: plurality
    limit: 1
    candidates:
      - { id: c1, name: Candidate One }
      - { id: c2, name: Candidate Two }
      - { id: c3, name: Candidate Three }
      - { id: c4, name: Candidate Four }
      - { id: c5, name: Candidate Five }
stations:
`)
	for i := range stations {
		fmt.Fprintf(&b, "  - { id: s%d, name: Station %d, address: \"127.0.0.1:%d\" }\n", i+1, i+1, 7300+i)
	}
	f := (stations - 1) / 3
	fmt.Fprintf(&b, `officials:
  open_quorum: 2
  close_quorum: 2
  members:
    - { id: clerk, name: Clerk }
    - { id: deputy, name: Deputy Clerk }
dkg:
  threshold: %d
voter_roll:
  file: voter-roll.txt
  voters: %d
`, max(2, f+1), voters)
	return b.String()
}

// benchNode is one station's node: a process the bench started (pid > 0)
// or a running one it only talks to.
type benchNode struct {
	addr    string // client address
	home    string // station home, for bytes on disk ("" when unknown)
	metrics string // metrics address, for CPU and memory of a node not ours ("" when none)
	cmd     *exec.Cmd
	done    chan error
	log     string
}

// startBenchNode starts `bin node --home home`, its output to home + ".log".
func startBenchNode(bin, home, addr, logLevel string) (*benchNode, error) {
	n := &benchNode{addr: addr, home: home, log: home + ".log"}
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n.cmd = exec.Command(bin, "node", "--home", home, "--log-level", logLevel)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	n.cmd.Env = append(os.Environ(), "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true")
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait() }()
	return n, nil
}

// stop asks a node of ours to stop (SIGTERM) and waits, killing it after
// the timeout.
func (n *benchNode) stop(timeout time.Duration) error {
	if n.cmd == nil {
		return nil
	}
	select {
	case err := <-n.done:
		n.done <- err
		return fmt.Errorf("node had already exited: %v", err)
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.done <- err
		return err
	case <-time.After(timeout):
		n.cmd.Process.Kill()
		err := <-n.done
		n.done <- err
		return fmt.Errorf("did not stop within %v of SIGTERM; killed", timeout)
	}
}

// exited reports whether a node of ours has exited, and how.
func (n *benchNode) exited() (bool, error) {
	if n.cmd == nil {
		return false, nil
	}
	select {
	case err := <-n.done:
		n.done <- err
		return true, err
	default:
		return false, nil
	}
}

func (n *benchNode) logTail() string {
	b, _ := os.ReadFile(n.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// procSample is what the bench reads of a station's process at one time.
type procSample struct {
	ok      bool
	cpu     float64 // user + system seconds since the process started
	rss     int64   // resident bytes now
	anon    int64   // of which anonymous (heap, stacks), not file pages; 0 when unknown
	peakRSS int64   // the most resident bytes so far (VmHWM); 0 when unknown
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times:
// 100 on every Linux platform Go supports.
const clockTicks = 100

// sample reads the node's CPU time and memory: from /proc for a process of
// ours, else from its Prometheus metrics if the bench was told where.
func (n *benchNode) sample(ctx context.Context) procSample {
	if n.cmd != nil && n.cmd.Process != nil {
		s, err := readProc(n.cmd.Process.Pid)
		if err == nil {
			return s
		}
		return procSample{}
	}
	if n.metrics != "" {
		s, err := scrapeProc(ctx, n.metrics)
		if err == nil {
			return s
		}
	}
	return procSample{}
}

// readProc reads /proc/PID/stat (utime, stime) and /proc/PID/status
// (VmRSS, VmHWM).
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing parenthesis.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procSample{}, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return procSample{}, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return procSample{}, errors.New("unreadable /proc stat times")
	}
	s := procSample{ok: true, cpu: float64(ut+st) / clockTicks}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			s.rss = kb << 10
		case "VmHWM":
			s.peakRSS = kb << 10
		case "RssAnon":
			s.anon = kb << 10
		}
	}
	return s, nil
}

// scrapeProc reads process_cpu_seconds_total and
// process_resident_memory_bytes from a node's /metrics.
func scrapeProc(ctx context.Context, addr string) (procSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return procSample{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return procSample{}, err
	}
	defer resp.Body.Close()
	var s procSample
	found := 0
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.cpu = v
			found++
		case "process_resident_memory_bytes":
			s.rss = int64(v)
			found++
		}
	}
	if found < 2 {
		return procSample{}, fmt.Errorf("%s/metrics has no process metrics", addr)
	}
	s.ok = true
	return s, nil
}

// diskUsage is the bytes a directory tree occupies on disk, as du counts
// them (allocated blocks: the sparse, preallocated files of Badger count
// for what they use).
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walk (a compaction)
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// freeLoopbackPorts returns n distinct free UDP ports on 127.0.0.1 (held
// open together while they are chosen, so none repeats).
func freeLoopbackPorts(n int) ([]string, error) {
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var out []string
	for range n {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, c)
		out = append(out, c.LocalAddr().String())
	}
	return out, nil
}
