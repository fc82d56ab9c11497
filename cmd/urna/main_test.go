package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/ledger"
	"github.com/urna-vote/urna/chain/record"
	"github.com/urna-vote/urna/chain/store"
)

func urna(t *testing.T, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestInitMakesAnElection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "e")
	code, out, errOut := urna(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", "7")
	if code != 0 {
		t.Fatalf("init: %d %s", code, errOut)
	}
	if !strings.Contains(out, "fingerprint") {
		t.Fatalf("init output: %s", out)
	}
	g, err := genesis.Load(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Voters() != 7 {
		t.Fatalf("%d voters", g.Voters())
	}
	for _, st := range g.Stations() {
		h, err := openHome(filepath.Join(dir, "station-"+st.ID))
		if err != nil {
			t.Fatal(err)
		}
		if h.genesis.Fingerprint() != g.Fingerprint() {
			t.Fatal("station home has another genesis")
		}
		info, _ := os.Stat(filepath.Join(h.dir, homeKey))
		if info.Mode().Perm() != 0o600 {
			t.Fatalf("node.key mode %v", info.Mode())
		}
	}
	codes, _ := os.ReadFile(filepath.Join(dir, "voters", "codes.csv"))
	if n := strings.Count(string(codes), "\n"); n != 8 {
		t.Fatalf("codes.csv has %d lines", n)
	}
	// A second init into the same place is refused; so is a complete config.
	if code, _, _ := urna(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir); code != 1 {
		t.Fatalf("init over an existing election: exit %d", code)
	}
	if code, _, _ := urna(t, "init", "--out", dir); code != 2 {
		t.Fatalf("missing --config: exit %d", code)
	}
	if code, _, _ := urna(t, "frobnicate"); code != 2 {
		t.Fatal("unknown command accepted")
	}
}

func TestExportWritesAVerifiableRecord(t *testing.T) {
	e := chaintest.NewElection(t, "mayor", 10, 1, nil)
	dir := filepath.Join(t.TempDir(), "e")
	if err := writeElection(dir, e.Setup); err != nil {
		t.Fatal(err)
	}
	c := e.NewChain()
	c.RunDKG(t)
	c.Approve(t, chain.ActionOpen)
	b, _ := c.Ballot(t, 1, 0, [][]bool{{false, true, false, false}})
	c.Commit(t, chain.NewBallotTx(b))
	home := filepath.Join(dir, "station-north")
	if code, _, errOut := urna(t, "export", "--home", home, "--out", filepath.Join(dir, "x")); code != 1 || !strings.Contains(errOut, "no chain data") {
		t.Fatalf("export before the node ran: %d %s", code, errOut)
	}
	s, err := store.Open(filepath.Join(home, homeData, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(s, e.Machine)
	if err != nil {
		t.Fatal(err)
	}
	for h, blk := range c.Blocks {
		if _, err := l.Commit(blk, c.Certs[h]); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	out := filepath.Join(dir, "election.record")
	if code, _, errOut := urna(t, "export", "--home", home, "--out", out); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fp := e.Fingerprint()
	v, err := record.Replay(f, &fp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.State.StateHash != c.State.StateHash || v.State.Counted != 1 {
		t.Fatal("exported record replays to another state")
	}
}
