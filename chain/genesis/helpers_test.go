package genesis_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
)

// configDir holds the sample elections.
const configDir = "../../election-configs"

// testKey is a deterministic Ed25519 public key named by label.
func testKey(label string) ed25519.PublicKey {
	seed := sha256.Sum256([]byte("urna genesis test key: " + label))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

func hexKey(label string) string { return hex.EncodeToString(testKey(label)) }

// testRoll is a roll of n deterministic credentials for electionID.
func testRoll(t testing.TB, electionID string, n int, salt string) *ballot.Roll {
	t.Helper()
	keys := make([]ed25519.PublicKey, n)
	for i := range keys {
		keys[i] = testKey(fmt.Sprintf("voter %s %d", salt, i))
	}
	r, err := ballot.NewRoll(electionID, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// loadTemplate reads a sample config, which must be a template.
func loadTemplate(t testing.TB, name string) *genesis.Config {
	t.Helper()
	cfg, form, err := genesis.LoadConfig(filepath.Join(configDir, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if form != genesis.FormTemplate {
		t.Fatalf("%s: read as %v, want template", name, form)
	}
	return cfg
}

// completeConfig fills a template with deterministic keys and a roll of its
// declared size, as urna init will.
func completeConfig(t testing.TB, cfg *genesis.Config) *ballot.Roll {
	t.Helper()
	var sk, ok []ed25519.PublicKey
	for _, s := range cfg.Stations {
		sk = append(sk, testKey("station "+s.ID))
	}
	for _, m := range cfg.Officials.Members {
		ok = append(ok, testKey("official "+m.ID))
	}
	roll := testRoll(t, cfg.Election.ID, cfg.VoterRoll.Voters, "")
	if err := cfg.Complete(sk, ok, roll); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	return roll
}

// completedSample is a sample config, completed: a fresh copy each call
// (the keys and the roll are made once per sample).
func completedSample(t testing.TB, name string) (*genesis.Config, *ballot.Roll) {
	t.Helper()
	completedMu.Lock()
	c, ok := completed[name]
	if !ok {
		cfg := loadTemplate(t, name)
		c.roll = completeConfig(t, cfg)
		c.config = cfg
		completed[name] = c
	}
	completedMu.Unlock()
	return c.config.Clone(), c.roll
}

var (
	completedMu sync.Mutex
	completed   = map[string]struct {
		config *genesis.Config
		roll   *ballot.Roll
	}{}
)

func mustGenesis(t testing.TB, cfg *genesis.Config) *genesis.Genesis {
	t.Helper()
	g, err := genesis.FromConfig(cfg)
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	return g
}

// firstFieldError returns the first *FieldError of err, failing if none.
func firstFieldError(t testing.TB, err error) *genesis.FieldError {
	t.Helper()
	var fe *genesis.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *genesis.FieldError", err, err)
	}
	return fe
}

// edit replaces old by new in s, exactly once.
func edit(t testing.TB, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("edit: %q occurs %d times, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}
