package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/tui"
)

// A voter terminal whose station is down when it starts still opens, on a
// connection that says "cannot be reached", so the voter can pick another
// station of the genesis; the officials' console and an address the genesis
// does not name stay errors.
func TestVoteStartsWhenItsStationIsDown(t *testing.T) {
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	dir := filepath.Join(t.TempDir(), "e")
	if code, _, errOut := urna(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", "3"); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	g := loadTestElection(t, dir).genesis
	st := g.Stations()[1] // no node runs: nothing answers at its address
	flags := func(node, station string) terminalFlags {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		tf := addTerminalFlags(fs, "vote")
		args := []string{"--node", node, "--genesis", filepath.Join(dir, "genesis.json"),
			"--log", filepath.Join(t.TempDir(), "log"), "--timeout", "1s"}
		if station != "" {
			args = append(args, "--station", station)
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return tf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, n, got, _, done, err := flags(st.Address, "").open(ctx, true)
	if err != nil {
		t.Fatalf("vote terminal with its station down: %v", err)
	}
	defer done()
	if got.ID != st.ID {
		t.Fatalf("terminal stands in %s, want %s", got.ID, st.ID)
	}
	if _, err := n.Status(ctx); !errors.Is(err, tui.ErrUnreachable) {
		t.Fatalf("status of a down station: %v", err)
	}
	if _, err := n.Submit(ctx, []byte{1}); !errors.Is(err, tui.ErrUnreachable) {
		t.Fatalf("submit to a down station: %v", err)
	}

	// A port mapping: --station names it.
	if _, _, got, _, done, err := flags("127.0.0.1:1", st.ID).open(ctx, true); err != nil || got.ID != st.ID {
		t.Fatalf("--station %s: %v %v", st.ID, got.ID, err)
	} else {
		done()
	}
	// The console does not start without its station.
	if _, _, _, _, _, err := flags(st.Address, "").open(ctx, false); err == nil {
		t.Fatal("officials' console started without a station")
	}
	// Nor does a terminal at an address that is no station of the genesis.
	if _, _, _, _, _, err := flags("127.0.0.1:1", "").open(ctx, true); err == nil {
		t.Fatal("terminal started at an address no station has")
	}
}
