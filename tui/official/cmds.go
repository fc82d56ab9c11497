package official

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"log/slog"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui"
)

// The console's commands: all talking to the station happens here.

func statusCmd(n tui.Node, timeout time.Duration, now func() time.Time, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		st, err := n.Status(ctx)
		if err != nil {
			log.Warn("status", "err", err)
		}
		return statusMsg{status: st, at: now(), err: err}
	}
}

func keyCmd(n tui.Node, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		k, err := n.ElectionKey(ctx)
		log.Info("election key", "err", err)
		return keyMsg{key: k, err: err}
	}
}

// eventsCmd opens the event stream; it lives as long as ctx.
func eventsCmd(ctx context.Context, n tui.Node, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ch, err := n.Events(ctx)
		if err != nil {
			log.Warn("events", "err", err)
		}
		return eventsMsg{events: ch, err: err}
	}
}

func nextEventCmd(ch <-chan tui.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		return eventMsg{event: ev, ok: ok}
	}
}

func resultsCmd(n tui.Node, timeout time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r, err := n.Results(ctx)
		log.Info("results", "height", r.Height, "err", err)
		return resultsMsg{results: r, err: err}
	}
}

// approveCmd signs an approval with the official's key, submits it and
// waits for its block.
func approveCmd(n tui.Node, fp [32]byte, action chain.Action, key ed25519.PrivateKey, timeout, commit time.Duration, log *slog.Logger) tea.Cmd {
	return func() tea.Msg {
		tx := chain.NewApprovalTx(fp, action, key).Encode()
		hash := sha256.Sum256(tx)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		r, err := n.Submit(ctx, tx)
		cancel()
		log.Info("approval submitted", "action", action, "committed", r.Committed, "err", err)
		if err != nil {
			return approvedMsg{err: err}
		}
		if r.Committed {
			return approvedMsg{height: r.Height}
		}
		ctx, cancel = context.WithTimeout(context.Background(), commit)
		defer cancel()
		h, err := n.WaitCommitted(ctx, hash)
		log.Info("approval committed", "action", action, "height", h, "err", err)
		return approvedMsg{height: h, err: err}
	}
}
