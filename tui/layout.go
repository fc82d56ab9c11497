package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// DefaultWidth and DefaultHeight are assumed until the first
// tea.WindowSizeMsg arrives, so that a screen always renders something.
const (
	DefaultWidth  = 80
	DefaultHeight = 24
	// MaxWidth keeps lines readable on very wide terminals.
	MaxWidth = 100
)

// Size is the usable terminal size; zero values mean "not known yet".
type Size struct{ Width, Height int }

// W is the width to lay out for.
func (s Size) W() int {
	switch {
	case s.Width <= 0:
		return DefaultWidth
	case s.Width > MaxWidth:
		return MaxWidth
	}
	return s.Width
}

// H is the height to lay out for.
func (s Size) H() int {
	if s.Height <= 0 {
		return DefaultHeight
	}
	return s.Height
}

// Wrap word-wraps text to width columns (breaking a word only when it is
// longer than a line), without trailing spaces.
func Wrap(text string, width int) string {
	if width < 10 {
		width = 10
	}
	lines := strings.Split(ansi.Wrap(text, width, ""), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// Para wraps text to width and styles each line on its own, so that no line
// is padded with trailing spaces.
func Para(style lipgloss.Style, text string, width int) string {
	lines := strings.Split(Wrap(text, width), "\n")
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return strings.Join(lines, "\n")
}

// Screen lays out one full screen: the header at the top, the body under
// it, the footer (status line and key help) at the bottom. A body too tall
// for the terminal is cut, with a last line saying so, so the header and
// the key help always stay visible.
func Screen(size Size, header, body, footer string) string {
	w, h := size.W(), size.H()
	head := strings.Split(header, "\n")
	foot := strings.Split(footer, "\n")
	lines := strings.Split(body, "\n")
	room := h - len(head) - len(foot) - 1 // one blank line under the header
	if room < 1 {
		room = 1
	}
	if len(lines) > room {
		lines = append(lines[:room-1], Subtle.Render("… (make the window taller to see the rest)"))
	}
	out := make([]string, 0, h)
	out = append(out, head...)
	out = append(out, "")
	out = append(out, lines...)
	for len(out)+len(foot) < h {
		out = append(out, "")
	}
	out = append(out, foot...)
	for i, l := range out {
		if lipgloss.Width(l) > w {
			out[i] = truncate(l, w)
		}
	}
	return strings.Join(out, "\n")
}

// truncate cuts a line to w cells, keeping any styling well formed.
func truncate(line string, w int) string {
	return lipgloss.NewStyle().MaxWidth(w).Render(line)
}

// Group lays out a code made of dash-separated groups (a voting code, a
// tracking code of any length) as lines of at most perLine groups, with
// the groups separated by sep. It never assumes how many groups there are.
func Group(code string, perLine int, sep string) []string {
	groups := strings.Split(code, "-")
	if perLine < 1 {
		perLine = 1
	}
	var lines []string
	for i := 0; i < len(groups); i += perLine {
		end := min(i+perLine, len(groups))
		lines = append(lines, strings.Join(groups[i:end], sep))
	}
	return lines
}

// Spaced puts a space between the symbols of a group, so a code read aloud
// or copied by hand loses no symbol: "7K3M" → "7 K 3 M".
func Spaced(group string) string {
	r := []rune(group)
	parts := make([]string, len(r))
	for i, c := range r {
		parts[i] = string(c)
	}
	return strings.Join(parts, " ")
}
