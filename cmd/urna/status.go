package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/net/api"
)

// runStatus prints one screen of facts from a running station: its word,
// not a verified fact (urna export and urna tally verify).
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "urna status --node 127.0.0.1:7101 --genesis /tmp/mayor/genesis.json", stderr)
	node := fs.String("node", "", "HOST:PORT of a station's node")
	genesisFile := fs.String("genesis", "", "the election's genesis.json")
	stationID := fs.String("station", "", "the station's id, when --node is not its address in the genesis (a port mapping)")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the station")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *node == "" || *genesisFile == "" {
		fs.Usage()
		return errUsage
	}
	g, err := genesis.Load(*genesisFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, idx, err := dialStation(ctx, g, *node, *stationID)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return fmt.Errorf("station at %s: %w", *node, err)
	}
	if err := checkElection(g, st); err != nil {
		return err
	}
	v := statusView(g, idx, st)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	printStatus(stdout, g, v)
	return nil
}

// statusJSON is urna status --json (docs/operations.md).
type statusJSON struct {
	Election       string                       `json:"election"`
	Fingerprint    string                       `json:"fingerprint"`
	Station        string                       `json:"station"`
	Index          int                          `json:"index"`
	Phase          string                       `json:"phase"`
	Height         uint64                       `json:"height"`
	Round          uint32                       `json:"round"`
	LastBlock      string                       `json:"last_block,omitempty"`
	Peers          []string                     `json:"peers"`
	Mempool        uint32                       `json:"mempool"`
	KeyReady       bool                         `json:"key_ready"`
	OpenApprovals  []string                     `json:"open_approvals"`
	CloseApprovals []string                     `json:"close_approvals"`
	OpenQuorum     int                          `json:"open_quorum"`
	CloseQuorum    int                          `json:"close_quorum"`
	Counted        uint64                       `json:"counted"`
	Spoiled        uint64                       `json:"spoiled"`
	Turnout        map[string]uint64            `json:"turnout"`
	Result         map[string]map[string]uint64 `json:"result,omitempty"`
}

func statusView(g *genesis.Genesis, idx int, st *api.Status) *statusJSON {
	stations, officials := g.Stations(), g.Officials()
	name := func(list []uint32, n int, id func(int) string) []string {
		out := []string{}
		for _, i := range list {
			if int(i) < n {
				out = append(out, id(int(i)))
			}
		}
		return out
	}
	fp := g.Fingerprint()
	v := &statusJSON{
		Election: g.ElectionID(), Fingerprint: hex.EncodeToString(fp[:]),
		Station: stations[idx].ID, Index: idx, Phase: chain.Phase(st.Phase).String(),
		Height: st.Height, Round: st.Round, Mempool: st.Mempool, KeyReady: st.KeyReady,
		Peers:          name(st.Peers, len(stations), func(i int) string { return stations[i].ID }),
		OpenApprovals:  name(st.OpenApprovals, len(officials), func(i int) string { return officials[i].ID }),
		CloseApprovals: name(st.CloseApprovals, len(officials), func(i int) string { return officials[i].ID }),
		OpenQuorum:     g.OpenQuorum(), CloseQuorum: g.CloseQuorum(),
		Counted: st.Counted, Spoiled: st.Spoiled, Turnout: map[string]uint64{},
	}
	if st.LastBlock > 0 {
		v.LastBlock = time.UnixMilli(st.LastBlock).UTC().Format(time.RFC3339)
	}
	for i, n := range st.Turnout {
		if i < len(stations) {
			v.Turnout[stations[i].ID] = n
		}
	}
	if len(st.Result) > 0 {
		v.Result = map[string]map[string]uint64{}
		for ci, c := range g.Contests() {
			if ci >= len(st.Result) {
				break
			}
			v.Result[c.ID] = map[string]uint64{}
			for k, cand := range c.Candidates {
				if k < len(st.Result[ci]) {
					v.Result[c.ID][cand.ID] = st.Result[ci][k]
				}
			}
		}
	}
	return v
}

func printStatus(w io.Writer, g *genesis.Genesis, v *statusJSON) {
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "election   %s (fingerprint %s…)\n", v.Election, v.Fingerprint[:16])
	fmt.Fprintf(w, "station    %s (index %d), the station's own word below\n", v.Station, v.Index)
	fmt.Fprintf(w, "phase      %s\n", v.Phase)
	last := v.LastBlock
	if last == "" {
		last = "none yet"
	}
	fmt.Fprintf(w, "height     %d (round %d), last block %s\n", v.Height, v.Round, last)
	fmt.Fprintf(w, "peers      %d of %d: %s\n", len(v.Peers), g.N()-1, strings.Join(v.Peers, ", "))
	fmt.Fprintf(w, "mempool    %d transactions\n", v.Mempool)
	fmt.Fprintf(w, "key ready  %s\n", yes[v.KeyReady])
	fmt.Fprintf(w, "approvals  open %d of %d %v, close %d of %d %v\n", len(v.OpenApprovals), v.OpenQuorum, v.OpenApprovals, len(v.CloseApprovals), v.CloseQuorum, v.CloseApprovals)
	fmt.Fprintf(w, "ballots    %d counted, %d challenged\n", v.Counted, v.Spoiled)
	var t []string
	for _, st := range g.Stations() {
		t = append(t, fmt.Sprintf("%s %d", st.ID, v.Turnout[st.ID]))
	}
	fmt.Fprintf(w, "turnout    %s\n", strings.Join(t, ", "))
	for _, c := range g.Contests() {
		r, ok := v.Result[c.ID]
		if !ok {
			continue
		}
		var parts []string
		for _, cand := range c.Candidates {
			parts = append(parts, fmt.Sprintf("%s %d", cand.ID, r[cand.ID]))
		}
		fmt.Fprintf(w, "result     %s: %s (the station's word: urna export --node verifies every block)\n", c.ID, strings.Join(parts, ", "))
	}
}
