package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// printReport writes the report: one JSON document, or the checks, the
// results with bars, the turnout and any evidence, and the verdict.
func printReport(w io.Writer, r *talliedReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	fp := r.Fingerprint
	if len(fp) > 16 {
		fp = fp[:16] + "…"
	}
	fmt.Fprintf(&b, "%s %s (fingerprint %s)\n", tui.Title.Render("election"), r.Election, fp)
	fmt.Fprintf(&b, "chain    %d blocks verified, phase %s, %d ballots counted, %d challenged (from %s)\n", r.Height, r.Phase, r.Counted, r.Challenged, r.Source)
	for _, s := range r.Stations {
		state := tui.Good.Render(tui.GoodMark) + " agrees"
		if !s.Agrees {
			state = tui.Bad.Render(tui.BadMark) + " " + s.Error
		}
		id := s.Station
		if id == "" {
			id = "?"
		}
		fmt.Fprintf(&b, "station  %-10s %-21s %d blocks  %s\n", id, s.Address, s.Height, state)
	}
	b.WriteString("\n" + tui.Title.Render("checks") + "\n")
	for _, c := range r.Checks {
		mark, word := tui.Good.Render(tui.GoodMark), "passed"
		if !c.Passed {
			mark, word = tui.Bad.Render(tui.BadMark), tui.Bad.Render("FAILED")
		}
		fmt.Fprintf(&b, "  %s %-26s %10d %-25s %s\n", mark, c.Name, c.Count, c.Counts, word)
		if c.Failure != nil {
			fmt.Fprintf(&b, "      %s\n", failureText(c.Failure))
		}
	}
	if len(r.Results) > 0 {
		b.WriteString("\n" + tui.Title.Render("results") + tui.Subtle.Render(" (decrypted from the chain and verified)") + "\n")
		for _, c := range r.Results {
			fmt.Fprintf(&b, "  %s %s\n", c.Title, tui.Subtle.Render(fmt.Sprintf("(%s, at most %d)", c.ID, c.Limit)))
			width := 0
			for _, cand := range c.Candidates {
				width = max(width, len([]rune(cand.Name)))
			}
			for _, cand := range c.Candidates {
				frac := 0.0
				if r.Counted > 0 {
					frac = float64(cand.Votes) / float64(r.Counted)
				}
				fmt.Fprintf(&b, "    %-*s %s %8d %5.1f%%\n", width, cand.Name, bar(frac, 30), cand.Votes, frac*100)
			}
		}
	} else if r.Verified {
		b.WriteString("\n" + tui.Subtle.Render("no result on the chain yet (phase "+r.Phase+")") + "\n")
	}
	if len(r.Turnout) > 0 {
		b.WriteString("\n" + tui.Title.Render("turnout") + "\n")
		for _, t := range r.Turnout {
			frac := 0.0
			if r.Counted > 0 {
				frac = float64(t.Ballots) / float64(r.Counted)
			}
			fmt.Fprintf(&b, "    %-12s %s %8d\n", t.ID, bar(frac, 30), t.Ballots)
		}
	}
	if len(r.Evidence) > 0 {
		b.WriteString("\n" + tui.Title.Render("equivocation evidence") + "\n")
		for _, e := range r.Evidence {
			fmt.Fprintf(&b, "  %s station %s signed two different %ss at height %d round %d (on the chain at height %d, tx %d)\n",
				tui.Warn.Render(tui.WarnMark), e.Station, e.VoteType, e.VoteHeight, e.VoteRound, e.BlockHeight, e.Tx)
		}
	}
	b.WriteString("\n")
	if r.Verified {
		b.WriteString(tui.Good.Render("VERIFIED") + ": every check passed.\n")
	} else {
		b.WriteString(tui.Bad.Render("NOT VERIFIED") + ": " + failureText(r.FirstFailure) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// failureText says where a failure is and what rule it broke.
func failureText(f *audit.Failure) string {
	if f == nil {
		return ""
	}
	where := ""
	switch {
	case f.Height > 0 && f.Tx >= 0:
		where = fmt.Sprintf("height %d, tx %d: ", f.Height, f.Tx)
	case f.Height > 0:
		where = fmt.Sprintf("height %d: ", f.Height)
	}
	return fmt.Sprintf("%s%s rule %s: %s", where, f.Check, f.Rule, f.Detail)
}

func bar(frac float64, width int) string {
	full := int(min(max(frac, 0), 1)*float64(width) + 0.5)
	return tui.Bar.Render(strings.Repeat(tui.BarFull, full)) + tui.Subtle.Render(strings.Repeat(tui.BarEmpty, width-full))
}

func stationNames(srcs []*nodeSource) string {
	var names []string
	for _, s := range srcs {
		names = append(names, s.id)
	}
	return strings.Join(names, ", ")
}

// liveView shows, while urna tally follows the chain, how far the audit
// is: redrawn in place on a terminal, a line now and then otherwise.
type liveView struct {
	w          io.Writer
	tty        bool
	g          *genesis.Genesis
	srcs       []*nodeSource
	lines      int
	lastHeight uint64
	lastPhase  string
	last       time.Time
}

func newLiveView(w io.Writer, g *genesis.Genesis, srcs []*nodeSource) *liveView {
	return &liveView{w: w, tty: w != nil && isTerminal(w), g: g, srcs: srcs}
}

func (v *liveView) draw(r *audit.Report) {
	if v.w == nil {
		return
	}
	var live []string
	for _, s := range v.srcs {
		if s.live() {
			live = append(live, s.id)
		}
	}
	status := tui.Good.Render(tui.GoodMark) + " every check passing"
	if r.FirstFailure != nil {
		status = tui.Bad.Render(tui.BadMark+" FAILED ") + failureText(r.FirstFailure)
	}
	var turnout []string
	for _, t := range r.Turnout {
		turnout = append(turnout, fmt.Sprintf("%s %d", t.ID, t.Ballots))
	}
	lines := []string{
		fmt.Sprintf("following %s — block %d, phase %s", strings.Join(live, ", "), r.Height, r.Phase),
		fmt.Sprintf("ballots  %d verified and counted, %d challenged", r.Counted, r.Challenged),
		"turnout  " + strings.Join(turnout, " · "),
		status,
	}
	if v.tty {
		v.clear()
		fmt.Fprintln(v.w, strings.Join(lines, "\n"))
		v.lines = len(lines)
		return
	}
	// Not a terminal: a line when the phase changes, a failure appears, or
	// every few seconds of progress.
	if r.Height == v.lastHeight && r.FirstFailure == nil {
		return
	}
	if r.Phase != v.lastPhase || r.FirstFailure != nil || time.Since(v.last) > 5*time.Second {
		fmt.Fprintf(v.w, "tally: block %d, phase %s, %d ballots verified; %s\n", r.Height, r.Phase, r.Counted, status)
		v.last, v.lastPhase = time.Now(), r.Phase
	}
	v.lastHeight = r.Height
}

// clear removes the live view from a terminal.
func (v *liveView) clear() {
	if v.tty && v.lines > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA\x1b[J", v.lines)
		v.lines = 0
	}
}
