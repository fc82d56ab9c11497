package vote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// RunAccessible runs the voter terminal line by line, for screen readers:
// no full screen, no redraws, no spinners; every prompt and every result is
// a full sentence, every choice a numbered line, every answer a typed line.
// It follows the same steps and rules as the full-screen terminal and
// forgets the code and the choices the same way. It returns when in ends
// or ctx is done.
func RunAccessible(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	cfg.defaults()
	a := &accessible{cfg: cfg, node: cfg.Node, connected: cfg.Connected, out: out, lines: make(chan string), ctx: ctx}
	go a.read(in)
	return a.run()
}

type accessible struct {
	cfg       Config
	ctx       context.Context
	node      tui.Node
	connected genesis.Station
	out       io.Writer
	lines     chan string // closed at the end of input
	election  *ballot.Election
	phase     chain.Phase
	// lastHeight is the block the last transaction was committed in.
	lastHeight uint64
}

var (
	errIdle = errors.New("idle")
	errEOF  = errors.New("end of input")
)

func (a *accessible) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		select {
		case a.lines <- strings.TrimSpace(sc.Text()):
		case <-a.ctx.Done():
			return
		}
	}
	close(a.lines)
}

func (a *accessible) say(format string, args ...any) {
	fmt.Fprintf(a.out, format+"\n", args...)
}

// ask prints a prompt and waits for a line, or the idle timeout.
func (a *accessible) ask(prompt string) (string, error) {
	a.say("%s", prompt)
	fmt.Fprint(a.out, "> ")
	select {
	case l, ok := <-a.lines:
		if !ok {
			return "", errEOF
		}
		return l, nil
	case <-time.After(a.cfg.IdleTimeout):
		a.say("")
		a.say("Nothing was typed for %s, so everything you entered has been cleared.", a.cfg.IdleTimeout)
		return "", errIdle
	case <-a.ctx.Done():
		return "", a.ctx.Err()
	}
}

func (a *accessible) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(a.ctx, a.cfg.RequestTimeout)
}

func (a *accessible) run() error {
	a.say("urna voting terminal, line-by-line mode.")
	a.say("%s, at %s.", a.cfg.Genesis.Election().Title, a.cfg.Station.Name)
	for {
		open := a.refresh()
		opts := "Type 2 and press Enter to check a tracking code, or 3 to use another station."
		if open {
			opts = "Type 1 and press Enter to vote, 2 to check a tracking code, or 3 to use another station."
		}
		l, err := a.ask("\nMain menu. " + opts)
		switch {
		case errors.Is(err, errIdle):
			continue
		case errors.Is(err, errEOF):
			return nil
		case err != nil:
			return err
		}
		switch l {
		case "1":
			if open {
				err = a.vote()
			} else {
				a.say("Voting is not possible right now.")
			}
		case "2":
			err = a.track()
		case "3":
			err = a.otherStation()
		default:
			a.say("%q is not one of the choices.", l)
		}
		switch {
		case errors.Is(err, errEOF):
			return nil
		case errors.Is(err, errIdle):
		case err != nil:
			return err
		}
	}
}

// refresh reads the status (and the verified key) and says whether
// voting is possible, and why not.
func (a *accessible) refresh() bool {
	ctx, cancel := a.call()
	defer cancel()
	st, err := a.node.Status(ctx)
	if err != nil {
		a.say("This station cannot be reached. Type 3 to use another station, or ask a poll worker.")
		return false
	}
	a.phase = st.Phase
	words, open := phaseWords(st.Phase)
	a.say("%s", words)
	if st.Phase >= chain.PhaseReady && a.election == nil {
		key, err := a.node.ElectionKey(ctx)
		if err == nil {
			a.election, err = newElection(a.cfg.Genesis, key)
		}
		if err != nil {
			a.say("This station's election key does not check out. Do not vote here: type 3 to use another station and tell a poll worker.")
			return false
		}
	}
	return open && a.election != nil
}

// vote takes one voter from the code to a cast ballot.
func (a *accessible) vote() error {
	code, err := a.askCode()
	if err != nil {
		return err
	}
	choices := blankChoices(a.cfg.Genesis)
	for {
		for ci := range a.cfg.Genesis.Contests() {
			if err := a.askContest(ci, choices); err != nil {
				return err
			}
		}
		for {
			s, err := seal(a.election, code, a.cfg.Station.ID, choices, a.cfg.Rand)
			if err != nil {
				a.say("This terminal could not seal the ballot. Please tell a poll worker.")
				return nil
			}
			a.say("\nReview your choices.")
			a.sayChoices(choices)
			a.say("Your ballot is sealed. Its tracking code is %s.", s.tracking)
			l, err := a.ask("Type c to cast it: it will be counted. Type h to challenge it instead: it will NOT be counted, and you then vote again. Type e to change your choices.")
			if err != nil {
				return err
			}
			switch strings.ToLower(l) {
			case "c":
				ok, err := a.confirm("Cast this ballot? It will be counted and cannot be taken back. Type y for yes or n for no.")
				if err != nil || !ok {
					if err != nil {
						return err
					}
					continue
				}
				again, err := a.send(s.tx, s.hash, false)
				if err != nil || !again {
					return err
				}
				a.say("Your vote is cast. It is recorded in block %d of the chain and will be counted.", a.lastHeight)
				a.sayTracking(s.tracking)
				a.say("This terminal has already forgotten your voting code and your choices.")
				_, err = a.ask("Press Enter when you have written the tracking code down.")
				if errors.Is(err, errIdle) {
					err = nil
				}
				return err
			case "h":
				ok, err := a.confirm("Challenge this ballot? The terminal publishes it with the keys that open it, so anyone can check it. A challenged ballot is NEVER counted. Type y for yes or n for no.")
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				c, err := open(a.election, s)
				if err != nil {
					a.say("This terminal could not open the ballot for the challenge. Please tell a poll worker.")
					return nil
				}
				again, err := a.send(c.tx, c.hash, true)
				if err != nil || !again {
					return err
				}
				a.say("This ballot will NOT be counted: you challenged it. It is published in block %d with the keys that open it. Opened, it holds these choices, which anyone can recheck from the chain:", a.lastHeight)
				a.sayChoices(c.revealed)
				a.say("If these are not the choices you made, tell a poll worker now. Its tracking code %s shows as challenged.", c.tracking)
				a.say("Now vote again: your choices are kept, and you go through the contests once more.")
			case "e":
			default:
				a.say("%q is not one of the choices.", l)
				continue
			}
			break
		}
	}
}

func (a *accessible) askCode() (ballot.VotingCode, error) {
	shape := codeShape()
	total := 0
	for _, g := range shape {
		total += g
	}
	for {
		l, err := a.ask(fmt.Sprintf("\nYour voting code: type the %d symbols from your code sheet and press Enter. Dashes are optional. It is never stored.", total))
		if err != nil {
			return "", err
		}
		code, p := checkCode(l)
		if p == codeOK {
			a.say("The code checks out.")
			return code, nil
		}
		if p == codeTooShort {
			a.say("That is not %d symbols. Nothing was sent. Please type it again.", total)
			continue
		}
		a.say("%s Please type it again.", codeWords(p))
	}
}

func (a *accessible) askContest(ci int, choices ballot.Choices) error {
	cs := a.cfg.Genesis.Contests()
	c := cs[ci]
	for {
		a.say("\nContest %d of %d: %s Choose up to %d.", ci+1, len(cs), sentence(c.Title), c.Limit)
		for i, cand := range c.Candidates {
			mark := ""
			if choices[ci][i] {
				mark = " (currently chosen)"
			}
			a.say("  %d. %s%s", i+1, cand.Name, mark)
		}
		l, err := a.ask("Type the numbers of your choices separated by spaces, or 0 to leave this contest blank, and press Enter.")
		if err != nil {
			return err
		}
		picked, bad := parseNumbers(l, len(c.Candidates))
		if bad != "" {
			a.say("%q is not a number from the list. Please try again.", bad)
			continue
		}
		if len(picked) > c.Limit {
			a.say("You chose %d, but you can choose at most %d here. Please choose again.", len(picked), c.Limit)
			continue
		}
		if len(picked) < c.Limit {
			what := fmt.Sprintf("You chose %d of up to %d.", len(picked), c.Limit)
			if len(picked) == 0 {
				what = "You chose no one: this contest will be left blank."
			}
			ok, err := a.confirm(what + " Type y to go on, or n to choose again.")
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		for i := range choices[ci] {
			choices[ci][i] = false
		}
		var names []string
		for _, i := range picked {
			choices[ci][i] = true
			names = append(names, c.Candidates[i].Name)
		}
		if len(names) > 0 {
			a.say("You chose: %s.", strings.Join(names, ", "))
		}
		return nil
	}
}

// parseNumbers reads distinct 1-based numbers up to n ("0" means none).
func parseNumbers(l string, n int) ([]int, string) {
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == ',' }) {
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 || v > n {
			return nil, f
		}
		if v == 0 || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v-1)
	}
	return out, ""
}

func (a *accessible) confirm(prompt string) (bool, error) {
	for {
		l, err := a.ask(prompt)
		if err != nil {
			return false, err
		}
		switch strings.ToLower(l) {
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		a.say("Please type y or n.")
	}
}

func (a *accessible) sayChoices(ch ballot.Choices) {
	for ci, c := range a.cfg.Genesis.Contests() {
		var names []string
		for si, cand := range c.Candidates {
			if ch[ci][si] {
				names = append(names, cand.Name)
			}
		}
		if len(names) == 0 {
			a.say("  %s: blank, nobody chosen.", c.Title)
		} else {
			a.say("  %s: %s.", c.Title, strings.Join(names, ", "))
		}
	}
}

func (a *accessible) sayTracking(code string) {
	groups := strings.Split(code, "-")
	spelled := make([]string, len(groups))
	for i, g := range groups {
		spelled[i] = tui.Spaced(g)
	}
	a.say("Your tracking code is %s.", code)
	a.say("Group by group, %d groups: %s.", len(groups), strings.Join(spelled, ", "))
	a.say("To check your ballot later, choose \"check a tracking code\" on any urna terminal. The code does not reveal your choices.")
}

// send submits a transaction and waits for its block, retrying at another
// station when one cannot be reached. It returns false when the voter's
// attempt ended (a refusal was explained).
func (a *accessible) send(tx []byte, hash [32]byte, challenging bool) (bool, error) {
	for {
		a.say("Sending it to %s. Please wait.", a.connected.Name)
		ctx, cancel := a.call()
		r, err := a.node.Submit(ctx, tx)
		cancel()
		if err == nil && !r.Committed {
			a.say("Accepted by %s. Waiting for it to be written in a block of the chain.", a.connected.Name)
			wctx, wcancel := context.WithTimeout(a.ctx, a.cfg.CommitTimeout)
			r.Height, err = a.node.WaitCommitted(wctx, hash)
			wcancel()
		}
		if err == nil {
			a.lastHeight = r.Height
			return true, nil
		}
		if a.ctx.Err() != nil {
			return false, a.ctx.Err()
		}
		p := explain(err, a.phase, challenging)
		a.say("%s %s %s", p.title, p.say, p.next)
		switch p.then {
		case nextOtherStation:
			if err := a.otherStation(); err != nil {
				return false, err
			}
			continue
		case nextRetry:
			if ok, err := a.confirm("Send it again now? Type y for yes or n for no."); err != nil || !ok {
				return false, err
			}
			continue
		}
		return false, nil
	}
}

func (a *accessible) otherStation() error {
	if a.cfg.Dial == nil {
		a.say("This terminal cannot use another station. Please ask a poll worker.")
		return nil
	}
	var others []genesis.Station
	for _, st := range a.cfg.Genesis.Stations() {
		if st.ID != a.connected.ID {
			others = append(others, st)
		}
	}
	for {
		a.say("Stations of this election:")
		for i, st := range others {
			a.say("  %d. %s", i+1, st.Name)
		}
		l, err := a.ask("Type the number of the station to use, or 0 to stay with " + a.connected.Name + ".")
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > len(others) {
			a.say("%q is not a number from the list.", l)
			continue
		}
		if n == 0 {
			return nil
		}
		st := others[n-1]
		a.say("Connecting to %s.", st.Name)
		ctx, cancel := a.call()
		node, err := a.cfg.Dial(ctx, st)
		cancel()
		if err != nil {
			a.say("%s cannot be reached either. Choose another station, or ask a poll worker.", st.Name)
			continue
		}
		a.node.Close()
		a.node, a.connected = node, st
		a.say("Connected to %s.", st.Name)
		return nil
	}
}

func (a *accessible) track() error {
	for {
		l, err := a.ask("\nType the tracking code you were given and press Enter (dashes are optional), or just press Enter to go back.")
		if err != nil || l == "" {
			return err
		}
		code, ok := parseTracking(l)
		if !ok {
			a.say("That is not a complete tracking code. Check each group against what you wrote down.")
			continue
		}
		ctx, cancel := a.call()
		r, err := a.node.Tracking(ctx, code)
		cancel()
		a.say("%s", plainTrack(&trackingMsg{code: code, result: r, err: err}))
	}
}
