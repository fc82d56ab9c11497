package chain

import (
	"errors"
	"fmt"
	"testing"
)

func TestRuleNamesRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range ruleNames {
		if seen[r.name] {
			t.Fatalf("rule name %q twice", r.name)
		}
		seen[r.name] = true
		wrapped := &TxError{Err: fmt.Errorf("context: %w", r.err)}
		if got := RuleName(wrapped); got != r.name {
			t.Errorf("RuleName(%v) = %q, want %q", r.err, got, r.name)
		}
		if !errors.Is(RuleError(r.name), r.err) {
			t.Errorf("RuleError(%q) is not %v", r.name, r.err)
		}
	}
	if RuleName(errors.New("disk on fire")) != "" || RuleError("no-such-rule") != nil {
		t.Fatal("unknown errors or names must map to nothing")
	}
}
