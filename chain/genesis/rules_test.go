package genesis_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
)

func readSample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(configDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// validYAML is a complete config with n stations, one field per line so
// that tests can edit it as text. Lines: election 1-3, contests 4-27
// (mayor 5-13, council 14-24, levy 25-27), stations from 28, 4 lines each.
func validYAML(t testing.TB, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`election:
  id: test-election
  title: Test election
contests:
  - id: mayor
    title: Mayor
    kind: plurality
    limit: 1
    candidates:
      - id: ann
        name: Ann
      - id: bob
        name: Bob
  - id: council
    title: Council
    kind: approval
    limit: 2
    candidates:
      - id: cat
        name: Cat
      - id: dan
        name: Dan
      - id: eve
        name: Eve
  - id: levy
    title: Levy
    kind: referendum
stations:
`)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - id: s%d\n    name: Station %d\n    address: 127.0.0.1:%d\n    public_key: %s\n", i, i, 7100+i, hexKey(fmt.Sprint("s", i)))
	}
	b.WriteString("officials:\n  open_quorum: 2\n  close_quorum: 2\n  members:\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "    - id: o%d\n      name: Official %d\n      public_key: %s\n", i, i, hexKey(fmt.Sprint("o", i)))
	}
	h := testRoll(t, "test-election", 10, "").Hash()
	fmt.Fprintf(&b, "dkg:\n  threshold: %d\nvoter_roll:\n  file: roll.txt\n  voters: 10\n  sha256: %x\n", max((n-1)/3+1, 2), h)
	return b.String()
}

func TestValidYAMLIsValid(t *testing.T) {
	for _, n := range []int{2, 3, 4, 5, 7, 10} {
		if _, form, err := genesis.ParseConfig([]byte(validYAML(t, n))); err != nil || form != genesis.FormComplete {
			t.Fatalf("n=%d: %v, %v", n, form, err)
		}
	}
}

// torsionKey is a valid key plus a point of order 4: on the curve,
// canonical, but outside the prime-order subgroup.
func torsionKey(t testing.TB) string {
	p, err := new(edwards25519.Point).SetBytes(testKey("x"))
	if err != nil {
		t.Fatal(err)
	}
	t4, err := new(edwards25519.Point).SetBytes(make([]byte, 32)) // y = 0: order 4
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(new(edwards25519.Point).Add(p, t4).Bytes())
}

// Every rule violation is reported as a *FieldError naming the field path,
// with the right sentinel and a source position.
func TestRuleViolations(t *testing.T) {
	s1 := hexKey("s1")
	type tc struct {
		name   string
		n      int // stations; 0 means 4
		mutate func(t testing.TB, s string) string
		path   string
		want   error
		also   error  // a second sentinel the error must match, if any
		other  string // the first place, for duplicates
		line   int    // exact line, if checked
		noLine bool   // no source position expected
	}
	replace := func(old, new string) func(testing.TB, string) string {
		return func(t testing.TB, s string) string { return edit(t, s, old, new) }
	}
	cases := []tc{
		// Structure.
		{name: "unknown top-level field", mutate: func(t testing.TB, s string) string { return s + "colour: red\n" },
			path: "colour", want: genesis.ErrUnknownField, line: 64},
		{name: "unknown nested field", mutate: replace("    limit: 1\n", "    limit: 1\n    colour: red\n"),
			path: "contests[0].colour", want: genesis.ErrUnknownField, line: 9},
		{name: "unknown param", mutate: func(t testing.TB, s string) string { return s + "params:\n  block_size: 3\n" },
			path: "params.block_size", want: genesis.ErrUnknownField},
		{name: "field given twice", mutate: replace("  title: Test election\n", "  title: Test election\n  id: other\n"),
			path: "election.id", want: genesis.ErrDuplicateField, other: "election.id", line: 4},
		{name: "missing title", mutate: replace("  title: Test election\n", ""),
			path: "election.title", want: genesis.ErrMissingField, line: 2},
		{name: "missing section", mutate: replace("dkg:\n  threshold: 2\n", ""),
			path: "dkg", want: genesis.ErrMissingField},
		{name: "approval without limit", mutate: replace("    limit: 2\n", ""),
			path: "contests[1].limit", want: genesis.ErrMissingField},
		{name: "plurality without candidates", mutate: replace("    candidates:\n      - id: ann\n        name: Ann\n      - id: bob\n        name: Bob\n", ""),
			path: "contests[0].candidates", want: genesis.ErrMissingField},
		{name: "empty document", mutate: func(testing.TB, string) string { return "# nothing\n" },
			path: "", want: genesis.ErrMissingField, noLine: true},
		{name: "syntax error", mutate: replace("    title: Mayor\n", "    title: [Mayor\n"),
			path: "", want: genesis.ErrSyntax},
		{name: "two documents", mutate: func(t testing.TB, s string) string { return s + "---\nelection: {}\n" },
			path: "", want: genesis.ErrUnsupported},
		{name: "anchor", mutate: replace("    title: Mayor\n", "    title: &t Mayor\n"),
			path: "contests[0].title", want: genesis.ErrUnsupported, line: 6},
		{name: "alias", mutate: replace("    title: Council\n", "    title: *t\n"),
			path: "contests[1].title", want: genesis.ErrUnsupported},
		{name: "tag", mutate: replace("    limit: 2\n", "    limit: !!int 2\n"),
			path: "contests[1].limit", want: genesis.ErrUnsupported},
		{name: "merge key", mutate: replace("  - id: levy\n", "  - <<: {id: levy}\n    id: levy\n"),
			path: "contests[2]", want: genesis.ErrUnsupported},
		// Types.
		{name: "quoted integer", mutate: replace("    limit: 2\n", "    limit: \"2\"\n"),
			path: "contests[1].limit", want: genesis.ErrType, line: 17},
		{name: "float limit", mutate: replace("    limit: 2\n", "    limit: 1.5\n"),
			path: "contests[1].limit", want: genesis.ErrType},
		{name: "hex limit", mutate: replace("    limit: 2\n", "    limit: 0x2\n"),
			path: "contests[1].limit", want: genesis.ErrType},
		{name: "contests not a list", mutate: func(t testing.TB, s string) string {
			return s[:strings.Index(s, "contests:")] + "contests: {id: mayor}\n" + s[strings.Index(s, "stations:"):]
		},
			path: "contests", want: genesis.ErrType},
		{name: "candidate not a mapping", mutate: replace("      - id: ann\n        name: Ann\n", "      - ann\n"),
			path: "contests[0].candidates[0]", want: genesis.ErrType},
		{name: "empty list entry", mutate: replace("      - id: ann\n        name: Ann\n", "      -\n"),
			path: "contests[0].candidates[0]", want: genesis.ErrType},
		{name: "title a list", mutate: replace("    title: Mayor\n", "    title: [Mayor]\n"),
			path: "contests[0].title", want: genesis.ErrType},
		// Ids and text.
		{name: "id with capitals", mutate: replace("  id: test-election\n", "  id: Test_Election\n"),
			path: "election.id", want: genesis.ErrBadID, line: 2},
		{name: "id too long", mutate: replace("  - id: mayor\n", "  - id: "+strings.Repeat("m", 65)+"\n"),
			path: "contests[0].id", want: genesis.ErrBadID},
		{name: "id starting with -", mutate: replace("  - id: s1\n", "  - id: -s1\n"),
			path: "stations[0].id", want: genesis.ErrBadID},
		{name: "empty name", mutate: replace("        name: Ann\n", "        name: \"\"\n"),
			path: "contests[0].candidates[0].name", want: genesis.ErrBadText},
		{name: "control character", mutate: replace("        name: Ann\n", "        name: \"A\\tnn\"\n"),
			path: "contests[0].candidates[0].name", want: genesis.ErrBadText},
		{name: "trailing space", mutate: replace("    title: Mayor\n", "    title: 'Mayor '\n"),
			path: "contests[0].title", want: genesis.ErrBadText},
		{name: "title too long", mutate: replace("  title: Test election\n", "  title: "+strings.Repeat("x", 257)+"\n"),
			path: "election.title", want: genesis.ErrBadText},
		// Duplicates name both places.
		{name: "duplicate contest id", mutate: replace("  - id: council\n", "  - id: mayor\n"),
			path: "contests[1].id", want: genesis.ErrDuplicate, other: "contests[0].id", line: 14},
		{name: "duplicate candidate id", mutate: replace("      - id: bob\n", "      - id: ann\n"),
			path: "contests[0].candidates[1].id", want: genesis.ErrDuplicate, other: "contests[0].candidates[0].id"},
		{name: "duplicate station id", mutate: replace("  - id: s2\n", "  - id: s1\n"),
			path: "stations[1].id", want: genesis.ErrDuplicate, other: "stations[0].id"},
		{name: "duplicate official id", mutate: replace("    - id: o3\n", "    - id: o1\n"),
			path: "officials.members[2].id", want: genesis.ErrDuplicate, other: "officials.members[0].id"},
		{name: "duplicate address", mutate: replace("127.0.0.1:7104\n", "127.0.0.1:7101\n"),
			path: "stations[3].address", want: genesis.ErrDuplicate, other: "stations[0].address"},
		{name: "duplicate station key", mutate: replace("    public_key: "+hexKey("s2")+"\n", "    public_key: "+s1+"\n"),
			path: "stations[1].public_key", want: genesis.ErrDuplicate, other: "stations[0].public_key"},
		{name: "official key is a station key", mutate: replace("      public_key: "+hexKey("o1")+"\n", "      public_key: "+s1+"\n"),
			path: "officials.members[0].public_key", want: genesis.ErrDuplicate, other: "stations[0].public_key"},
		// Contests.
		{name: "bad kind", mutate: replace("    kind: plurality\n", "    kind: ranked\n"),
			path: "contests[0].kind", want: genesis.ErrBadKind, line: 7},
		{name: "plurality limit 2", mutate: replace("    limit: 1\n", "    limit: 2\n"),
			path: "contests[0].limit", want: genesis.ErrLimit, line: 8},
		{name: "approval limit 0", mutate: replace("    limit: 2\n", "    limit: 0\n"),
			path: "contests[1].limit", want: genesis.ErrLimit},
		{name: "approval limit above candidates", mutate: replace("    limit: 2\n", "    limit: 4\n"),
			path: "contests[1].limit", want: genesis.ErrLimit},
		{name: "referendum limit 2", mutate: replace("    kind: referendum\n", "    kind: referendum\n    limit: 2\n"),
			path: "contests[2].limit", want: genesis.ErrLimit},
		{name: "referendum maybe", mutate: replace("    kind: referendum\n", "    kind: referendum\n    candidates: [{id: yes, name: Yes}, {id: maybe, name: Maybe}]\n"),
			path: "contests[2].candidates", want: genesis.ErrReferendum},
		{name: "referendum no/yes", mutate: replace("    kind: referendum\n", "    kind: referendum\n    candidates: [{id: no, name: No}, {id: yes, name: Yes}]\n"),
			path: "contests[2].candidates", want: genesis.ErrReferendum},
		{name: "too many contests", mutate: func(t testing.TB, s string) string {
			var b strings.Builder
			for i := range 65 {
				fmt.Fprintf(&b, "  - {id: c%d, title: C, kind: referendum}\n", i)
			}
			return edit(t, s, "stations:\n", b.String()+"stations:\n")
		}, path: "contests", want: genesis.ErrCount},
		{name: "too many candidates", mutate: func(t testing.TB, s string) string {
			var b strings.Builder
			for i := range 63 {
				fmt.Fprintf(&b, "      - {id: x%d, name: X}\n", i)
			}
			return edit(t, s, "      - id: eve\n", b.String()+"      - id: eve\n")
		}, path: "contests[1].candidates", want: genesis.ErrCount},
		{name: "too many selections in all", mutate: func(t testing.TB, s string) string {
			var b strings.Builder
			for i := range 17 {
				fmt.Fprintf(&b, "  - {id: c%d, title: C, kind: approval, limit: 1, candidates: [", i)
				for j := range 64 {
					fmt.Fprintf(&b, "{id: x%d, name: X},", j)
				}
				b.WriteString("]}\n")
			}
			return edit(t, s, "stations:\n", b.String()+"stations:\n")
		}, path: "contests", want: genesis.ErrCount, also: ballot.ErrBadManifest},
		// Stations.
		{name: "no stations", mutate: func(t testing.TB, s string) string {
			return edit(t, s, s[strings.Index(s, "stations:\n"):strings.Index(s, "officials:\n")], "stations: []\n")
		}, path: "stations", want: genesis.ErrCount},
		{name: "address without port", mutate: replace("127.0.0.1:7101\n", "127.0.0.1\n"),
			path: "stations[0].address", want: genesis.ErrBadAddress, line: 31},
		{name: "port 0", mutate: replace("127.0.0.1:7101\n", "127.0.0.1:0\n"),
			path: "stations[0].address", want: genesis.ErrBadAddress},
		{name: "port too big", mutate: replace("127.0.0.1:7101\n", "127.0.0.1:70000\n"),
			path: "stations[0].address", want: genesis.ErrBadAddress},
		{name: "port with leading zero", mutate: replace("127.0.0.1:7101\n", "127.0.0.1:07101\n"),
			path: "stations[0].address", want: genesis.ErrBadAddress},
		{name: "host in capitals", mutate: replace("127.0.0.1:7101\n", "Node1.Example:7101\n"),
			path: "stations[0].address", want: genesis.ErrBadAddress},
		{name: "non-canonical IPv6", mutate: replace("127.0.0.1:7101\n", "\"[0:0::1]:7101\"\n"),
			path: "stations[0].address", want: genesis.ErrBadAddress},
		// Keys.
		{name: "key not hex", mutate: replace(s1, "zz"+s1[2:]),
			path: "stations[0].public_key", want: genesis.ErrBadKey, line: 32},
		{name: "key 31 bytes", mutate: replace(s1, s1[2:]),
			path: "stations[0].public_key", want: genesis.ErrBadKey},
		{name: "key 33 bytes", mutate: replace(s1, s1+"00"),
			path: "stations[0].public_key", want: genesis.ErrBadKey},
		{name: "small-order key", mutate: replace(s1, strings.Repeat("00", 32)),
			path: "stations[0].public_key", want: genesis.ErrBadKey, also: ballot.ErrPointSmall},
		{name: "key with torsion", mutate: func(t testing.TB, s string) string { return edit(t, s, s1, torsionKey(t)) },
			path: "stations[0].public_key", want: genesis.ErrBadKey, also: ballot.ErrPointSubgroup},
		{name: "non-canonical key", mutate: replace(s1, "ee"+strings.Repeat("ff", 30)+"7f"),
			path: "stations[0].public_key", want: genesis.ErrBadKey, also: ballot.ErrPointEncoding},
		{name: "official key identity", mutate: replace(hexKey("o2"), "01"+strings.Repeat("00", 31)),
			path: "officials.members[1].public_key", want: genesis.ErrBadKey, also: ballot.ErrPointIdentity},
		// Officials.
		{name: "open quorum above members", mutate: replace("  open_quorum: 2\n", "  open_quorum: 4\n"),
			path: "officials.open_quorum", want: genesis.ErrQuorum},
		{name: "close quorum 0", mutate: replace("  close_quorum: 2\n", "  close_quorum: 0\n"),
			path: "officials.close_quorum", want: genesis.ErrQuorum},
		{name: "no officials", mutate: func(t testing.TB, s string) string {
			return edit(t, s, s[strings.Index(s, "  members:\n"):strings.Index(s, "dkg:\n")], "  members: []\n")
		}, path: "officials.members", want: genesis.ErrCount},
		// Forms.
		{name: "one station key missing", mutate: replace("    public_key: "+hexKey("s3")+"\n", ""),
			path: "stations[2].public_key", want: genesis.ErrMixedForm, line: 37},
		{name: "roll hash missing", mutate: func(t testing.TB, s string) string { return s[:strings.Index(s, "  sha256:")] },
			path: "voter_roll.sha256", want: genesis.ErrMixedForm},
		{name: "only the roll hash", mutate: func(t testing.TB, s string) string {
			for _, k := range []string{"s1", "s2", "s3", "s4"} {
				s = edit(t, s, "    public_key: "+hexKey(k)+"\n", "")
			}
			for _, k := range []string{"o1", "o2", "o3"} {
				s = edit(t, s, "      public_key: "+hexKey(k)+"\n", "")
			}
			return s
		}, path: "stations[0].public_key", want: genesis.ErrMixedForm},
		// Roll.
		{name: "hash not hex", mutate: func(t testing.TB, s string) string { return s[:strings.Index(s, "  sha256:")] + "  sha256: xyz\n" },
			path: "voter_roll.sha256", want: genesis.ErrBadHash},
		{name: "hash short", mutate: func(t testing.TB, s string) string { return s[:strings.Index(s, "  sha256:")] + "  sha256: abcd\n" },
			path: "voter_roll.sha256", want: genesis.ErrBadHash},
		{name: "no voters", mutate: replace("  voters: 10\n", "  voters: 0\n"),
			path: "voter_roll.voters", want: genesis.ErrVoters},
		{name: "absolute roll path", mutate: replace("  file: roll.txt\n", "  file: /etc/roll.txt\n"),
			path: "voter_roll.file", want: genesis.ErrBadPath},
		{name: "backslash roll path", mutate: replace("  file: roll.txt\n", "  file: rolls\\roll.txt\n"),
			path: "voter_roll.file", want: genesis.ErrBadPath},
		// Params.
		{name: "max_block_txs 0", mutate: func(t testing.TB, s string) string { return s + "params:\n  max_block_txs: 0\n" },
			path: "params.max_block_txs", want: genesis.ErrBadParam},
		{name: "deadline too early", mutate: func(t testing.TB, s string) string { return s + "params: {dkg_deadline_height: 2}\n" },
			path: "params.dkg_deadline_height", want: genesis.ErrBadParam},
		{name: "block bytes too big", mutate: func(t testing.TB, s string) string { return s + "params: {max_block_bytes: 1073741824}\n" },
			path: "params.max_block_bytes", want: genesis.ErrBadParam},
		// Threshold (more in TestThresholdBounds).
		{name: "threshold = f (n=4)", mutate: replace("  threshold: 2\n", "  threshold: 1\n"),
			path: "dkg.threshold", want: genesis.ErrThreshold},
		{name: "threshold > n-f (n=4)", mutate: replace("  threshold: 2\n", "  threshold: 4\n"),
			path: "dkg.threshold", want: genesis.ErrThreshold},
		{name: "threshold = f (n=7)", n: 7, mutate: replace("  threshold: 3\n", "  threshold: 2\n"),
			path: "dkg.threshold", want: genesis.ErrThreshold},
		{name: "threshold > n-f (n=7)", n: 7, mutate: replace("  threshold: 3\n", "  threshold: 6\n"),
			path: "dkg.threshold", want: genesis.ErrThreshold},
		{name: "one station", n: 1, mutate: func(t testing.TB, s string) string { return s },
			path: "dkg.threshold", want: genesis.ErrThreshold},
		// Size bounds.
		{name: "too large", mutate: func(t testing.TB, s string) string {
			return s + "# " + strings.Repeat("x", genesis.MaxConfigBytes) + "\n"
		},
			path: "", want: genesis.ErrTooLarge, noLine: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := c.n
			if n == 0 {
				n = 4
			}
			text := c.mutate(t, validYAML(t, n))
			_, _, err := genesis.ParseConfig([]byte(text))
			if err == nil {
				t.Fatalf("accepted:\n%s", text)
			}
			fe := firstFieldError(t, err)
			if fe.Path != c.path || !errors.Is(fe, c.want) {
				t.Fatalf("first error %q: path %q, want %q with %v\nall: %v", fe, fe.Path, c.path, c.want, err)
			}
			if c.also != nil && !errors.Is(fe, c.also) {
				t.Errorf("error %v does not match %v", fe, c.also)
			}
			if fe.Other != c.other {
				t.Errorf("other place %q, want %q", fe.Other, c.other)
			}
			if c.other != "" && fe.OtherLine == 0 {
				t.Errorf("no line for the other place")
			}
			switch {
			case c.noLine && fe.Line != 0:
				t.Errorf("line %d, want none", fe.Line)
			case !c.noLine && fe.Line == 0:
				t.Errorf("no line:column in %v", fe)
			case c.line != 0 && fe.Line != c.line:
				t.Errorf("line %d, want %d (%v)", fe.Line, c.line, fe)
			}
		})
	}
}

// f < t ≤ n − f (and t ≥ 2 for kyber's DKG), for several n; n = 4 and 7
// spelled out.
func TestThresholdBounds(t *testing.T) {
	valid := map[int][]int{2: {2}, 3: {2, 3}, 4: {2, 3}, 5: {2, 3, 4}, 7: {3, 4, 5}, 10: {4, 5, 6, 7}}
	for n, ok := range valid {
		for th := 0; th <= n+1; th++ {
			text := validYAML(t, n)
			text = edit(t, text, fmt.Sprintf("  threshold: %d\n", max((n-1)/3+1, 2)), fmt.Sprintf("  threshold: %d\n", th))
			_, _, err := genesis.ParseConfig([]byte(text))
			want := false
			for _, v := range ok {
				want = want || v == th
			}
			if want && err != nil {
				t.Errorf("n=%d t=%d rejected: %v", n, th, err)
			}
			if !want {
				fe := firstFieldError(t, err)
				if fe.Path != "dkg.threshold" || !errors.Is(err, genesis.ErrThreshold) {
					t.Errorf("n=%d t=%d: %v, want ErrThreshold at dkg.threshold", n, th, err)
				}
			}
		}
	}
}

// Addresses in their one spelling are fine.
func TestGoodAddresses(t *testing.T) {
	for _, addr := range []string{"\"[::1]:7101\"", "node-1.example.org:443", "10.0.0.1:65535", "\"[2001:db8::1]:1\""} {
		text := edit(t, validYAML(t, 4), "127.0.0.1:7101\n", addr+"\n")
		if _, _, err := genesis.ParseConfig([]byte(text)); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// Rule violations are all reported, in field order, each with its path.
func TestAllViolationsReported(t *testing.T) {
	text := validYAML(t, 4)
	text = edit(t, text, "  id: test-election\n", "  id: BAD\n")
	text = edit(t, text, "    limit: 1\n", "    limit: 3\n")
	text = edit(t, text, "  close_quorum: 2\n", "  close_quorum: 9\n")
	_, _, err := genesis.ParseConfig([]byte(text))
	var list genesis.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("%v is not an ErrorList", err)
	}
	want := []struct {
		path string
		err  error
	}{{"election.id", genesis.ErrBadID}, {"contests[0].limit", genesis.ErrLimit}, {"officials.close_quorum", genesis.ErrQuorum}}
	if len(list) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		if list[i].Path != w.path || !errors.Is(list[i], w.err) {
			t.Errorf("error %d = %v, want %v at %s", i, list[i], w.err, w.path)
		}
	}
	// The library's formatting shows the offending source line.
	if f := list[1].FormatError(false, true); !strings.Contains(f, "limit: 3") {
		t.Errorf("FormatError does not show the source:\n%s", f)
	}
}

// Hostile nesting and sizes are refused before the YAML parser sees them
// (its memory grows with depth); none of these may take long or panic.
func TestHostileShapesRefused(t *testing.T) {
	for name, text := range map[string]string{
		"deep flow":      strings.Repeat("[", 100_000),
		"deep flow maps": strings.Repeat("{a: ", 50_000),
		"dash chain":     strings.Repeat("- ", 100_000) + "x\n",
		"deep indent":    deepIndent(200),
		"many tokens":    "[" + strings.Repeat("a, ", 30_000) + "]\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := genesis.ParseConfig([]byte(text))
			if !errors.Is(err, genesis.ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
		})
	}
}

// Refusing a hostile file costs little memory: the lexer is stopped at the
// token limit instead of tokenizing the whole file (which would allocate
// some 150 MiB for 512 KiB of '[').
func TestHostileFileAllocatesLittle(t *testing.T) {
	data := []byte(strings.Repeat("[", genesis.MaxConfigBytes))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := genesis.ParseConfig(data)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, genesis.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 32<<20 {
		t.Errorf("refusing it allocated %d MiB", got>>20)
	}
}

func deepIndent(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i))
		b.WriteString("a:\n")
	}
	return b.String()
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(edit(t, validYAML(t, 4), "    limit: 1\n", "    limit: 5\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := genesis.LoadConfig(path)
	if fe := firstFieldError(t, err); fe.File != path || !errors.Is(err, genesis.ErrLimit) {
		t.Fatalf("got %v (file %q)", err, fe.File)
	}
	if _, _, err := genesis.LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// The size bounds do not refuse the largest election the rules allow: 1024
// selections (16 contests of 64 candidates), 64 stations, 64 officials,
// every id 64 bytes and every name 256, in block style with comments.
func TestLargestElectionFits(t *testing.T) {
	id := func(prefix string, i int) string {
		s := fmt.Sprintf("%s-%d-", prefix, i)
		return s + strings.Repeat("x", 64-len(s))
	}
	name := func(i int) string {
		s := fmt.Sprintf("Name %d ", i)
		return s + strings.Repeat("n", 256-len(s))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "election:\n  id: %s\n  title: %s\ncontests:\n", id("e", 0), name(0))
	for c := range 16 {
		fmt.Fprintf(&b, "  # contest %d\n  - id: %s\n    title: %s\n    kind: approval\n    limit: 64\n    candidates:\n", c, id("c", c), name(c))
		for k := range 64 {
			fmt.Fprintf(&b, "      - id: %s\n        name: %s\n", id("k", k), name(k))
		}
	}
	b.WriteString("stations:\n")
	for i := range 64 {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    address: \"[2001:db8::%x]:65535\"\n    public_key: %s\n", id("s", i), name(i), i+1, hexKey(fmt.Sprint("big s", i)))
	}
	b.WriteString("officials:\n  open_quorum: 64\n  close_quorum: 64\n  members:\n")
	for i := range 64 {
		fmt.Fprintf(&b, "    - id: %s\n      name: %s\n      public_key: %s\n", id("o", i), name(i), hexKey(fmt.Sprint("big o", i)))
	}
	h := testRoll(t, id("e", 0), 1, "").Hash()
	fmt.Fprintf(&b, "dkg:\n  threshold: 22\nvoter_roll:\n  file: roll.txt\n  voters: 10000000\n  sha256: %x\n", h)
	fmt.Fprintf(&b, "params: {max_block_txs: 100000, max_block_bytes: 67108864, dkg_deadline_height: 1000000, heartbeat_ms: 3600000, max_clock_skew_ms: 600000}\n")
	cfg, form, err := genesis.ParseConfig([]byte(b.String()))
	if err != nil || form != genesis.FormComplete {
		t.Fatalf("%d bytes: %v", b.Len(), err)
	}
	g := mustGenesis(t, cfg)
	if n := len(g.Encode()); n > genesis.MaxGenesisBytes/2 {
		t.Errorf("largest genesis is %d bytes, more than half of MaxGenesisBytes", n)
	}
	t.Logf("config %d bytes, genesis %d bytes", b.Len(), len(g.Encode()))
}

// Errors read as "file:line:col: path: what", and duplicates say where the
// first one is.
func TestErrorText(t *testing.T) {
	text := edit(t, validYAML(t, 4), "  - id: s2\n", "  - id: s1\n")
	_, _, err := genesis.ParseConfig([]byte(text))
	fe := firstFieldError(t, err)
	fe.File = "x.yaml"
	want := `x.yaml:33:9: stations[1].id: duplicate: station id "s1" (first at stations[0].id, line 29)`
	if fe.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", fe.Error(), want)
	}
	if err.Error() != fe.Error() {
		t.Errorf("a one-error list reads %q", err.Error())
	}
	if f := fe.FormatError(false, true); !strings.Contains(f, "> 33 |   - id: s1") {
		t.Errorf("FormatError lacks the source line:\n%s", f)
	}
}
