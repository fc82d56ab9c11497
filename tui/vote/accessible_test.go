package vote

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
	"github.com/urna-vote/urna/tui/tuitest"
)

// accessibleRun feeds the line-by-line terminal the given lines and returns
// everything it printed.
func accessibleRun(t *testing.T, cfg Config, lines ...string) string {
	t.Helper()
	var out bytes.Buffer
	in := strings.NewReader(strings.Join(lines, "\n") + "\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := RunAccessible(ctx, cfg, in, &out); err != nil {
		t.Fatalf("RunAccessible: %v\n%s", err, out.String())
	}
	s := out.String()
	if strings.Contains(s, "\x1b") {
		t.Fatalf("line mode printed an escape sequence:\n%q", s)
	}
	return s
}

func mustSay(t *testing.T, out string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(out, s) {
			t.Fatalf("line mode did not say %q:\n%s", s, out)
		}
	}
}

func TestAccessibleCast(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	code := string(e.Codes[0])
	typo := "0" + code[1:]
	if typo == code {
		typo = "1" + code[1:]
	}
	out := accessibleRun(t, testConfig(e, f),
		"1",
		typo, // caught by the check symbol
		code,
		"1 2", // over the limit of 1
		"2",
		"1 3", // 2 of 3: an undervote
		"y",
		"0", // referendum left blank
		"y",
		"c", "y",
		"",
	)
	mustSay(t, out,
		"The polls are OPEN.",
		"Type 1 and press Enter to vote",
		"one symbol is probably mistyped. Nothing was sent.",
		"The code checks out.",
		"Contest 1 of 3: Governor. Choose up to 1.",
		"  2. Ivan Petrov",
		"You chose 2, but you can choose at most 1 here.",
		"You chose: Ivan Petrov.",
		"You chose 2 of up to 3. Type y to go on",
		"You chose no one: this contest will be left blank.",
		"Shall the county levy 0.1% for public libraries?: blank, nobody chosen.",
		"Accepted by Harbour School. Waiting for it to be written in a block",
		"Your vote is cast. It is recorded in block 1 of the chain and will be counted.",
		"Group by group, ",
		"has already forgotten your voting code",
	)
	if st, _ := f.Status(context.Background()); st.Counted != 1 {
		t.Fatalf("counted %d", st.Counted)
	}
}

func TestAccessibleChallengeThenCast(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	out := accessibleRun(t, testConfig(e, f),
		"1", string(e.Codes[1]),
		"5", "1", "y", "2",
		"h", "y",
		// vote again: the same choices are offered, kept
		"5", "1", "y", "2",
		"c", "y", "",
	)
	mustSay(t, out,
		"This ballot will NOT be counted: you challenged it.",
		"Governor: Liam O'Brien.",
		"County council (vote for up to three): Maria Santos.",
		"Now vote again",
		"  5. Liam O'Brien (currently chosen)",
		"Your vote is cast.",
	)
	st, _ := f.Status(context.Background())
	if st.Counted != 1 || st.Spoiled != 1 {
		t.Fatalf("counted %d, spoiled %d", st.Counted, st.Spoiled)
	}
}

func TestAccessibleRefusalAndOtherStation(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	cfg := testConfig(e, f)
	cfg.Dial = func(ctx context.Context, st genesis.Station) (tui.Node, error) { return f.At(1), nil }
	f.Reject = &tui.Rejection{Rule: tui.RuleAlreadyVoted}
	out := accessibleRun(t, cfg, "1", string(e.Codes[0]), "1", "1", "y", "1", "c", "y")
	mustSay(t, out, "This voting code has already been used to cast a ballot.", "Main menu.")

	f.Down = true
	out = accessibleRun(t, cfg, "1", "3", "1", "1", string(e.Codes[0]), "1", "1", "y", "1", "c", "y", "")
	mustSay(t, out, "This station cannot be reached.", "  1. Old Town Hall", "Connected to Old Town Hall.", "Your vote is cast.")
}

func TestAccessiblePollsClosedAndTracking(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	f.SetPhase(chain.PhaseClosed)
	nowhere := ballot.TrackingCodeOf([32]byte{}) // a well-formed code, of whatever length codes have
	out := accessibleRun(t, testConfig(e, f), "1", "2", nowhere, "x", "")
	mustSay(t, out, "The polls are CLOSED.", "Voting is not possible right now.",
		"Not found: no ballot with code "+nowhere, "That is not a complete tracking code.")
}

func TestAccessibleIdleClears(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	cfg := testConfig(e, f)
	cfg.IdleTimeout = 50 * time.Millisecond
	r, w := io.Pipe()
	var out tuitest.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunAccessible(ctx, cfg, r, &out) }()
	io.WriteString(w, "1\n")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "everything you entered has been cleared") {
		if time.Now().After(deadline) {
			t.Fatalf("no idle reset:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	w.Close()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
}
