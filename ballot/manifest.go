package ballot

import (
	"errors"
	"fmt"
)

// Manifest is the part of an election's genesis that the voting math needs:
// which election a ballot belongs to and the shape of every contest. The
// chain builds it from the genesis; ballot never parses configs itself.
type Manifest struct {
	// ElectionID is the human-chosen election identifier from the config.
	ElectionID string
	// Fingerprint is the SHA-256 of the canonical genesis. Every proof and
	// signature hashes it, so nothing made for one election verifies in another.
	Fingerprint [32]byte
	// Contests in ballot order.
	Contests []Contest
}

// Contest is one question on the ballot: choose at most Limit of the
// candidates. A yes/no referendum is a contest with candidates "yes" and "no"
// and limit 1.
type Contest struct {
	ID         string
	Candidates []string // candidate ids, in ballot order; a selection per candidate
	Limit      int      // the most selections a voter may mark (1 ≤ Limit ≤ len(Candidates))
}

// Limits on the shape of an election, so that a hostile genesis cannot make a
// verifier allocate without bound. They are generous for real elections.
const (
	MaxContests        = 64
	MaxCandidates      = 64
	MaxIDLength        = 64
	maxTotalSelections = 1024
)

// ErrBadManifest reports a manifest that no ballot can be made for.
var ErrBadManifest = errors.New("invalid election manifest")

// Validate checks the manifest's shape: ids present, unique and short;
// limits within 1..len(candidates).
func (m *Manifest) Validate() error {
	if m.ElectionID == "" || len(m.ElectionID) > MaxIDLength {
		return fmt.Errorf("%w: election id must be 1..%d bytes", ErrBadManifest, MaxIDLength)
	}
	if len(m.Contests) == 0 || len(m.Contests) > MaxContests {
		return fmt.Errorf("%w: %d contests (want 1..%d)", ErrBadManifest, len(m.Contests), MaxContests)
	}
	seen := make(map[string]bool, len(m.Contests))
	total := 0
	for i, c := range m.Contests {
		if c.ID == "" || len(c.ID) > MaxIDLength {
			return fmt.Errorf("%w: contest %d: id must be 1..%d bytes", ErrBadManifest, i, MaxIDLength)
		}
		if seen[c.ID] {
			return fmt.Errorf("%w: contest %q appears twice", ErrBadManifest, c.ID)
		}
		seen[c.ID] = true
		if len(c.Candidates) == 0 || len(c.Candidates) > MaxCandidates {
			return fmt.Errorf("%w: contest %q: %d candidates (want 1..%d)", ErrBadManifest, c.ID, len(c.Candidates), MaxCandidates)
		}
		cands := make(map[string]bool, len(c.Candidates))
		for j, cand := range c.Candidates {
			if cand == "" || len(cand) > MaxIDLength {
				return fmt.Errorf("%w: contest %q: candidate %d: id must be 1..%d bytes", ErrBadManifest, c.ID, j, MaxIDLength)
			}
			if cands[cand] {
				return fmt.Errorf("%w: contest %q: candidate %q appears twice", ErrBadManifest, c.ID, cand)
			}
			cands[cand] = true
		}
		if c.Limit < 1 || c.Limit > len(c.Candidates) {
			return fmt.Errorf("%w: contest %q: limit %d (want 1..%d)", ErrBadManifest, c.ID, c.Limit, len(c.Candidates))
		}
		total += len(c.Candidates)
	}
	if total > maxTotalSelections {
		return fmt.Errorf("%w: %d selections in all (at most %d)", ErrBadManifest, total, maxTotalSelections)
	}
	return nil
}

// Contest returns the contest with the given id.
func (m *Manifest) Contest(id string) (*Contest, bool) {
	for i := range m.Contests {
		if m.Contests[i].ID == id {
			return &m.Contests[i], true
		}
	}
	return nil, false
}

// Selections is the total number of selections (ciphertexts) on a ballot.
func (m *Manifest) Selections() int {
	n := 0
	for _, c := range m.Contests {
		n += len(c.Candidates)
	}
	return n
}
