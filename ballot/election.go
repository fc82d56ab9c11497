package ballot

import (
	"fmt"

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
	key      *edwards25519.Point // the same key, for verification
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
	return e, nil
}

func (e *Election) proofContext(contest, selection string) *proofContext {
	return &proofContext{
		fingerprint: e.Manifest.Fingerprint,
		key:         e.KeyBytes,
		contest:     contest,
		selection:   selection,
	}
}
