package genesis

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/config.md states every param with its default and range; keep them
// in step with the code.
func TestDocsListEveryParam(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	defaults := DefaultParams()
	for _, r := range paramRules {
		def := *r.get(&defaults)
		var row string
		for _, line := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(line, "| `"+r.name+"` |") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("docs/config.md has no row for params.%s", r.name)
			continue
		}
		cells := strings.Split(row, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[2]), fmt.Sprint(def)) {
			t.Errorf("docs/config.md: params.%s default is %d in the code: %s", r.name, def, row)
		}
		if r.min < 0 || r.min > def || def > r.max {
			t.Errorf("params.%s default %d outside its range %d..%d", r.name, def, r.min, r.max)
		}
	}
}
