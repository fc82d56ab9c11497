package vote

import "github.com/charmbracelet/bubbles/key"

// keys are every key binding of the voter terminal; each screen shows the
// ones it reacts to (see screenKeys), so the help line is always true.
type keys struct {
	Quit, Help                             key.Binding
	Vote, Track, OtherStation              key.Binding
	Reveal, Continue, Back, Delete         key.Binding
	Up, Down, Mark, Next, Prev, Jump       key.Binding
	Cast, Challenge, Change                key.Binding
	Yes, No                                key.Binding
	Finish, Again, Stop, LookUp, StartOver key.Binding
}

func newKeys() keys {
	b := func(keys []string, k, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, help))
	}
	return keys{
		Quit:         b([]string{"ctrl+c"}, "ctrl+c", "quit (poll worker)"),
		Help:         b([]string{"?"}, "?", "more keys"),
		Vote:         b([]string{"enter", "v"}, "enter", "vote"),
		Track:        b([]string{"t"}, "t", "check a tracking code"),
		OtherStation: b([]string{"s"}, "s", "use another station"),
		Reveal:       b([]string{"tab"}, "tab", "show/hide code"),
		Continue:     b([]string{"enter"}, "enter", "continue"),
		Back:         b([]string{"esc"}, "esc", "back"),
		Delete:       b([]string{"backspace"}, "backspace", "delete"),
		Up:           b([]string{"up", "k"}, "↑", "up"),
		Down:         b([]string{"down", "j"}, "↓", "down"),
		Mark:         b([]string{" ", "x"}, "space", "mark/unmark"),
		Next:         b([]string{"enter", "right"}, "enter", "next"),
		Prev:         b([]string{"esc", "left"}, "esc", "previous"),
		Jump:         b([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "1-9", "go to contest"),
		Cast:         b([]string{"c"}, "c", "cast"),
		Challenge:    b([]string{"h"}, "h", "challenge"),
		Change:       b([]string{"esc"}, "esc", "change"),
		Yes:          b([]string{"y", "enter"}, "y", "yes"),
		No:           b([]string{"n", "esc"}, "n", "no, go back"),
		Finish:       b([]string{"enter"}, "enter", "finish"),
		Again:        b([]string{"enter"}, "enter", "vote again"),
		Stop:         b([]string{"esc"}, "esc", "stop, clear everything"),
		LookUp:       b([]string{"enter"}, "enter", "look up"),
		StartOver:    b([]string{"esc"}, "esc", "start over"),
	}
}

// screenKeys is one screen's key map for the help view.
type screenKeys struct {
	short []key.Binding
	more  []key.Binding
}

func (s screenKeys) ShortHelp() []key.Binding { return s.short }

func (s screenKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{s.short, s.more}
}
