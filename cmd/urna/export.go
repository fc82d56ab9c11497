package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/ledger"
	"github.com/urna-vote/urna/chain/record"
	"github.com/urna-vote/urna/chain/store"
	"github.com/urna-vote/urna/chain/verify"
)

// runExport writes a station's whole chain as an election record: from a
// running node through the client protocol, checking every block as it
// comes (--node), or from a stopped station's home (--home).
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "urna export --node 127.0.0.1:7101 --genesis /tmp/mayor/genesis.json --out mayor.record\n  urna export --home /tmp/mayor/station-north --out mayor.record", stderr)
	homeDir := fs.String("home", "", "a stopped station's home directory")
	node := fs.String("node", "", "HOST:PORT of a running station's node (with --genesis)")
	genesisFile := fs.String("genesis", "", "the election's genesis.json (with --node)")
	stationID := fs.String("station", "", "the station's id, when --node is not its address in the genesis (a port mapping)")
	out := fs.String("out", "", "record file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || (*homeDir == "") == (*node == "") || (*node != "") != (*genesisFile != "") {
		fmt.Fprintln(stderr, "urna export: give --out and either --home, or --node with --genesis")
		fs.Usage()
		return errUsage
	}
	if *node != "" {
		return exportFromNode(ctx, *node, *genesisFile, *stationID, *out, stdout)
	}
	h, err := openHome(*homeDir)
	if err != nil {
		return err
	}
	m, err := chain.NewMachine(h.genesis, h.roll)
	if err != nil {
		return err
	}
	storeDir := filepath.Join(h.dataDir(), "store")
	if _, err := os.Stat(storeDir); err != nil {
		return fmt.Errorf("no chain data in %s (has the station's node run?)", h.dir)
	}
	s, err := store.Open(storeDir, store.Options{})
	if err != nil {
		return fmt.Errorf("opening the station's store (is its node still running?): %w", err)
	}
	defer s.Close()
	l, err := ledger.Open(s, m)
	if err != nil {
		return err
	}
	var height uint64
	err = writeAtomically(*out, func(w io.Writer) error {
		height, err = record.Export(w, l, h.roll.Encode())
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d blocks of election %s to %s\n", height, h.genesis.ElectionID(), *out)
	return nil
}

// writeAtomically writes a file through a temporary one, synced and renamed
// into place only if write succeeds.
func writeAtomically(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// exportFromNode fetches the chain from a running station and writes it as
// a record, checking each block (rules, hash link, certificate) before it
// is written: the record is as good as one made from a verified replay.
func exportFromNode(ctx context.Context, node, genesisFile, stationID, out string, stdout io.Writer) error {
	g, err := genesis.Load(genesisFile)
	if err != nil {
		return err
	}
	c, idx, err := dialStation(ctx, g, node, stationID)
	if err != nil {
		return err
	}
	defer c.Close()
	roll, err := c.Roll(ctx)
	if err != nil {
		return fmt.Errorf("fetching the voter roll: %w", err)
	}
	f, err := verify.NewFollower(g, roll)
	if err != nil {
		return fmt.Errorf("station %s: %w", g.Stations()[idx].ID, err)
	}
	err = writeAtomically(out, func(w io.Writer) error {
		rw := record.NewWriter(w)
		if err := rw.Frame(record.KindGenesis, g.Encode()); err != nil {
			return err
		}
		if err := rw.Frame(record.KindRoll, roll); err != nil {
			return err
		}
		for {
			bs, head, err := c.Blocks(ctx, f.Height()+1, 0)
			if err != nil {
				return fmt.Errorf("fetching blocks from %d: %w", f.Height()+1, err)
			}
			for _, b := range bs {
				if _, err := f.Apply(b.Block, b.Certificate); err != nil {
					return fmt.Errorf("station %s sent a block that does not verify: %w", g.Stations()[idx].ID, err)
				}
				if err := rw.Frame(record.KindBlock, b.Block); err != nil {
					return err
				}
				if err := rw.Frame(record.KindCertificate, b.Certificate); err != nil {
					return err
				}
			}
			if len(bs) == 0 || f.Height() >= head {
				break
			}
		}
		return rw.End(f.Height())
	})
	if err != nil {
		return err
	}
	st := f.State()
	fmt.Fprintf(stdout, "wrote %d blocks of election %s from station %s to %s; every block verified (phase %s, %d ballots counted)\n",
		st.Height, g.ElectionID(), g.Stations()[idx].ID, out, st.Phase, st.Counted)
	return nil
}
