package tui

import "github.com/charmbracelet/lipgloss"

// The one styles file of both programs. Colours are the 16 ANSI ones, so
// the terminal's own theme (high-contrast themes included) decides the
// actual shades. Colour and weight only ever reinforce what the text already
// says: every state has a word or a marker below, so NO_COLOR (which turns
// all of this into plain text) loses nothing.
var (
	// Title is a screen's heading.
	Title = lipgloss.NewStyle().Bold(true)
	// Subtle is secondary text: hints, labels, the election name.
	Subtle = lipgloss.NewStyle().Foreground(lipgloss.Color("8"))
	// Cursor is the line under the cursor (also marked by CursorMark).
	Cursor = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6"))
	// Marked is a chosen candidate (also marked by MarkedBox).
	Marked = lipgloss.NewStyle().Foreground(lipgloss.Color("6"))
	// Good is a success (also said by GoodMark and words).
	Good = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("2"))
	// Bad is a failure or refusal (also said by BadMark and words).
	Bad = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("1"))
	// Warn is a warning that lets the person go on (also WarnMark).
	Warn = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3"))
	// Box frames what must stand out: the tracking code, a confirmation.
	Box = lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 2)
	// Big is the tracking code inside its Box.
	Big = lipgloss.NewStyle().Bold(true)
	// Button is an action the person can take, named by its key.
	Button = lipgloss.NewStyle().Bold(true)
	// Bar is the filled part of a turnout bar (drawn with BarFull runes).
	Bar = lipgloss.NewStyle().Foreground(lipgloss.Color("4"))
	// Help is the key help line at the bottom.
	Help = lipgloss.NewStyle().Foreground(lipgloss.Color("8"))
)

// Textual markers: they carry the state, the styles above only echo it.
const (
	CursorMark   = "> "
	NoCursorMark = "  "
	MarkedBox    = "[x]"
	EmptyBox     = "[ ]"
	GoodMark     = "✓"
	BadMark      = "✗"
	WarnMark     = "!"
	BarFull      = "#"
	BarEmpty     = "."
)
