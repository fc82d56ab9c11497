package genesis_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/urna-vote/urna/chain/genesis"
)

// seedConfigs are the sample templates, a completed sample in two styles,
// and a few broken inputs.
func seedConfigs(f *testing.F) [][]byte {
	files, _ := filepath.Glob(filepath.Join(configDir, "*.yaml"))
	var seeds [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	cfg, _ := completedSample(f, "general.yaml")
	text, err := cfg.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, text, []byte(validYAML(f, 4)), []byte(validYAML(f, 7)))
	for _, s := range []string{"", "{}", "[", "a: &x 1\nb: *x\n", "election: !!str x\n", "---\n---\n", "contests: [{kind: referendum}]"} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// No input makes ParseConfig panic; what it accepts survives Marshal and
// reparsing unchanged, and a complete config always gives a genesis.
func FuzzParseConfig(f *testing.F) {
	for _, s := range seedConfigs(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, form, err := genesis.ParseConfig(data)
		if err != nil {
			var list genesis.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v is not a non-empty ErrorList", err)
			}
			for _, e := range list {
				if e.Err == nil {
					t.Fatalf("FieldError without Err: %+v", e)
				}
			}
			// Rendering an error, with the source excerpt, must not panic either.
			_ = list.Error()
			_ = list.FormatError(true, true)
			return
		}
		text, err := cfg.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, form2, err := genesis.ParseConfig(text)
		if err != nil || form2 != form || !reflect.DeepEqual(back, cfg) {
			t.Fatalf("Marshal round trip: %v %v→%v\n%s", err, form, form2, text)
		}
		if form == genesis.FormComplete {
			g, err := genesis.FromConfig(cfg)
			if err != nil {
				t.Fatalf("complete config without genesis: %v", err)
			}
			if _, err := genesis.Decode(g.Encode()); err != nil {
				t.Fatalf("own genesis rejected: %v", err)
			}
		}
	})
}

// No input makes Decode panic, and whatever it accepts is exactly the
// canonical encoding of what it decoded.
func FuzzDecodeGenesis(f *testing.F) {
	for _, name := range []string{"mayor.yaml", "general.yaml", "referendum.yaml"} {
		cfg, _ := completedSample(f, name)
		g := mustGenesis(f, cfg)
		f.Add(g.Encode())
		f.Add(bytes.ToUpper(g.Encode()))
	}
	for _, s := range []string{"", "{}", "null", `{"format":"urna-genesis-v1"}`, "[]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := genesis.Decode(data)
		if err != nil {
			_ = err.Error()
			return
		}
		if !bytes.Equal(g.Encode(), data) {
			t.Fatalf("accepted non-canonical bytes:\n%q\n%q", data, g.Encode())
		}
		again, err := genesis.FromConfig(g.Config())
		if err != nil || again.Fingerprint() != g.Fingerprint() {
			t.Fatalf("FromConfig(Config()) = %v", err)
		}
	})
}
