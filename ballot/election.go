package ballot

import (
	"fmt"
	"sync"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
)

// Election is what a voting terminal, a station and an auditor need to make
// or check ballots: the manifest and the election public key that the DKG
// produced.
type Election struct {
	Manifest Manifest
	Key      kyber.Point
	KeyBytes [PointSize]byte
	key      *edwards25519.Point // the same key, for filippo.io/edwards25519
	keyNiels niels               // and prepared for batch verification

	keyTableOnce sync.Once
	keyTable     *fixedBase // for making ballots; built on first use
}

// keyBase is the fixed-base table of the election key.
func (e *Election) keyBase() *fixedBase {
	e.keyTableOnce.Do(func() { e.keyTable = newFixedBase(e.key) })
	return e.keyTable
}

// NewElection checks the manifest and decodes the election key strictly.
func NewElection(m Manifest, key []byte) (*Election, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	fk, err := decodeStrict(key, false)
	if err != nil {
		return nil, fmt.Errorf("election key: %w", err)
	}
	e := &Election{Manifest: m, Key: kyberPoint(key), key: fk}
	copy(e.KeyBytes[:], key)
	ek, err := decodeExt(&e.KeyBytes)
	if err != nil {
		panic("ballot: a strictly decoded key does not decode")
	}
	ek.toNiels(&e.keyNiels)
	return e, nil
}

func (e *Election) ballotContext(credential [32]byte, contest, selection string) *ballotContext {
	return &ballotContext{
		fingerprint: e.Manifest.Fingerprint,
		key:         e.KeyBytes,
		credential:  credential,
		contest:     contest,
		selection:   selection,
	}
}

func (e *Election) shareContext(station uint32, contest, selection string) *shareContext {
	return &shareContext{
		fingerprint: e.Manifest.Fingerprint,
		key:         e.KeyBytes,
		contest:     contest,
		selection:   selection,
		station:     station,
	}
}
