package chain_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the packages' dependencies one way (see
// README): each package may import only the urna packages listed for it.
// The consensus core, its durable pieces and the store import none: they
// know nothing of elections.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/urna-vote/urna/"
	allowed := map[string][]string{
		"ballot":           nil,
		"chain/bft":        nil,
		"chain/bft/simnet": nil,
		"chain/bft/wal":    nil,
		"chain/bft/signer": nil,
		"chain/store":      nil,
		"chain/genesis":    {"ballot"},
		"chain":            {"ballot", "chain/bft", "chain/genesis"},
		"chain/ledger":     {"chain", "chain/bft", "chain/genesis", "chain/store"},
		"chain/record":     {"ballot", "chain", "chain/bft", "chain/genesis", "chain/ledger", "chain/store"},
		"chain/station":    {"ballot", "chain", "chain/bft", "chain/bft/signer", "chain/bft/wal", "chain/genesis", "chain/ledger", "chain/store"},
		"chain/verify":     {"ballot", "chain", "chain/bft", "chain/genesis"},
		"chain/audit":      {"ballot", "chain", "chain/bft", "chain/genesis", "chain/record", "chain/verify"},
		// The network moves bytes and knows no election rules: it imports
		// nothing of the chain or the ballot.
		"net/frame":    nil,
		"net/limit":    nil,
		"net/endpoint": nil,
		"net/mesh":     {"net/endpoint", "net/frame", "net/limit"},
		"net/api":      {"net/endpoint", "net/frame", "net/limit"},
		// The terminals reach a station only through tui.Node; only
		// tui/remote, the Node over the client protocol, knows the network.
		"tui":          {"chain", "chain/genesis"},
		"tui/vote":     {"ballot", "chain", "chain/genesis", "tui"},
		"tui/official": {"chain", "chain/genesis", "tui"},
		"tui/tuitest":  {"ballot", "chain", "chain/chaintest", "chain/genesis", "tui"},
		"tui/remote":   {"chain", "chain/genesis", "chain/verify", "net/api", "tui"},
	}
	for pkg, ok := range allowed {
		files, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("package %s: no Go files (%v)", pkg, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				dep, ours := strings.CutPrefix(path, mod)
				if ours && !slices.Contains(ok, dep) {
					t.Errorf("%s imports %s, which %s may not depend on", name, dep, pkg)
				}
			}
		}
	}
}
