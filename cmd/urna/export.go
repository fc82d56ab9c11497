package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/ledger"
	"github.com/urna-vote/urna/chain/record"
	"github.com/urna-vote/urna/chain/store"
)

// runExport writes a stopped station's whole chain as an election record.
// (Exporting from a running node, with --node, needs the client protocol
// of the network.)
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "urna export --home /tmp/mayor/station-north --out mayor.record", stderr)
	homeDir := fs.String("home", "", "a stopped station's home directory")
	out := fs.String("out", "", "record file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *homeDir == "" || *out == "" {
		fs.Usage()
		return errUsage
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
	tmp := *out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	height, err := record.Export(f, l, h.roll.Encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Fprintf(stdout, "wrote %d blocks of election %s to %s\n", height, h.genesis.ElectionID(), *out)
	return nil
}
