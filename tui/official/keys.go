package official

import "github.com/charmbracelet/bubbles/key"

// keys are the console's bindings; each screen shows the ones it takes.
type keys struct {
	Open, Close, Results, Dashboard, Yes, No, Help, Quit key.Binding
}

func newKeys() keys {
	b := func(keys []string, k, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, help))
	}
	return keys{
		Open:      b([]string{"o"}, "o", "approve opening"),
		Close:     b([]string{"c"}, "c", "approve closing"),
		Results:   b([]string{"r"}, "r", "results"),
		Dashboard: b([]string{"esc", "d"}, "esc", "dashboard"),
		Yes:       b([]string{"y"}, "y", "yes, sign and send"),
		No:        b([]string{"n", "esc"}, "n", "no"),
		Help:      b([]string{"?"}, "?", "more keys"),
		Quit:      b([]string{"q", "ctrl+c"}, "q", "quit"),
	}
}

type screenKeys struct{ short, more []key.Binding }

func (s screenKeys) ShortHelp() []key.Binding  { return s.short }
func (s screenKeys) FullHelp() [][]key.Binding { return [][]key.Binding{s.short, s.more} }
