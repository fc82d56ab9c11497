package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// runPolls signs an official's approval to open or close the polls, submits
// it, waits until it is committed, checks the commit against the genesis,
// and prints the quorum's progress.
func runPolls(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "urna polls open --key /tmp/mayor/officials/clerk.key --node 127.0.0.1:7101 --genesis /tmp/mayor/genesis.json"
	fs := newFlags("polls open|close", example, stderr)
	keyFile := fs.String("key", "", "the official's key file (DIR/officials/ID.key)")
	node := fs.String("node", "", "HOST:PORT of a station's node")
	genesisFile := fs.String("genesis", "", "the election's genesis.json")
	stationID := fs.String("station", "", "the station's id, when --node is not its address in the genesis (a port mapping)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the approval to be committed")
	if len(args) == 0 || (args[0] != "open" && args[0] != "close") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return nil
		}
		fmt.Fprintln(stderr, "urna polls: say open or close first")
		fs.Usage()
		return errUsage
	}
	action := chain.ActionOpen
	if args[0] == "close" {
		action = chain.ActionClose
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *keyFile == "" || *node == "" || *genesisFile == "" {
		fs.Usage()
		return errUsage
	}
	g, err := genesis.Load(*genesisFile)
	if err != nil {
		return err
	}
	seed, err := readKey(*keyFile)
	if err != nil {
		return err
	}
	key := ed25519.NewKeyFromSeed(seed)
	if _, ok := g.OfficialByKey(key.Public().(ed25519.PublicKey)); !ok {
		return fmt.Errorf("%s is not the key of an official of election %s", *keyFile, g.ElectionID())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return approve(ctx, g, key, *node, *stationID, action, stdout)
}

// approve submits an official's approval to open or close the polls through
// the station at node, waits until it is committed, checks the certified
// block that holds it against the genesis, and prints the quorum's
// progress.
func approve(ctx context.Context, g *genesis.Genesis, key ed25519.PrivateKey, node, stationID string, action chain.Action, stdout io.Writer) error {
	official, ok := g.OfficialByKey(key.Public().(ed25519.PublicKey))
	if !ok {
		return fmt.Errorf("the key is not the key of an official of election %s", g.ElectionID())
	}
	verb := "open"
	if action == chain.ActionClose {
		verb = "close"
	}
	c, idx, err := dialStation(ctx, g, node, stationID)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return fmt.Errorf("station at %s: %w", node, err)
	}
	if err := checkElection(g, st); err != nil {
		return err
	}
	who := g.Officials()[official]
	stName := g.Stations()[idx].ID
	tx := chain.NewApprovalTx(g.Fingerprint(), action, key).Encode()
	rc, err := c.SubmitAndWait(ctx, tx, func(r api.Receipt) {
		if !r.Committed {
			fmt.Fprintf(stdout, "%s's approval to %s the polls accepted by station %s; waiting for it to be committed…\n", who.ID, verb, stName)
		}
	})
	if err != nil {
		if hint := rejectionHint(err); hint != "" {
			return fmt.Errorf("station %s refused the approval: %w\n%s", stName, err, hint)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the approval was not committed in time (is a quorum of stations running? see `urna status`; --timeout waits longer): %w", err)
		}
		return fmt.Errorf("station %s: %w", stName, err)
	}
	// Check the commit ourselves: the block at that height, certified by a
	// quorum of the genesis's stations, holds our approval.
	bs, _, err := c.Blocks(ctx, rc.Height, rc.Height)
	if err != nil {
		return fmt.Errorf("fetching block %d: %w", rc.Height, err)
	}
	if len(bs) != 1 {
		return fmt.Errorf("station %s did not send block %d, where it says the approval is", stName, rc.Height)
	}
	vals, err := bft.NewValidatorSet(g.StationKeys())
	if err != nil {
		return err
	}
	b, err := verify.Certified(g, vals, rc.Height, bs[0].Block, bs[0].Certificate)
	if err != nil {
		return fmt.Errorf("station %s's block %d does not verify: %w", stName, rc.Height, err)
	}
	found := false
	for _, t := range b.Txs {
		if h := sha256.Sum256(t); h == rc.Hash && bytes.Equal(t, tx) {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("certified block %d does not hold the approval, though station %s says so", rc.Height, stName)
	}
	fmt.Fprintf(stdout, "approval committed in block %d (certificate checked against the genesis)\n", rc.Height)
	st, err = c.Status(ctx)
	if err != nil {
		return err
	}
	approvals, quorum := st.OpenApprovals, g.OpenQuorum()
	if action == chain.ActionClose {
		approvals, quorum = st.CloseApprovals, g.CloseQuorum()
	}
	var names []string
	for _, i := range approvals {
		if int(i) < len(g.Officials()) {
			names = append(names, g.Officials()[i].ID)
		}
	}
	fmt.Fprintf(stdout, "approvals %d of %d to %s the polls (%v); the election is %s\n", len(approvals), quorum, verb, names, chain.Phase(st.Phase))
	return nil
}
