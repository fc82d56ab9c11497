package vote

import (
	"strings"
	"unicode"
)

// codeInput is the voting-code field: it keeps the typed symbols (never
// dashes or spaces, which people type as they like), shows them in the
// groups the code sheet prints, masked unless the voter asks to see them.
type codeInput struct {
	shape  []int // symbols per printed group
	syms   []rune
	reveal bool
}

func newCodeInput(shape []int) codeInput { return codeInput{shape: shape} }

func (c *codeInput) total() int {
	n := 0
	for _, g := range c.shape {
		n += g
	}
	return n
}

func (c *codeInput) len() int { return len(c.syms) }

func (c *codeInput) value() string { return string(c.syms) }

// reset forgets the code. The runes are overwritten first: a string made
// from them may survive in memory until the garbage collector runs, but
// the field's own buffer does not.
func (c *codeInput) reset() {
	for i := range c.syms {
		c.syms[i] = 0
	}
	c.syms = c.syms[:0]
	c.reveal = false
}

func (c *codeInput) backspace() {
	if len(c.syms) > 0 {
		c.syms[len(c.syms)-1] = 0
		c.syms = c.syms[:len(c.syms)-1]
	}
}

// typeRunes adds typed (or pasted) symbols and returns a notice when one is
// refused: a symbol that no voting code contains, or one too many.
func (c *codeInput) typeRunes(rs []rune) string {
	for _, r := range rs {
		if r == '-' || r == ' ' {
			continue
		}
		if !symbolAllowed(r) {
			return badSymbolWords(r)
		}
		if len(c.syms) >= c.total() {
			return tooLongWords(c.total())
		}
		c.syms = append(c.syms, unicode.ToUpper(r))
	}
	return ""
}

// view draws the field: groups as printed, "*" for a hidden symbol, "_"
// for one not typed yet.
func (c *codeInput) view() string {
	var b strings.Builder
	i := 0
	for gi, g := range c.shape {
		if gi > 0 {
			b.WriteByte('-')
		}
		for range g {
			switch {
			case i >= len(c.syms):
				b.WriteByte('_')
			case c.reveal:
				b.WriteRune(c.syms[i])
			default:
				b.WriteByte('*')
			}
			i++
		}
	}
	return b.String()
}
