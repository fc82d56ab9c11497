package vote

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// The commands of the voter terminal: everything that talks to a station,
// waits, or does heavy cryptography runs here, off Update. They log what
// happened (never a voting code or a choice) and answer with a message.

func statusCmd(n tui.Node, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		st, err := n.Status(ctx)
		if err != nil {
			log.Warn("status", "err", err)
		}
		return statusMsg{status: st, err: err}
	}
}

func electionCmd(n tui.Node, g *genesis.Genesis, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		key, err := n.ElectionKey(ctx)
		if err != nil {
			log.Warn("election key", "err", err)
			return electionMsg{err: err}
		}
		e, err := newElection(g, key)
		if err != nil {
			log.Error("election key does not make an election", "err", err)
			return electionMsg{err: err}
		}
		log.Info("election key verified")
		return electionMsg{election: e}
	}
}

func sealCmd(gen int, e *ballot.Election, code ballot.VotingCode, station string, choices ballot.Choices, rnd io.Reader, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		s, err := seal(e, code, station, choices, rnd)
		if err != nil {
			log.Error("seal", "err", err)
		}
		return sealedMsg{gen: gen, sealed: s, err: err}
	}
}

func openCmd(e *ballot.Election, s *sealed, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		c, err := open(e, s)
		if err != nil {
			log.Error("open for challenge", "err", err)
		}
		return openedMsg{challenge: c, err: err}
	}
}

func submitCmd(n tui.Node, tx []byte, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r, err := n.Submit(ctx, tx)
		log.Info("submit", "tx", shortHash(sha256.Sum256(tx)), "committed", r.Committed, "height", r.Height, "err", err)
		return submittedMsg{receipt: r, err: err}
	}
}

func waitCmd(n tui.Node, hash [32]byte, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		h, err := n.WaitCommitted(ctx, hash)
		log.Info("wait committed", "tx", shortHash(hash), "height", h, "err", err)
		return committedMsg{height: h, err: err}
	}
}

func trackCmd(n tui.Node, code string, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r, err := n.Tracking(ctx, code)
		log.Info("tracking look-up", "found", r.Status != 0, "err", err)
		return trackingMsg{code: code, result: r, err: err}
	}
}

func dialCmd(dial tui.Dialer, st genesis.Station, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		n, err := dial(ctx, st)
		log.Info("dial", "station", st.ID, "err", err)
		return dialedMsg{station: st, node: n, err: err}
	}
}

func closeCmd(n tui.Node, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		if err := n.Close(); err != nil {
			log.Warn("closing station connection", "err", err)
		}
		return closedMsg{}
	}
}

// shortHash names a transaction in logs (a tx hash is public).
func shortHash(h [32]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 12)
	for i := range 6 {
		b[2*i], b[2*i+1] = hex[h[i]>>4], hex[h[i]&15]
	}
	return string(b)
}
