package official

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// The console's facts as plain data: the dashboard draws them with styles,
// the line-by-line mode prints them as they are. Pure functions of what the
// station said and the genesis.

// row is one line of the dashboard: a label, what it says, and a marker
// (tui.GoodMark, tui.BadMark, tui.WarnMark or "") that carries the verdict.
type row struct {
	label, value, mark string
}

// view is everything the console knows.
type view struct {
	g          *genesis.Genesis
	status     tui.Status
	have       bool      // a status was read
	statusErr  error     // the last status read failed
	at         time.Time // when the status was read
	keyOK      bool      // the election key was verified from the chain
	keyErr     error
	results    *tui.Results
	resultsErr error
}

func phaseRow(p chain.Phase) row {
	switch p {
	case chain.PhaseSetup:
		return row{"Phase", "SETUP: the stations are generating the election key", tui.WarnMark}
	case chain.PhaseReady:
		return row{"Phase", "READY: the key is known; the polls are not open yet", tui.WarnMark}
	case chain.PhaseOpen:
		return row{"Phase", "OPEN: the polls are open", tui.GoodMark}
	case chain.PhaseClosed:
		return row{"Phase", "CLOSED: the stations are decrypting the tally", tui.WarnMark}
	case chain.PhaseTallied:
		return row{"Phase", "TALLIED: the results are on the chain", tui.GoodMark}
	}
	return row{"Phase", "unknown", tui.BadMark}
}

// online lists, per station, whether the answering station reaches it.
func (v *view) online() []bool {
	on := make([]bool, v.g.N())
	if !v.have {
		return on
	}
	if v.status.Station >= 0 && v.status.Station < len(on) {
		on[v.status.Station] = true
	}
	for _, p := range v.status.Peers {
		if p >= 0 && p < len(on) {
			on[p] = true
		}
	}
	return on
}

func (v *view) rows() []row {
	if !v.have {
		if v.statusErr != nil {
			return []row{{"Station", "cannot be reached: " + v.statusErr.Error(), tui.BadMark}}
		}
		return []row{{"Station", "asking…", ""}}
	}
	st := v.status
	var rows []row
	if v.statusErr != nil {
		rows = append(rows, row{"Station", "cannot be reached now; the figures below are from " + v.at.Format("15:04:05"), tui.BadMark})
	}
	rows = append(rows, phaseRow(st.Phase))

	on := v.online()
	n, up := len(on), 0
	var down []string
	for i, o := range on {
		if o {
			up++
		} else {
			down = append(down, v.g.Stations()[i].Name)
		}
	}
	sr := row{"Stations", fmt.Sprintf("%d of %d online", up, n), tui.GoodMark}
	if len(down) > 0 {
		sr.value += "; OFFLINE: " + strings.Join(down, ", ")
		sr.mark = tui.WarnMark
		if n-up > v.g.F() {
			sr.mark = tui.BadMark
			sr.value += fmt.Sprintf(" (more than %d down: no blocks can be made)", v.g.F())
		}
	}
	rows = append(rows, sr)

	age := "no block yet"
	if !st.LastBlock.IsZero() {
		age = fmt.Sprintf("last block %s ago", v.at.Sub(st.LastBlock).Round(time.Second))
	}
	rows = append(rows, row{"Chain", fmt.Sprintf("height %d, round %d, %s", st.Height, st.Round, age), ""})

	voters := v.g.Voters()
	turnout := ""
	if voters > 0 {
		turnout = fmt.Sprintf("; turnout %d of %d voters (%.1f%%)", st.Counted, voters, 100*float64(st.Counted)/float64(voters))
	}
	rows = append(rows, row{"Ballots", fmt.Sprintf("%d cast, %d challenged%s", st.Counted, st.Spoiled, turnout), ""})
	rows = append(rows, row{"Mempool", fmt.Sprintf("%d waiting for a block", st.Mempool), ""})
	rows = append(rows, v.keyRow())
	rows = append(rows, v.quorumRow("Opening", st.OpenApprovals, v.g.OpenQuorum()))
	rows = append(rows, v.quorumRow("Closing", st.CloseApprovals, v.g.CloseQuorum()))
	return rows
}

func (v *view) keyRow() row {
	share := "; this station holds a matching share"
	mark := tui.GoodMark
	if !v.status.KeyReady {
		share, mark = "; this station holds NO matching share", tui.WarnMark
	}
	switch {
	case v.keyOK:
		return row{"Key", "election key verified from certified blocks" + share, mark}
	case errors.Is(v.keyErr, tui.ErrUntrusted):
		return row{"Key", "the station's election key does NOT verify against the genesis", tui.BadMark}
	case v.status.Phase == chain.PhaseSetup || errors.Is(v.keyErr, tui.ErrKeyNotReady):
		return row{"Key", "key ceremony in progress", tui.WarnMark}
	}
	return row{"Key", "not verified yet", tui.WarnMark}
}

func (v *view) quorumRow(label string, approvals []int, quorum int) row {
	officials := v.g.Officials()
	var names []string
	for _, i := range approvals {
		if i >= 0 && i < len(officials) {
			names = append(names, officials[i].Name)
		}
	}
	val := fmt.Sprintf("%d of %d approvals needed", len(approvals), quorum)
	if len(names) > 0 {
		val += " (" + strings.Join(names, ", ") + ")"
	}
	if len(approvals) >= quorum {
		return row{label, val + ": quorum reached", tui.GoodMark}
	}
	return row{label, val, ""}
}

// stationBar is one station's share of the ballots cast.
type stationBar struct {
	name   string
	online bool
	count  uint64
}

func (v *view) bars() []stationBar {
	on := v.online()
	out := make([]stationBar, v.g.N())
	for i, st := range v.g.Stations() {
		out[i] = stationBar{name: st.Name, online: on[i]}
		if i < len(v.status.Turnout) {
			out[i].count = v.status.Turnout[i]
		}
	}
	return out
}

// bar draws count out of max in width cells with textual runes, so the
// length reads without colour.
func bar(count, max uint64, width int) string {
	if width < 1 {
		return ""
	}
	full := 0
	if max > 0 {
		full = int(count * uint64(width) / max)
	}
	if count > 0 && full == 0 {
		full = 1
	}
	return tui.Bar.Render(strings.Repeat(tui.BarFull, full)) + tui.Subtle.Render(strings.Repeat(tui.BarEmpty, width-full))
}

// contestResult is one contest of the verified tally.
type contestResult struct {
	title      string
	limit      int
	candidates []candidateResult
	top        uint64 // the highest count
}

type candidateResult struct {
	name  string
	count uint64
}

// most says whether c has the highest count of its contest (and any votes).
func (r contestResult) most(c candidateResult) bool { return c.count == r.top && r.top > 0 }

// tally is the verified results by contest, in genesis order.
func (v *view) tally() []contestResult {
	var out []contestResult
	for ci, c := range v.g.Contests() {
		r := contestResult{title: c.Title, limit: c.Limit}
		for si, cand := range c.Candidates {
			var n uint64
			if ci < len(v.results.Counts) && si < len(v.results.Counts[ci]) {
				n = v.results.Counts[ci][si]
			}
			r.candidates = append(r.candidates, candidateResult{cand.Name, n})
			r.top = max(r.top, n)
		}
		out = append(out, r)
	}
	return out
}
