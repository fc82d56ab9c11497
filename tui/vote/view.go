package vote

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui"
)

// View draws the screen showing. It reads the model only.
func (m *Model) View() string {
	w := m.size.W()
	body, ks := m.body(w)
	var foot []string
	if m.notice != "" {
		foot = append(foot, tui.Para(noticeStyle(m.notice), m.notice, w))
	}
	if m.idleWarn {
		foot = append(foot, tui.Para(tui.Warn, fmt.Sprintf("%s Are you still there? Press any key within %d seconds, or everything you entered is cleared.",
			tui.WarnMark, int(m.cfg.IdleWarning.Seconds())), w))
	}
	foot = append(foot, tui.Help.Render(m.help.View(ks)))
	return tui.Screen(m.size, m.header(w), body, strings.Join(foot, "\n"))
}

// noticeStyle colours a notice by the marker it starts with; the marker
// itself carries the meaning.
func noticeStyle(n string) lipgloss.Style {
	switch {
	case strings.HasPrefix(n, tui.BadMark):
		return tui.Bad
	case strings.HasPrefix(n, tui.WarnMark):
		return tui.Warn
	case strings.HasPrefix(n, tui.GoodMark):
		return tui.Good
	}
	return lipgloss.NewStyle()
}

func (m *Model) header(w int) string {
	title := m.cfg.Genesis.Election().Title
	where := m.cfg.Station.Name
	if m.connected.ID != m.cfg.Station.ID {
		where += " (via " + m.connected.Name + ")"
	}
	gap := w - lipgloss.Width(title) - lipgloss.Width(where)
	line := tui.Title.Render(title) + strings.Repeat(" ", max(gap, 1)) + tui.Subtle.Render(where)
	if gap < 1 {
		line = tui.Title.Render(title) + "\n" + tui.Subtle.Render(where)
	}
	return line + "\n" + tui.Subtle.Render(strings.Repeat("─", w))
}

func (m *Model) body(w int) (string, screenKeys) {
	k := m.keys
	more := []key.Binding{k.Help, k.Quit}
	switch m.screen {
	case scrCode:
		return m.viewCode(w), screenKeys{[]key.Binding{k.Continue, k.Reveal, k.Delete, k.Back, k.Help}, more}
	case scrContest:
		return m.viewContest(w), screenKeys{[]key.Binding{k.Up, k.Down, k.Mark, k.Next, k.Prev, k.Help}, more}
	case scrReview:
		return m.viewReview(w), screenKeys{[]key.Binding{k.Cast, k.Challenge, k.Change, k.Jump, k.Help}, more}
	case scrConfirm:
		return m.viewConfirm(w), screenKeys{[]key.Binding{k.Yes, k.No}, more}
	case scrSending:
		return m.viewSending(w), screenKeys{[]key.Binding{k.Help}, more}
	case scrCast:
		return m.viewCast(w), screenKeys{[]key.Binding{k.Finish}, more}
	case scrChallenged:
		return m.viewChallenged(w), screenKeys{[]key.Binding{k.Again, k.Stop}, more}
	case scrTrack:
		return m.viewTrack(w), screenKeys{[]key.Binding{k.LookUp, k.Delete, k.Back, k.Help}, more}
	case scrProblem:
		return m.viewProblem(w), m.problemKeys()
	}
	short := []key.Binding{k.Vote, k.Track}
	if m.cfg.Dial != nil {
		short = append(short, k.OtherStation)
	}
	return m.viewWelcome(w), screenKeys{append(short, k.Help), more}
}

func (m *Model) viewWelcome(w int) string {
	var b strings.Builder
	b.WriteString(tui.Title.Render("Welcome.") + " This terminal lets you vote in\n\n")
	b.WriteString("    " + tui.Title.Render(m.cfg.Genesis.Election().Title) + "\n\n")
	b.WriteString("at " + m.cfg.Station.Name + ".\n\n")
	ok, why := m.canVote()
	if ok {
		words, _ := phaseWords(m.status.Phase)
		b.WriteString(tui.Good.Render(tui.GoodMark+" "+words) + "\n\n")
		b.WriteString("    " + tui.Button.Render("enter") + "  Vote\n")
	} else {
		b.WriteString(tui.Para(tui.Bad, tui.BadMark+" "+why, w) + "\n\n")
		b.WriteString("    " + tui.Subtle.Render("(voting is not possible right now)") + "\n")
	}
	b.WriteString("    " + tui.Button.Render("t") + "      Check a tracking code\n\n")
	b.WriteString(tui.Para(tui.Subtle, "How it works: type the voting code from your code sheet, choose in each contest, review, then cast. Your choices are sealed (encrypted) on this terminal before anything is sent: the station never sees them.", w))
	return b.String()
}

// step says where the voter is: code, each contest, review.
func (m *Model) step(i int) string {
	return tui.Subtle.Render(fmt.Sprintf("Step %d of %d", i, len(m.contests)+2))
}

func (m *Model) viewCode(w int) string {
	var b strings.Builder
	b.WriteString(m.step(1) + "\n")
	b.WriteString(tui.Title.Render("Your voting code") + "\n\n")
	b.WriteString(tui.Wrap("Type the voting code printed on your code sheet. Dashes are optional; small letters are fine.", w) + "\n\n")
	shown := "hidden: tab shows it"
	if m.code.reveal {
		shown = "shown: tab hides it"
	}
	b.WriteString("    Voting code:  " + tui.Big.Render(m.code.view()) + "   " + tui.Subtle.Render("("+shown+")") + "\n\n")
	n, want := m.code.len(), m.code.total()
	switch {
	case n < want:
		b.WriteString(fmt.Sprintf("    %d of %d symbols typed.\n", n, want))
	default:
		if _, p := checkCode(m.code.value()); p == codeOK {
			b.WriteString("    " + tui.Good.Render(tui.GoodMark+" The code checks out. Press Enter to continue.") + "\n")
		} else {
			b.WriteString(indent(tui.Para(tui.Bad, tui.BadMark+" "+codeWords(p), w-4), "    ") + "\n")
		}
	}
	b.WriteString("\n" + tui.Para(tui.Subtle, "The last symbol is a check: a mistyped code is caught here, before anything is sent. The code is never stored on this terminal.", w))
	return b.String()
}

func (m *Model) viewContest(w int) string {
	c := m.contests[m.contest]
	var b strings.Builder
	b.WriteString(m.step(m.contest+2) + tui.Subtle.Render(fmt.Sprintf(" · contest %d of %d", m.contest+1, len(m.contests))) + "\n")
	b.WriteString(tui.Para(tui.Title, c.Title, w) + "\n")
	b.WriteString(fmt.Sprintf("Choose up to %d.   Chosen: %d of %d.\n\n", c.Limit, m.marked(m.contest), c.Limit))
	for i, cand := range c.Candidates {
		box := tui.EmptyBox
		if m.choices[m.contest][i] {
			box = tui.MarkedBox
		}
		line := box + " " + cand.Name
		if m.choices[m.contest][i] {
			line += "  (chosen)"
		}
		switch {
		case i == m.cursor:
			b.WriteString(tui.Cursor.Render(tui.CursorMark + line))
		case m.choices[m.contest][i]:
			b.WriteString(tui.NoCursorMark + tui.Marked.Render(line))
		default:
			b.WriteString(tui.NoCursorMark + line)
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// choiceLines lists choices contest by contest, as the review, the
// confirmation and the challenge show them.
func (m *Model) choiceLines(ch ballot.Choices, w int, numbered bool) string {
	var b strings.Builder
	for ci, c := range m.contests {
		var names []string
		for si, cand := range c.Candidates {
			if ci < len(ch) && si < len(ch[ci]) && ch[ci][si] {
				names = append(names, cand.Name)
			}
		}
		num := "  "
		if numbered {
			num = fmt.Sprintf("%d ", ci+1)
		}
		b.WriteString(num + tui.Title.Render(truncateTo(c.Title, w-len(num)-10)) + tui.Subtle.Render(fmt.Sprintf("  (%d of %d)", len(names), c.Limit)) + "\n")
		chosen := strings.Join(names, ", ")
		if len(names) == 0 {
			chosen = "(blank: nobody chosen)"
		}
		b.WriteString(indent(tui.Wrap(chosen, w-6), "    ") + "\n")
	}
	return b.String()
}

func truncateTo(s string, w int) string {
	if w < 10 || lipgloss.Width(s) <= w {
		return s
	}
	r := []rune(s)
	for lipgloss.Width(string(r))+1 > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

func indent(s, pad string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n")
}

func (m *Model) viewReview(w int) string {
	var b strings.Builder
	b.WriteString(m.step(len(m.contests)+2) + "\n")
	b.WriteString(tui.Title.Render("Review your choices") + "\n\n")
	b.WriteString(m.choiceLines(m.choices, w, true) + "\n")
	switch {
	case m.sealed != nil:
		b.WriteString(tui.Good.Render(tui.GoodMark+" Sealed.") + " Tracking code of this ballot: " + tui.Big.Render(m.sealed.tracking) + "\n")
	case m.sealErr != nil:
		b.WriteString(tui.Bad.Render(tui.BadMark+" This terminal could not seal the ballot. Please tell a poll worker.") + "\n")
	default:
		b.WriteString("Sealing your ballot (encrypting it on this terminal)…\n")
	}
	b.WriteString("\n" + tui.Button.Render("c") + "  " + tui.Title.Render("CAST") + " this ballot: it will be counted.\n")
	b.WriteString(tui.Button.Render("h") + "  " + indent(tui.Wrap("Challenge it instead: check how the terminal sealed your choices. A challenged ballot is NEVER counted; you then vote again.", w-3), "   ")[3:])
	return b.String()
}

func (m *Model) viewConfirm(w int) string {
	var b strings.Builder
	if m.challenging {
		b.WriteString(tui.Warn.Render(tui.WarnMark+" Challenge this ballot?") + "\n\n")
		b.WriteString(tui.Wrap("The terminal will publish this sealed ballot with the secret keys that open it, so you (and anyone) can check it holds exactly the choices you made.", w) + "\n\n")
		b.WriteString(tui.Para(tui.Bad, "A challenged ballot is NEVER counted. After the challenge you vote again.", w) + "\n\n")
		b.WriteString("    " + tui.Button.Render("y") + "  Yes, challenge it (it will not count)\n")
	} else {
		b.WriteString(tui.Title.Render("Cast this ballot?") + "\n\n")
		b.WriteString(m.choiceLines(m.choices, w, false) + "\n")
		b.WriteString(tui.Wrap("It will be counted. It cannot be changed or taken back.", w) + "\n\n")
		b.WriteString("    " + tui.Button.Render("y") + "  Yes, cast it\n")
	}
	b.WriteString("    " + tui.Button.Render("n") + "  No, go back")
	return b.String()
}

func (m *Model) viewSending(w int) string {
	var b strings.Builder
	verb := "Casting"
	if m.challenging {
		verb = "Challenging"
	}
	where := m.connected.Name
	b.WriteString(tui.Title.Render(verb+" your ballot") + "\n\n")
	done := func(s string) { b.WriteString("  " + tui.Good.Render(tui.GoodMark) + " " + s + "\n") }
	doing := func(s string) { b.WriteString("  " + m.spin.View() + " " + s + "\n") }
	done("Sealed on this terminal (encrypted, proved and signed).")
	if m.challenging {
		if m.stage == stageOpening {
			doing("Opening it: the terminal reveals the keys that unlock it…")
		} else {
			done("Opened: the keys that unlock it are attached.")
		}
	}
	switch m.stage {
	case stageSending:
		doing("Sending it to " + where + "…")
	case stageWaiting:
		done("Accepted by " + where + ".")
		doing("Waiting for it to be written in a block of the chain…")
	}
	b.WriteString("\n" + tui.Para(tui.Subtle, "Please wait. Do not leave yet: the next screen tells you when your ballot is recorded.", w))
	return b.String()
}

// bigCode draws a tracking code of any length, grouped and spaced, in a box.
func bigCode(code string, w int) string {
	per := max(1, (w-8)/10)
	lines := tui.Group(code, min(per, 4), "   ")
	for i, l := range lines {
		var parts []string
		for g := range strings.SplitSeq(l, "   ") {
			parts = append(parts, tui.Spaced(g))
		}
		lines[i] = strings.Join(parts, "   ")
	}
	return tui.Box.Render(tui.Big.Render(strings.Join(lines, "\n")))
}

func (m *Model) viewCast(w int) string {
	var b strings.Builder
	b.WriteString(tui.Para(tui.Good, fmt.Sprintf("%s Your vote is cast. It is recorded in block %d of the chain and will be counted.", tui.GoodMark, m.height), w) + "\n\n")
	b.WriteString("Your tracking code:\n")
	b.WriteString(bigCode(m.tracking, w) + "\n")
	b.WriteString(tui.Wrap(fmt.Sprintf("Write it down or take a photo of it. To check your ballot later, choose \"check a tracking code\" on any urna terminal: it shows this code as cast in block %d. The code does not reveal your choices.", m.height), w) + "\n\n")
	b.WriteString(tui.Subtle.Render("This terminal has already forgotten your voting code and your choices."))
	return b.String()
}

func (m *Model) viewChallenged(w int) string {
	var b strings.Builder
	b.WriteString(tui.Para(tui.Bad, tui.BadMark+" This ballot will NOT be counted: you challenged it.", w) + "\n\n")
	b.WriteString(tui.Wrap(fmt.Sprintf("It is published in block %d as a challenged ballot, with the keys that open it. Opened, it holds these choices (anyone can recheck them from the chain):", m.height), w) + "\n")
	b.WriteString(m.choiceLines(m.revealed, w, false))
	b.WriteString(tui.Wrap("Are these the choices you made? If not, tell a poll worker now: the terminal may be faulty.", w) + "\n")
	b.WriteString(tui.Para(tui.Subtle, "Its tracking code "+m.tracking+" shows as \"challenged\".", w) + "\n\n")
	b.WriteString(tui.Wrap(tui.Title.Render("To vote, press Enter and cast a new ballot.")+" Your choices are kept; you can change them.", w))
	return b.String()
}

func (m *Model) viewTrack(w int) string {
	var b strings.Builder
	b.WriteString(tui.Title.Render("Check a tracking code") + "\n\n")
	b.WriteString(tui.Wrap("Type the tracking code you were given (dashes and small letters are fine), then press Enter. This shows whether that ballot is on the chain; it never shows how anyone voted.", w) + "\n\n")
	b.WriteString("    Tracking code:  " + tui.Big.Render(string(m.track)) + "_\n\n")
	switch {
	case m.looking:
		b.WriteString("  " + m.spin.View() + " Looking it up on the chain…")
	case m.trackResult != nil:
		mark, head, tail := trackWords(m.trackResult)
		b.WriteString(tui.Wrap(noticeStyle(mark).Render(mark+" "+head)+" "+tail, w))
	}
	return b.String()
}

// trackWords tells the result of a tracking-code look-up: a marked
// headline and the rest of the sentence.
func trackWords(r *trackingMsg) (mark, head, tail string) {
	switch {
	case r.err != nil:
		return tui.BadMark, "The station could not be asked right now.", "Try again in a moment, or ask a poll worker."
	case r.result.Status == chain.StatusCast:
		return tui.GoodMark, fmt.Sprintf("Found: %s was CAST.", r.code), fmt.Sprintf("It is in block %d and is counted.", r.result.Height)
	case r.result.Status == chain.StatusChallenged:
		return tui.WarnMark, fmt.Sprintf("Found: %s was CHALLENGED.", r.code), fmt.Sprintf("It is in block %d, published with its keys, and is NOT counted.", r.result.Height)
	}
	return tui.BadMark, fmt.Sprintf("Not found: no ballot with code %s is on the chain.", r.code), "A ballot cast moments ago may take a few seconds to appear. Check each symbol; if the code is right, tell a poll worker."
}

// plainTrack is trackWords as one sentence.
func plainTrack(r *trackingMsg) string {
	mark, head, tail := trackWords(r)
	return mark + " " + head + " " + tail
}

func (m *Model) viewProblem(w int) string {
	var b strings.Builder
	p := m.problem
	mark, style := tui.BadMark, tui.Bad
	if p.then == nextOtherStation && p.title == "Use another station." {
		mark, style = "", tui.Title
	}
	b.WriteString(tui.Para(style, strings.TrimSpace(mark+" "+p.title), w) + "\n\n")
	b.WriteString(tui.Wrap(p.say, w) + "\n\n")
	b.WriteString(tui.Para(tui.Title, p.next, w) + "\n")
	if p.then == nextOtherStation {
		b.WriteString("\n")
		if len(m.stations) == 0 {
			b.WriteString(tui.Subtle.Render("(there is no other station to try)") + "\n")
		}
		for i, st := range m.stations {
			line := fmt.Sprintf("%s  %s", st.Name, tui.Subtle.Render("("+st.ID+", "+st.Address+")"))
			if i == m.pick {
				b.WriteString(tui.Cursor.Render(tui.CursorMark) + tui.Cursor.Render(st.Name) + "  " + tui.Subtle.Render("("+st.ID+", "+st.Address+")"))
			} else {
				b.WriteString(tui.NoCursorMark + line)
			}
			b.WriteByte('\n')
		}
		if m.dialing {
			b.WriteString("\n  " + m.spin.View() + " Connecting to " + m.stations[m.pick].Name + "…")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (m *Model) problemKeys() screenKeys {
	k := m.keys
	var label string
	switch m.problem.then {
	case nextOtherStation:
		label = "use this station"
		if len(m.stations) == 0 {
			label = "start over"
		}
	case nextRetry:
		label = "send again"
	case nextReenterCode:
		label = "type the code again"
	case nextReseal:
		label = "seal again"
	default:
		label = "start over"
	}
	enter := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", label))
	short := []key.Binding{enter}
	if m.problem.then == nextOtherStation && len(m.stations) > 0 {
		short = []key.Binding{k.Up, k.Down, enter}
	}
	if label != "start over" {
		short = append(short, k.StartOver)
	}
	return screenKeys{short, []key.Binding{k.Help, k.Quit}}
}
