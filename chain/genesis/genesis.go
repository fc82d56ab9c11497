package genesis

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"

	"github.com/urna-vote/urna/ballot"
)

// Genesis is a validated, complete election in its canonical form. It is
// immutable (accessors return copies), so it is safe for concurrent use. Every station, terminal and auditor
// that holds the same genesis.json holds the same Genesis and the same
// Fingerprint.
type Genesis struct {
	cfg         *Config // complete, validated; VoterRoll.File empty
	encoded     []byte  // canonical genesis.json bytes
	fingerprint [32]byte

	stationByID   map[string]int
	stationByKey  map[string]int
	officialByKey map[string]int
}

// FromConfig makes the genesis of a complete config. A template, or any rule
// violation, is an error (an ErrorList). voter_roll.file is neither checked
// nor kept: the genesis names the roll by its hash, wherever it lives.
func FromConfig(c *Config) (*Genesis, error) {
	cfg := c.clone()
	if _, errs := validate(cfg, validateOptions{requireComplete: true}); errs != nil {
		return nil, errs
	}
	cfg.VoterRoll.File = ""
	return newGenesis(cfg), nil
}

// newGenesis wraps a validated complete config.
func newGenesis(cfg *Config) *Genesis {
	g := &Genesis{
		cfg:           cfg,
		encoded:       encode(cfg),
		stationByID:   make(map[string]int, len(cfg.Stations)),
		stationByKey:  make(map[string]int, len(cfg.Stations)),
		officialByKey: make(map[string]int, len(cfg.Officials.Members)),
	}
	g.fingerprint = sha256.Sum256(g.encoded)
	for i, s := range cfg.Stations {
		g.stationByID[s.ID] = i
		g.stationByKey[string(s.PublicKey)] = i
	}
	for i, m := range cfg.Officials.Members {
		g.officialByKey[string(m.PublicKey)] = i
	}
	return g
}

// Encode returns the canonical genesis.json bytes (see docs/config.md).
func (g *Genesis) Encode() []byte { return bytes.Clone(g.encoded) }

// Fingerprint is the SHA-256 of Encode(): the election's identity, hashed
// into every proof and signature.
func (g *Genesis) Fingerprint() [32]byte { return g.fingerprint }

// Manifest is what package ballot needs: the election id, the fingerprint
// and the contests in ballot order with their candidates' ids and limits.
func (g *Genesis) Manifest() ballot.Manifest { return manifestOf(g.cfg, g.fingerprint) }

// Election returns the election's id and title.
func (g *Genesis) Election() Election { return g.cfg.Election }

// ElectionID returns the election id.
func (g *Genesis) ElectionID() string { return g.cfg.Election.ID }

// Contests returns the contests, with kinds, titles and names, in ballot order.
func (g *Genesis) Contests() []Contest { return g.cfg.clone().Contests }

// Stations returns the stations in validator order.
func (g *Genesis) Stations() []Station { return g.cfg.clone().Stations }

// N is the number of stations (validators).
func (g *Genesis) N() int { return len(g.cfg.Stations) }

// F is the number of faulty stations tolerated, ⌊(n−1)/3⌋; a commit needs
// 2f+1 distinct validators.
func (g *Genesis) F() int { return g.cfg.F() }

// Threshold is the DKG threshold t: t decryption shares decrypt the tally.
func (g *Genesis) Threshold() int { return g.cfg.DKG.Threshold }

// StationKeys returns the stations' public keys in validator order (the
// order of the stations in the genesis).
func (g *Genesis) StationKeys() []ed25519.PublicKey {
	keys := make([]ed25519.PublicKey, len(g.cfg.Stations))
	for i, s := range g.cfg.Stations {
		keys[i] = cloneKey(s.PublicKey)
	}
	return keys
}

// StationIndex returns the validator index of the station with this id.
func (g *Genesis) StationIndex(id string) (int, bool) {
	i, ok := g.stationByID[id]
	return i, ok
}

// StationByKey returns the validator index of the station with this key.
func (g *Genesis) StationByKey(key ed25519.PublicKey) (int, bool) {
	i, ok := g.stationByKey[string(key)]
	return i, ok
}

// Officials returns the officials in genesis order.
func (g *Genesis) Officials() []Official { return g.cfg.clone().Officials.Members }

// OfficialByKey returns the index (in Officials()) of the official with
// this key.
func (g *Genesis) OfficialByKey(key ed25519.PublicKey) (int, bool) {
	i, ok := g.officialByKey[string(key)]
	return i, ok
}

// OpenQuorum is the number of distinct officials whose approvals open the polls.
func (g *Genesis) OpenQuorum() int { return g.cfg.Officials.OpenQuorum }

// CloseQuorum is the number of distinct officials whose approvals close the polls.
func (g *Genesis) CloseQuorum() int { return g.cfg.Officials.CloseQuorum }

// Voters is the number of credentials on the voter roll.
func (g *Genesis) Voters() int { return g.cfg.VoterRoll.Voters }

// RollHash is the SHA-256 of the canonical voter roll (ballot.Roll.Hash).
func (g *Genesis) RollHash() [32]byte { return [32]byte(g.cfg.VoterRoll.SHA256) }

// Params returns the chain parameters.
func (g *Genesis) Params() Params { return g.cfg.Params }

// Config returns the genesis as a complete Config (voter_roll.file empty),
// for tools that display or re-derive it.
func (g *Genesis) Config() *Config { return g.cfg.clone() }
