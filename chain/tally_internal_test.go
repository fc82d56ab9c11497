package chain

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/urna-vote/urna/ballot"
)

// TestTallyFailureIsAStableCode: what goes into the hashed state when the tally cannot
// be decrypted is one of the documented codes, whatever the error's text (which a
// library may word differently from one version to the next).
func TestTallyFailureIsAStableCode(t *testing.T) {
	cases := []struct {
		err  error
		want TallyFailure
	}{
		{fmt.Errorf("contest %q: candidate %q: %w", "mayor", "Ada", ballot.ErrNoDiscreteLog), TallyNoDiscreteLog},
		{fmt.Errorf("%w: 2 of 3", ballot.ErrTooFewShares), TallyTooFewShares},
		{fmt.Errorf("wrapped twice: %w", fmt.Errorf("x: %w", ballot.ErrShareShape)), TallyShareShape},
		{errors.New("kyber: some internal failure"), TallyOther},
	}
	for _, c := range cases {
		got := tallyFailure(c.err)
		if got != c.want {
			t.Errorf("%v: got %q, want %q", c.err, got, c.want)
		}
		if strings.Contains(c.err.Error(), string(got)) {
			t.Errorf("%v: the code %q is the error's text", c.err, got)
		}
	}
}
