package genesis_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
)

var update = flag.Bool("update", false, "rewrite testdata/*.genesis.json")

// The genesis of the completed mayor sample is pinned byte for byte: a
// change to the encoding (field order, escaping, defaults) would change
// every election's fingerprint and must be deliberate (new Format).
func TestGoldenGenesis(t *testing.T) {
	cfg, _ := completedSample(t, "mayor.yaml")
	got := mustGenesis(t, cfg).Encode()
	path := filepath.Join("testdata", "mayor.genesis.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("genesis encoding changed:\n got %s\nwant %s", got, want)
	}
	g, err := genesis.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.Fingerprint() != sha256.Sum256(want) {
		t.Fatal("fingerprint is not the SHA-256 of the file")
	}
}

// The canonical form: format tag first, compact, one trailing newline,
// HTML characters unescaped, lowercase hex, every default explicit.
func TestEncodingShape(t *testing.T) {
	cfg, _ := completedSample(t, "general.yaml")
	cfg.Contests[0].Title = `Governor <"A" & B's \ office>`
	g := mustGenesis(t, cfg)
	b := g.Encode()
	if !bytes.HasPrefix(b, []byte(`{"format":"urna-genesis-v1","election":{"id":"lakeshire-general-2025",`)) {
		t.Errorf("does not start with the format tag: %.80s", b)
	}
	if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
		t.Error("want exactly one newline, at the end")
	}
	if !bytes.Contains(b, []byte(`"title":"Governor <\"A\" & B's \\ office>"`)) {
		t.Errorf("title not encoded as documented: %s", b)
	}
	if !bytes.Contains(b, []byte(`"params":{"max_block_txs":1000,"max_block_bytes":4194304,"dkg_deadline_height":20,"heartbeat_ms":10000,"max_clock_skew_ms":10000}}`)) {
		t.Errorf("params not explicit and last: %s", b)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil || !bytes.Equal(compact.Bytes(), b[:len(b)-1]) {
		t.Errorf("not compact JSON: %v", err)
	}
	if g.Fingerprint() != sha256.Sum256(b) {
		t.Error("fingerprint is not SHA-256 of Encode()")
	}
	back, err := genesis.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Fingerprint() != g.Fingerprint() || !bytes.Equal(back.Encode(), b) {
		t.Error("Decode(Encode()) is not the same genesis")
	}
	checkGenesisMatches(t, back, back.Config())
}

// Anything but the canonical bytes is refused, with the offset of the
// first difference; content that is canonical but breaks a rule is refused
// by the same rules as a config.
func TestDecodeRejects(t *testing.T) {
	cfg, _ := completedSample(t, "general.yaml")
	cfg.Contests[0].Title = "Governor & deputy"
	good := string(mustGenesis(t, cfg).Encode())
	key0 := hexKey("station st-01")
	for _, tc := range []struct {
		name   string
		mutate func(t testing.TB, s string) string
		want   error
		path   string
		offset int // for ErrNotCanonical: byte of the first difference (-1: not checked)
	}{
		{"space after colon", func(t testing.TB, s string) string { return strings.Replace(s, `"format":`, `"format": `, 1) }, genesis.ErrNotCanonical, "", 10},
		{"indented", func(t testing.TB, s string) string {
			var b bytes.Buffer
			if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}, genesis.ErrNotCanonical, "", 1},
		{"keys reordered", func(t testing.TB, s string) string {
			return edit(t, s, `"id":"lakeshire-general-2025","title":"Lakeshire general election 2025"`, `"title":"Lakeshire general election 2025","id":"lakeshire-general-2025"`)
		}, genesis.ErrNotCanonical, "", 41},
		{"uppercase hex", func(t testing.TB, s string) string { return edit(t, s, key0, strings.ToUpper(key0)) }, genesis.ErrNotCanonical, "", -1},
		{"no trailing newline", func(t testing.TB, s string) string { return strings.TrimSuffix(s, "\n") }, genesis.ErrNotCanonical, "", len(good) - 1},
		{"two trailing newlines", func(t testing.TB, s string) string { return s + "\n" }, genesis.ErrNotCanonical, "", len(good)},
		{"trailing garbage", func(t testing.TB, s string) string { return s + "{}" }, genesis.ErrNotCanonical, "", len(good)},
		{"escaped letter", func(t testing.TB, s string) string {
			return edit(t, s, `"title":"Governor &`, `"title":"\u0047overnor &`)
		}, genesis.ErrNotCanonical, "", -1},
		{"HTML-escaped", func(t testing.TB, s string) string { return edit(t, s, `Governor & deputy`, `Governor \u0026 deputy`) }, genesis.ErrNotCanonical, "", -1},
		{"duplicate key", func(t testing.TB, s string) string {
			return edit(t, s, `{"format":"urna-genesis-v1",`, `{"format":"urna-genesis-v1","format":"urna-genesis-v1",`)
		}, genesis.ErrNotCanonical, "", -1},
		{"key in other case", func(t testing.TB, s string) string { return edit(t, s, `{"format":`, `{"Format":`) }, genesis.ErrNotCanonical, "", 2},
		{"null list", func(t testing.TB, s string) string {
			return s[:strings.Index(s, `"stations":[`)] + `"stations":null` + s[strings.Index(s, `,"officials"`):]
		}, genesis.ErrNotCanonical, "", -1},
		{"unknown field", func(t testing.TB, s string) string {
			return edit(t, s, `"dkg":{"threshold":3}`, `"dkg":{"threshold":3,"seed":1}`)
		}, genesis.ErrMalformed, "", -1},
		{"float", func(t testing.TB, s string) string { return edit(t, s, `"threshold":3`, `"threshold":3.0`) }, genesis.ErrMalformed, "dkg.threshold", -1},
		{"leading zero", func(t testing.TB, s string) string { return edit(t, s, `"threshold":3`, `"threshold":03`) }, genesis.ErrMalformed, "", -1},
		{"truncated", func(t testing.TB, s string) string { return s[:len(s)/2] }, genesis.ErrMalformed, "", -1},
		{"not JSON", func(t testing.TB, s string) string { return "election: x\n" }, genesis.ErrMalformed, "", -1},
		{"other format", func(t testing.TB, s string) string { return edit(t, s, `"urna-genesis-v1"`, `"urna-genesis-v2"`) }, genesis.ErrFormat, "format", -1},
		{"key not hex", func(t testing.TB, s string) string { return edit(t, s, key0, "zz"+key0[2:]) }, genesis.ErrBadKey, "stations[0].public_key", -1},
		{"threshold out of bounds", func(t testing.TB, s string) string { return edit(t, s, `"threshold":3`, `"threshold":6`) }, genesis.ErrThreshold, "dkg.threshold", -1},
		{"small-order key", func(t testing.TB, s string) string { return edit(t, s, key0, strings.Repeat("00", 32)) }, genesis.ErrBadKey, "stations[0].public_key", -1},
		{"bad kind", func(t testing.TB, s string) string { return edit(t, s, `"kind":"approval"`, `"kind":"ranked"`) }, genesis.ErrBadKind, "contests[1].kind", -1},
		{"control character", func(t testing.TB, s string) string { return edit(t, s, `Governor & deputy`, `Governor\n& deputy`) }, genesis.ErrBadText, "contests[0].title", -1},
		{"empty stations", func(t testing.TB, s string) string {
			return s[:strings.Index(s, `"stations":[`)] + `"stations":[]` + s[strings.Index(s, `,"officials"`):]
		}, genesis.ErrCount, "stations", -1},
		{"too large", func(t testing.TB, s string) string { return s + strings.Repeat(" ", genesis.MaxGenesisBytes) }, genesis.ErrTooLarge, "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.mutate(t, good)
			_, err := genesis.Decode([]byte(data))
			if err == nil {
				t.Fatalf("accepted %s", data)
			}
			fe := firstFieldError(t, err)
			if !errors.Is(err, tc.want) || fe.Path != tc.path {
				t.Fatalf("got %v (path %q), want %v at %q", err, fe.Path, tc.want, tc.path)
			}
			var ce *genesis.CanonicalError
			if errors.Is(err, genesis.ErrNotCanonical) {
				if !errors.As(err, &ce) {
					t.Fatalf("%v carries no CanonicalError", err)
				}
				if tc.offset >= 0 && ce.Offset != tc.offset {
					t.Errorf("difference reported at byte %d, want %d (%v)", ce.Offset, tc.offset, ce)
				}
			}
		})
	}
}

func TestLoadRoll(t *testing.T) {
	cfg, roll := completedSample(t, "mayor.yaml")
	g := mustGenesis(t, cfg)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := g.LoadRoll(write("good.txt", roll.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != roll.Hash() || got.Len() != g.Voters() {
		t.Fatal("LoadRoll returned another roll")
	}
	n := cfg.VoterRoll.Voters
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"other election", testRoll(t, "another-election", n, "").Encode(), genesis.ErrRollElection},
		{"one voter short", testRoll(t, cfg.Election.ID, n-1, "").Encode(), genesis.ErrRollCount},
		{"one voter more", testRoll(t, cfg.Election.ID, n+1, "").Encode(), genesis.ErrRollCount},
		{"other voters", testRoll(t, cfg.Election.ID, n, "other").Encode(), genesis.ErrRollHash},
		{"not a roll", []byte("urna voter roll v2\n"), ballot.ErrBadRoll},
		{"trailing byte", append(roll.Encode(), '\n'), ballot.ErrBadRoll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.LoadRoll(write(strings.ReplaceAll(tc.name, " ", "-")+".txt", tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := g.LoadRoll(filepath.Join(dir, "absent.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	cfg, _ := completedSample(t, "mayor.yaml")
	data := append(mustGenesis(t, cfg).Encode(), ' ')
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := genesis.Load(path)
	if fe := firstFieldError(t, err); fe.File != path || !errors.Is(err, genesis.ErrNotCanonical) {
		t.Fatalf("got %v", err)
	}
}
