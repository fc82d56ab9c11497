package genesis

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"

	"github.com/urna-vote/urna/ballot"
)

// Setup is everything made for a new election from a template: the genesis,
// the public voter roll, and the secrets that go to the stations (their
// Ed25519 seeds), the officials (theirs) and the voters (their codes).
type Setup struct {
	Config        *Config // the completed config
	Genesis       *Genesis
	Roll          *ballot.Roll
	StationSeeds  [][]byte // secret; station order
	OfficialSeeds [][]byte // secret; official order
	Codes         []ballot.VotingCode
}

// LogValue keeps the secrets out of logs.
func (s *Setup) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("election", s.Config.Election.ID),
		slog.Int("stations", len(s.StationSeeds)),
		slog.Int("officials", len(s.OfficialSeeds)),
		slog.Int("voters", len(s.Codes)),
		slog.String("secrets", "[redacted]"),
	)
}

// StationKey is station i's private key.
func (s *Setup) StationKey(i int) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(s.StationSeeds[i])
}

// OfficialKey is official i's private key.
func (s *Setup) OfficialKey(i int) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(s.OfficialSeeds[i])
}

// Generate makes a new election from a template: a key for every station and
// official, voters voting codes (the template's count when voters is 0) and
// the roll of their credentials, then the completed config and its genesis.
// rnd supplies the randomness (crypto/rand when nil).
func Generate(template *Config, voters int, rnd io.Reader) (*Setup, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	cfg := template.clone()
	if voters == 0 {
		voters = cfg.VoterRoll.Voters
	}
	seeds := func(n int) ([][]byte, []ed25519.PublicKey, error) {
		out := make([][]byte, n)
		pubs := make([]ed25519.PublicKey, n)
		for i := range out {
			out[i] = make([]byte, ed25519.SeedSize)
			if _, err := io.ReadFull(rnd, out[i]); err != nil {
				return nil, nil, fmt.Errorf("genesis: reading randomness: %w", err)
			}
			pubs[i] = ed25519.NewKeyFromSeed(out[i]).Public().(ed25519.PublicKey)
		}
		return out, pubs, nil
	}
	stationSeeds, stationKeys, err := seeds(len(cfg.Stations))
	if err != nil {
		return nil, err
	}
	officialSeeds, officialKeys, err := seeds(len(cfg.Officials.Members))
	if err != nil {
		return nil, err
	}
	codes, roll, err := ballot.GenerateCodes(cfg.Election.ID, voters, rnd)
	if err != nil {
		return nil, err
	}
	if err := cfg.Complete(stationKeys, officialKeys, roll); err != nil {
		return nil, err
	}
	g, err := FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Setup{Config: cfg, Genesis: g, Roll: roll, StationSeeds: stationSeeds, OfficialSeeds: officialSeeds, Codes: codes}, nil
}
