package official

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui"
)

const labelWidth = 10

// View draws the screen showing; it reads the model only.
func (m *Model) View() string {
	w := m.size.W()
	var body string
	k := m.keys
	var short []key.Binding
	switch m.screen {
	case scrConfirm:
		body, short = m.viewConfirm(w), []key.Binding{k.Yes, k.No}
	case scrSending:
		body = m.viewSending(w)
	case scrResults:
		body, short = m.viewResults(w), []key.Binding{k.Dashboard, k.Help, k.Quit}
	default:
		body = m.viewDashboard(w)
		if m.official >= 0 {
			short = append(short, k.Open, k.Close)
		}
		short = append(short, k.Results, k.Help, k.Quit)
	}
	var foot []string
	if m.notice != "" {
		foot = append(foot, tui.Para(markStyle(m.notice), m.notice, w))
	}
	foot = append(foot, tui.Help.Render(m.help.View(screenKeys{short, []key.Binding{k.Help, k.Quit}})))
	return tui.Screen(m.size, m.header(w), body, strings.Join(foot, "\n"))
}

func markStyle(s string) lipgloss.Style {
	switch {
	case strings.HasPrefix(s, tui.GoodMark):
		return tui.Good
	case strings.HasPrefix(s, tui.BadMark):
		return tui.Bad
	case strings.HasPrefix(s, tui.WarnMark):
		return tui.Warn
	}
	return lipgloss.NewStyle()
}

func (m *Model) header(w int) string {
	title := m.g.Election().Title + " · officials' console"
	where := "via " + m.cfg.Connected.Name
	gap := w - lipgloss.Width(title) - lipgloss.Width(where)
	line := tui.Title.Render(title) + strings.Repeat(" ", max(gap, 1)) + tui.Subtle.Render(where)
	if gap < 1 {
		line = tui.Title.Render(title) + "\n" + tui.Subtle.Render(where)
	}
	return line + "\n" + tui.Subtle.Render(strings.Repeat("─", w))
}

// drawRow draws a dashboard row: marker, label, value wrapped under itself.
func drawRow(r row, w int) string {
	mark := "  "
	if r.mark != "" {
		mark = r.mark + " "
	}
	valW := max(w-2-labelWidth, 10)
	lines := strings.Split(tui.Wrap(r.value, valW), "\n")
	style := markStyle(r.mark)
	var b strings.Builder
	for i, l := range lines {
		if i == 0 {
			b.WriteString(style.Render(mark) + tui.Title.Render(fmt.Sprintf("%-*s", labelWidth, r.label)) + style.Render(l))
		} else {
			b.WriteString("\n" + strings.Repeat(" ", 2+labelWidth) + style.Render(l))
		}
	}
	return b.String()
}

func (m *Model) viewDashboard(w int) string {
	var b strings.Builder
	for _, r := range m.rows() {
		b.WriteString(drawRow(r, w) + "\n")
	}
	if m.have {
		b.WriteString("\n" + tui.Title.Render("Ballots cast per station") + "\n")
		bars := m.bars()
		var top uint64
		nameW := 0
		for _, s := range bars {
			top = max(top, s.count)
			nameW = max(nameW, lipgloss.Width(s.name))
		}
		nameW = min(nameW, w/3)
		countW := len(fmt.Sprint(top))
		barW := max(w-nameW-countW-len("  ")*4-len("OFFLINE")-1, 5) // "  name  bar  count  state"
		for _, s := range bars {
			state := "online"
			if !s.online {
				state = tui.Bad.Render("OFFLINE")
			}
			name := s.name
			if lipgloss.Width(name) > nameW {
				name = string([]rune(name)[:nameW-1]) + "…"
			}
			b.WriteString(fmt.Sprintf("  %-*s  %s  %*d  %s\n", nameW, name, bar(s.count, top, barW), countW, s.count, state))
		}
	}
	who := "Read-only: start with --key FILE to approve."
	if m.official >= 0 {
		o := m.g.Officials()[m.official]
		who = "Signed in as " + o.Name + " (official " + o.ID + ")."
	}
	b.WriteString("\n" + tui.Subtle.Render(who))
	return b.String()
}

func (m *Model) viewConfirm(w int) string {
	var b strings.Builder
	verb, quorum, list := "OPENING", m.g.OpenQuorum(), m.status.OpenApprovals
	effect := "The polls open"
	if m.action == chain.ActionClose {
		verb, quorum, list = "CLOSING", m.g.CloseQuorum(), m.status.CloseApprovals
		effect = "The polls close (and no more ballots are taken)"
	}
	b.WriteString(tui.Warn.Render(fmt.Sprintf("%s Approve %s the polls?", tui.WarnMark, verb)) + "\n\n")
	o := m.g.Officials()[m.official]
	b.WriteString(tui.Wrap(fmt.Sprintf("You are %s. Your approval is signed with your key and goes on the chain for everyone to see; it cannot be taken back.", o.Name), w) + "\n\n")
	b.WriteString(tui.Wrap(fmt.Sprintf("%s once %d of the %d officials have approved. Approved so far: %d.", effect, quorum, len(m.g.Officials()), len(list)), w) + "\n\n")
	b.WriteString("    " + tui.Button.Render("y") + "  yes, sign and send\n")
	b.WriteString("    " + tui.Button.Render("n") + "  no, back to the dashboard")
	return b.String()
}

func (m *Model) viewSending(w int) string {
	return tui.Wrap("Signing your approval of "+actionNoun(m.action)+", sending it to "+m.cfg.Connected.Name+" and waiting for its block…", w)
}

func (m *Model) viewResults(w int) string {
	var b strings.Builder
	switch {
	case m.results == nil && m.status.Phase != chain.PhaseTallied:
		return tui.Wrap(fmt.Sprintf("No results yet: the tally is done after the polls close (the phase is %s).", m.status.Phase), w)
	case m.results == nil && m.resultsErr != nil:
		return tui.Para(tui.Bad, tui.BadMark+" The results could not be verified: "+m.resultsErr.Error(), w)
	case m.results == nil:
		return "Verifying the results from the chain…"
	}
	b.WriteString(tui.Good.Render(fmt.Sprintf("%s Verified results (tally completed in block %d)", tui.GoodMark, m.results.Height)) + "\n")
	b.WriteString(tui.Subtle.Render(tui.Wrap("Re-computed from the certified chain, not taken from the station's word.", w)) + "\n")
	for _, c := range m.tally() {
		b.WriteString(tui.Title.Render(c.title) + tui.Subtle.Render(fmt.Sprintf("  (choose up to %d)", c.limit)) + "\n")
		nameW := 0
		for _, cand := range c.candidates {
			nameW = max(nameW, lipgloss.Width(cand.name))
		}
		nameW = min(nameW, w/3)
		barW := max(w-2-nameW-2-8-len("  (most votes)"), 5)
		for _, cand := range c.candidates {
			note := ""
			if c.most(cand) {
				note = "  (most votes)"
			}
			name := cand.name
			if lipgloss.Width(name) > nameW {
				name = string([]rune(name)[:nameW-1]) + "…"
			}
			b.WriteString(fmt.Sprintf("  %-*s  %s %6d%s\n", nameW, name, bar(cand.count, c.top, barW), cand.count, note))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
