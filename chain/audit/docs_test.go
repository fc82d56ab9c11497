package audit_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/urna-vote/urna/chain/audit"
)

// docs/verification.md lists every check (a row of its table, in report
// order) and every field of the JSON report.
func TestDocsListEveryCheck(t *testing.T) {
	doc, err := os.ReadFile("../../docs/verification.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	last := 0
	for _, name := range audit.CheckNames() {
		i := strings.Index(text, "| `"+name+"` |")
		if i < 0 {
			t.Errorf("docs/verification.md has no row for check %s", name)
			continue
		}
		if i < last {
			t.Errorf("docs/verification.md lists check %s out of the report's order", name)
		}
		last = i
	}
	r := audit.Report{FirstFailure: &audit.Failure{}, Results: []audit.ContestResult{{Candidates: []audit.CandidateResult{{}}}},
		Turnout: []audit.StationTurnout{{}}, Evidence: []audit.Equivocation{{}}, Checks: []audit.Check{{Failure: &audit.Failure{}}}}
	data, _ := json.Marshal(r)
	var fields map[string]json.RawMessage
	json.Unmarshal(data, &fields)
	for k, v := range fields {
		if !strings.Contains(text, "`"+k+"`") {
			t.Errorf("docs/verification.md does not describe JSON field %s", k)
		}
		var inner []map[string]any
		if json.Unmarshal(v, &inner) == nil && len(inner) > 0 {
			for ik := range inner[0] {
				if !strings.Contains(text, ik) {
					t.Errorf("docs/verification.md does not describe JSON field %s.%s", k, ik)
				}
			}
		}
	}
}
