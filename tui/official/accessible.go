package official

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui"
)

// RunAccessible is the console line by line, for screen readers: it prints
// the facts as sentences and takes numbered commands. It returns when in
// ends, on "q", or when ctx is done.
func RunAccessible(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	cfg.defaults()
	m := New(cfg)
	defer m.stop()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	sc := bufio.NewScanner(in)
	say("urna officials' console, line-by-line mode. %s, through %s.", cfg.Genesis.Election().Title, cfg.Connected.Name)
	if m.official >= 0 {
		say("Signed in as %s.", cfg.Genesis.Officials()[m.official].Name)
	} else {
		say("Read-only: start with --key FILE to approve.")
	}
	m.refreshNow(ctx)
	m.report(say)
	for {
		say("\nType 1 for the status, 2 to approve opening the polls, 3 to approve closing them, 4 for the results, or q to quit; then press Enter.")
		fmt.Fprint(out, "> ")
		if !sc.Scan() {
			return sc.Err()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch strings.ToLower(strings.TrimSpace(sc.Text())) {
		case "1":
			m.refreshNow(ctx)
			m.report(say)
		case "2", "3":
			a := chain.ActionOpen
			if strings.TrimSpace(sc.Text()) == "3" {
				a = chain.ActionClose
			}
			m.refreshNow(ctx)
			m.ask(a)
			if m.screen != scrConfirm {
				say("%s", strings.TrimSpace(strings.TrimLeft(m.notice, tui.BadMark+tui.WarnMark)))
				m.notice = ""
				continue
			}
			m.screen = scrDashboard
			say("Approve %s? Your approval is signed with your key and goes on the chain; it cannot be taken back. Type y for yes, anything else for no.", actionNoun(a))
			fmt.Fprint(out, "> ")
			if !sc.Scan() {
				return sc.Err()
			}
			if strings.ToLower(strings.TrimSpace(sc.Text())) != "y" {
				say("Nothing was sent.")
				continue
			}
			say("Signing and sending; waiting for its block.")
			h, err := m.approveNow(ctx, a)
			if err != nil {
				say("%s", refusalWords(err, a))
				continue
			}
			say("Your approval of %s is on the chain in block %d.", actionNoun(a), h)
			m.refreshNow(ctx)
			say("%s", plainRow(m.quorumRowFor(a)))
		case "4":
			m.refreshNow(ctx)
			m.sayResults(ctx, say)
		case "q":
			return nil
		default:
			say("That is not one of the choices.")
		}
	}
}

// refreshNow reads the status and, when it makes sense, the verified key.
func (m *Model) refreshNow(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	st, err := m.cfg.Node.Status(c)
	m.statusErr = err
	if err == nil {
		m.status, m.at, m.have = st, m.cfg.Now(), true
	}
	if err == nil && !m.keyOK && st.Phase >= chain.PhaseReady {
		_, m.keyErr = m.cfg.Node.ElectionKey(c)
		m.keyOK = m.keyErr == nil
	}
}

func (m *Model) approveNow(ctx context.Context, a chain.Action) (uint64, error) {
	tx := chain.NewApprovalTx(m.g.Fingerprint(), a, m.cfg.Key).Encode()
	c, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	r, err := m.cfg.Node.Submit(c, tx)
	cancel()
	if err != nil || r.Committed {
		return r.Height, err
	}
	c, cancel = context.WithTimeout(ctx, m.cfg.CommitTimeout)
	defer cancel()
	return m.cfg.Node.WaitCommitted(c, sha256.Sum256(tx))
}

func (m *Model) quorumRowFor(a chain.Action) row {
	if a == chain.ActionClose {
		return m.quorumRow("Closing", m.status.CloseApprovals, m.g.CloseQuorum())
	}
	return m.quorumRow("Opening", m.status.OpenApprovals, m.g.OpenQuorum())
}

// plainRow says a dashboard row as a sentence, its marker in words.
func plainRow(r row) string {
	verdict := ""
	switch r.mark {
	case tui.GoodMark:
		verdict = " (good)"
	case tui.WarnMark:
		verdict = " (attention)"
	case tui.BadMark:
		verdict = " (problem)"
	}
	return r.label + verdict + ": " + r.value + "."
}

func (m *Model) report(say func(string, ...any)) {
	for _, r := range m.rows() {
		say("%s", plainRow(r))
	}
	if !m.have {
		return
	}
	var parts []string
	for _, b := range m.bars() {
		state := "online"
		if !b.online {
			state = "OFFLINE"
		}
		parts = append(parts, fmt.Sprintf("%s %d (%s)", b.name, b.count, state))
	}
	say("Ballots cast per station: %s.", strings.Join(parts, "; "))
}

func (m *Model) sayResults(ctx context.Context, say func(string, ...any)) {
	if m.status.Phase != chain.PhaseTallied {
		say("No results yet: the tally is done after the polls close (the phase is %s).", m.status.Phase)
		return
	}
	c, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	r, err := m.cfg.Node.Results(c)
	if err != nil {
		say("The results could not be verified: %v.", err)
		return
	}
	m.results = &r
	say("Verified results, re-computed from the certified chain (tally completed in block %d):", r.Height)
	for _, ct := range m.tally() {
		var parts []string
		for _, cand := range ct.candidates {
			note := ""
			if ct.most(cand) {
				note = ", most votes"
			}
			parts = append(parts, fmt.Sprintf("%s %d%s", cand.name, cand.count, note))
		}
		say("%s: %s.", ct.title, strings.Join(parts, "; "))
	}
}
