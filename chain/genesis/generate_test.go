package genesis_test

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
)

func TestGenerate(t *testing.T) {
	cfg := loadTemplate(t, "mayor.yaml")
	s, err := genesis.Generate(cfg, 25, rand.NewChaCha8([32]byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	g := s.Genesis
	if g.Voters() != 25 || len(s.Codes) != 25 || g.RollHash() != s.Roll.Hash() {
		t.Fatalf("voters %d, codes %d", g.Voters(), len(s.Codes))
	}
	for i, k := range g.StationKeys() {
		if !bytes.Equal(k, s.StationKey(i).Public().(ed25519.PublicKey)) {
			t.Fatalf("station %d key does not match its seed", i)
		}
	}
	for i, o := range g.Officials() {
		if !bytes.Equal(o.PublicKey, s.OfficialKey(i).Public().(ed25519.PublicKey)) {
			t.Fatalf("official %d key does not match its seed", i)
		}
	}
	for _, c := range s.Codes {
		if !s.Roll.Contains(ballot.DeriveCredential(g.ElectionID(), c).Public) {
			t.Fatalf("code %s is not on the roll", c)
		}
	}
	// Same randomness, same election; the template is not changed.
	again, _ := genesis.Generate(cfg, 25, rand.NewChaCha8([32]byte{1}))
	if again.Genesis.Fingerprint() != g.Fingerprint() {
		t.Fatal("generation is not reproducible from its randomness")
	}
	if _, form, _ := genesis.ParseConfig(mustMarshal(t, cfg)); form != genesis.FormTemplate {
		t.Fatal("Generate changed the template")
	}
}

func mustMarshal(t *testing.T, c *genesis.Config) []byte {
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
