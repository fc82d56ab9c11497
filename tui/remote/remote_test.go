package remote

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/tui"
)

// TestClassify checks that every failure of the client protocol and of the
// chain's verification reaches the screens as the right kind.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
		rule tui.Rule
	}{
		{&api.RejectedError{Rule: "already-voted", Message: "x"}, nil, tui.RuleAlreadyVoted},
		{fmt.Errorf("submit: %w", &api.RejectedError{Rule: "wrong-phase"}), nil, tui.RuleWrongPhase},
		{fmt.Errorf("%w: slow down", api.ErrBusy), nil, tui.RuleMempoolFull},
		{fmt.Errorf("%w: bad frame", api.ErrProtocol), tui.ErrUntrusted, ""},
		{fmt.Errorf("block 3: %w", verify.ErrCertificate), tui.ErrUntrusted, ""},
		{fmt.Errorf("block 3: %w", verify.ErrBlock), tui.ErrUntrusted, ""},
		{verify.ErrRoll, tui.ErrUntrusted, ""},
		{verify.ErrSource, tui.ErrUntrusted, ""},
		{verify.ErrKeyNotReady, tui.ErrKeyNotReady, ""},
		{fmt.Errorf("%w: timeout", api.ErrUnreachable), tui.ErrUnreachable, ""},
		{fmt.Errorf("%w: stopping", api.ErrUnavailable), tui.ErrUnreachable, ""},
		{context.DeadlineExceeded, tui.ErrUnreachable, ""},
	} {
		got := classify(c.err)
		if c.rule != "" {
			var rej *tui.Rejection
			if !errors.As(got, &rej) || rej.Rule != c.rule {
				t.Errorf("classify(%v) = %v, want a rejection for %s", c.err, got, c.rule)
			}
			continue
		}
		if !errors.Is(got, c.want) {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if got := classify(fmt.Errorf("%w: x", api.ErrUnreachable)); got.Error() != "station cannot be reached: x" {
		t.Errorf("message %q says it twice", got.Error())
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is an error")
	}
}
