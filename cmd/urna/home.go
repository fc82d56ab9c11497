package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
)

// A station's home directory, as `urna init` makes it and `urna node` uses it:
//
//	genesis.json      the election's canonical genesis (public)
//	voter-roll.txt    the voter roll (public)
//	node.key          the station's Ed25519 seed, hex (secret, mode 0600)
//	config.yaml       the node's listen and metrics addresses (nodeconfig.go)
//	data/             the station's store, consensus WAL and signer state
const (
	homeGenesis = "genesis.json"
	homeRoll    = "voter-roll.txt"
	homeKey     = "node.key"
	homeData    = "data"
)

// home is an opened station home.
type home struct {
	dir     string
	genesis *genesis.Genesis
	roll    *ballot.Roll
	seed    []byte
}

// openHome reads a station home and checks that its roll matches its
// genesis and its key is one of the genesis's stations.
func openHome(dir string) (*home, error) {
	g, err := genesis.Load(filepath.Join(dir, homeGenesis))
	if err != nil {
		return nil, fmt.Errorf("%s is not a station home: %w", dir, err)
	}
	roll, err := g.LoadRoll(filepath.Join(dir, homeRoll))
	if err != nil {
		return nil, err
	}
	seed, err := readKey(filepath.Join(dir, homeKey))
	if err != nil {
		return nil, err
	}
	return &home{dir: dir, genesis: g, roll: roll, seed: seed}, nil
}

func (h *home) dataDir() string { return filepath.Join(h.dir, homeData) }

// writeKey writes a secret seed as hex, readable by its owner only.
func writeKey(path string, seed []byte) error {
	return os.WriteFile(path, []byte(hex.EncodeToString(seed)+"\n"), 0o600)
}

// readKey reads a seed written by writeKey.
func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != 32 {
		return nil, fmt.Errorf("%s: not a key file (want 64 hex digits)", path)
	}
	return seed, nil
}

var errExists = errors.New("already exists; choose another --out or remove it")

// publicKey is the station's public key.
func (h *home) publicKey() ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(h.seed).Public().(ed25519.PublicKey)
}
