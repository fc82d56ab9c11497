package chain

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// Every transaction-level error of errors.go has a rule name: a station
// that refuses a transaction must tell the client which rule it broke.
func TestEveryTxRuleIsNamed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, r := range ruleNames {
		named[r.err.Error()] = true
	}
	checked := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR || g.Doc == nil || !strings.HasPrefix(g.Doc.Text(), "Transaction-level errors") {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				msg := v.(*ast.CallExpr).Args[0].(*ast.BasicLit).Value
				checked++
				if !named[strings.Trim(msg, `"`)] {
					t.Errorf("transaction rule %s has no name in ruleNames", msg)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("found only %d transaction rules in errors.go", checked)
	}
}

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
