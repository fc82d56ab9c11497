package genesis

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"

	"github.com/urna-vote/urna/ballot"
)

// maxRollFileBytes is the size of the largest roll file ballot accepts:
// three header lines (the longest election id, the largest count) and one
// 65-byte line per credential.
const maxRollFileBytes = int64(len("urna voter roll v1\n")+len("election \n")+len("voters \n")+ballot.MaxIDLength+8) +
	int64(ballot.MaxRollVoters)*(2*ed25519.PublicKeySize+1)

// LoadRoll reads the voter roll file at path, decodes it strictly
// (ballot.DecodeRoll) and checks it against the genesis: its election id
// (ErrRollElection), its number of voters (ErrRollCount) and its hash
// (ErrRollHash), each its own error.
func (g *Genesis) LoadRoll(path string) (*ballot.Roll, error) {
	data, err := readRoll(path)
	if err != nil {
		return nil, err
	}
	roll, err := ballot.DecodeRoll(data)
	if err != nil {
		return nil, fmt.Errorf("voter roll %s: %w", path, err)
	}
	if roll.ElectionID != g.cfg.Election.ID {
		return nil, fmt.Errorf("voter roll %s: %w: it is for %q, the genesis for %q", path, ErrRollElection, roll.ElectionID, g.cfg.Election.ID)
	}
	if roll.Len() != g.cfg.VoterRoll.Voters {
		return nil, fmt.Errorf("voter roll %s: %w: %d voters, the genesis says %d", path, ErrRollCount, roll.Len(), g.cfg.VoterRoll.Voters)
	}
	if h := roll.Hash(); h != g.RollHash() {
		return nil, fmt.Errorf("voter roll %s: %w: SHA-256 %x, the genesis says %x", path, ErrRollHash, h, g.RollHash())
	}
	return roll, nil
}

func readRoll(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("voter roll: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("voter roll: %w", err)
	}
	if st.Size() > maxRollFileBytes {
		return nil, fmt.Errorf("voter roll %s: %w: %d bytes, at most %d", path, ErrTooLarge, st.Size(), maxRollFileBytes)
	}
	// One allocation of the file's size: a million-voter roll is 65 MB, and
	// io.ReadAll's doubling would allocate 155 MB to read it.
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("voter roll %s: %w (did it change while being read?)", path, err)
	}
	var more [1]byte
	if n, _ := f.Read(more[:]); n > 0 {
		return nil, fmt.Errorf("voter roll %s: it grew while being read", path)
	}
	return data, nil
}
