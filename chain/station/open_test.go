package station

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
)

// A station that has data but lost its double-sign guard state refuses to
// start: it could otherwise sign a second vote for a step it already voted.
func TestOpenRefusesMissingSignerState(t *testing.T) {
	c := newCluster(t, "mayor", 10, 8)
	c.startAll()
	c.waitPhase(chain.PhaseReady, 60*time.Second)
	c.stop(2)
	if err := os.RemoveAll(filepath.Join(c.dirs[2], "signer")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Config{Genesis: c.e.Genesis, Roll: c.e.Roll, Seed: c.e.StationSeeds[2], Dir: c.dirs[2], Transport: c.net.attach(2)})
	if !errors.Is(err, ErrNoSigner) {
		t.Fatalf("open without signer state: %v", err)
	}
	// A key that is not a station's is refused.
	_, err = Open(Config{Genesis: c.e.Genesis, Roll: c.e.Roll, Seed: c.e.OfficialSeeds[0], Dir: t.TempDir(), Transport: c.net.attach(2)})
	if !errors.Is(err, ErrNotStation) {
		t.Fatalf("open with an official's key: %v", err)
	}
}
