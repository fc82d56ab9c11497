package genesis_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
)

// Every file in election-configs/ is a valid template.
func TestSamplesAreTemplates(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(configDir, "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("sample configs: %v %v", files, err)
	}
	for _, f := range files {
		loadTemplate(t, filepath.Base(f))
	}
}

func TestMayorSample(t *testing.T) {
	cfg := loadTemplate(t, "mayor.yaml")
	if len(cfg.Contests) != 1 || len(cfg.Contests[0].Candidates) != 4 || cfg.Contests[0].Kind != genesis.KindPlurality || cfg.Contests[0].Limit != 1 {
		t.Errorf("contests = %+v, want one plurality contest of 4", cfg.Contests)
	}
	if len(cfg.Stations) != 4 || cfg.F() != 1 || cfg.DKG.Threshold != 2 {
		t.Errorf("n=%d f=%d t=%d, want 4, 1, 2", len(cfg.Stations), cfg.F(), cfg.DKG.Threshold)
	}
	for i, s := range cfg.Stations {
		if want := fmt.Sprintf("127.0.0.1:%d", 7101+i); s.Address != want {
			t.Errorf("stations[%d].address = %q, want %q", i, s.Address, want)
		}
	}
	if o := cfg.Officials; len(o.Members) != 3 || o.OpenQuorum != 2 || o.CloseQuorum != 2 {
		t.Errorf("officials = %+v, want 3 with quorum 2", o)
	}
	if cfg.Params != genesis.DefaultParams() {
		t.Errorf("params = %+v, want defaults", cfg.Params)
	}
}

func TestGeneralSample(t *testing.T) {
	cfg := loadTemplate(t, "general.yaml")
	type shape struct {
		kind         genesis.Kind
		limit, cands int
	}
	want := []shape{{genesis.KindPlurality, 1, 5}, {genesis.KindApproval, 3, 7}, {genesis.KindReferendum, 1, 2}}
	if len(cfg.Contests) != len(want) {
		t.Fatalf("%d contests, want %d", len(cfg.Contests), len(want))
	}
	for i, w := range want {
		c := cfg.Contests[i]
		if got := (shape{c.Kind, c.Limit, len(c.Candidates)}); got != w {
			t.Errorf("contest %d = %+v, want %+v", i, got, w)
		}
	}
	if ref := cfg.Contests[2].Candidates; ref[0].ID != "yes" || ref[1].ID != "no" {
		t.Errorf("referendum candidates %+v, want yes, no", ref)
	}
	if len(cfg.Stations) != 7 || cfg.F() != 2 || cfg.DKG.Threshold != 3 {
		t.Errorf("n=%d f=%d t=%d, want 7, 2, 3", len(cfg.Stations), cfg.F(), cfg.DKG.Threshold)
	}
	if o := cfg.Officials; len(o.Members) != 5 || o.OpenQuorum != 3 || o.CloseQuorum != 3 {
		t.Errorf("officials = %+v, want 5 with quorum 3", o)
	}
}

// The terse sample relies on generated referendum candidates and limit.
func TestReferendumSampleGeneratesYesNo(t *testing.T) {
	cfg := loadTemplate(t, "referendum.yaml")
	c := cfg.Contests[0]
	want := []genesis.Candidate{{ID: "yes", Name: "Yes"}, {ID: "no", Name: "No"}}
	if !reflect.DeepEqual(c.Candidates, want) || c.Limit != 1 {
		t.Errorf("generated %+v limit %d, want %+v limit 1", c.Candidates, c.Limit, want)
	}
}

// A completed sample parses back as complete, equal to itself, and gives a
// genesis whose accessors say what the config said.
func TestCompletedSamplesGiveGenesis(t *testing.T) {
	for _, name := range []string{"mayor.yaml", "general.yaml", "referendum.yaml"} {
		t.Run(name, func(t *testing.T) {
			cfg, roll := completedSample(t, name)
			if form, err := cfg.Validate(); err != nil || form != genesis.FormComplete {
				t.Fatalf("Validate = %v, %v; want complete", form, err)
			}
			text, err := cfg.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, form, err := genesis.ParseConfig(text)
			if err != nil || form != genesis.FormComplete {
				t.Fatalf("ParseConfig(Marshal) = %v, %v\n%s", form, err, text)
			}
			if !reflect.DeepEqual(back, cfg) {
				t.Fatalf("Marshal/ParseConfig round trip changed the config:\n%+v\n%+v", back, cfg)
			}
			g := mustGenesis(t, back)
			checkGenesisMatches(t, g, cfg)
			if g.RollHash() != roll.Hash() || g.Voters() != roll.Len() {
				t.Errorf("roll %x/%d, want %x/%d", g.RollHash(), g.Voters(), roll.Hash(), roll.Len())
			}
		})
	}
}

func checkGenesisMatches(t *testing.T, g *genesis.Genesis, cfg *genesis.Config) {
	t.Helper()
	if g.ElectionID() != cfg.Election.ID || g.Election() != cfg.Election {
		t.Errorf("election %+v, want %+v", g.Election(), cfg.Election)
	}
	if g.N() != len(cfg.Stations) || g.F() != (len(cfg.Stations)-1)/3 || g.Threshold() != cfg.DKG.Threshold {
		t.Errorf("n=%d f=%d t=%d", g.N(), g.F(), g.Threshold())
	}
	keys := g.StationKeys()
	for i, s := range cfg.Stations {
		if !keys[i].Equal(s.PublicKey) {
			t.Errorf("StationKeys()[%d] is not stations[%d]'s key", i, i)
		}
		if j, ok := g.StationIndex(s.ID); !ok || j != i {
			t.Errorf("StationIndex(%q) = %d, %v; want %d", s.ID, j, ok, i)
		}
		if j, ok := g.StationByKey(s.PublicKey); !ok || j != i {
			t.Errorf("StationByKey(stations[%d]) = %d, %v", i, j, ok)
		}
	}
	if _, ok := g.StationIndex("no-such-station"); ok {
		t.Error("StationIndex found a station that does not exist")
	}
	if got := g.Officials(); !reflect.DeepEqual(got, cfg.Officials.Members) {
		t.Errorf("Officials() = %+v, want %+v", got, cfg.Officials.Members)
	}
	for i, m := range cfg.Officials.Members {
		if j, ok := g.OfficialByKey(m.PublicKey); !ok || j != i {
			t.Errorf("OfficialByKey(members[%d]) = %d, %v", i, j, ok)
		}
		if _, ok := g.StationByKey(m.PublicKey); ok {
			t.Errorf("an official's key is taken for a station's")
		}
	}
	if _, ok := g.OfficialByKey(testKey("stranger")); ok {
		t.Error("OfficialByKey accepted a stranger")
	}
	if g.OpenQuorum() != cfg.Officials.OpenQuorum || g.CloseQuorum() != cfg.Officials.CloseQuorum {
		t.Errorf("quorums %d/%d", g.OpenQuorum(), g.CloseQuorum())
	}
	if g.Params() != cfg.Params {
		t.Errorf("params %+v, want %+v", g.Params(), cfg.Params)
	}
	m := g.Manifest()
	if m.ElectionID != cfg.Election.ID || m.Fingerprint != g.Fingerprint() || len(m.Contests) != len(cfg.Contests) {
		t.Fatalf("manifest %+v", m)
	}
	for i, c := range cfg.Contests {
		mc := m.Contests[i]
		if mc.ID != c.ID || mc.Limit != c.Limit || len(mc.Candidates) != len(c.Candidates) {
			t.Errorf("manifest contest %d = %+v, want %+v", i, mc, c)
			continue
		}
		for j, cand := range c.Candidates {
			if mc.Candidates[j] != cand.ID {
				t.Errorf("manifest contest %d candidate %d = %q, want %q", i, j, mc.Candidates[j], cand.ID)
			}
		}
	}
	if err := m.Validate(); err != nil {
		t.Errorf("ballot rejects the manifest: %v", err)
	}
	want := cfg.Contests
	if got := g.Contests(); !reflect.DeepEqual(got, want) {
		t.Errorf("Contests() = %+v, want %+v", got, want)
	}
	// Accessors hand out copies: changing them changes nothing.
	keys[0][0] ^= 1
	g.Stations()[0].PublicKey[0] ^= 1
	g.Contests()[0].Candidates[0].ID = "changed"
	if !g.StationKeys()[0].Equal(cfg.Stations[0].PublicKey) || g.Contests()[0].Candidates[0].ID != cfg.Contests[0].Candidates[0].ID {
		t.Error("a caller changed the genesis through an accessor")
	}
}

func TestFromConfigRejectsTemplate(t *testing.T) {
	cfg := loadTemplate(t, "mayor.yaml")
	_, err := genesis.FromConfig(cfg)
	if !errors.Is(err, genesis.ErrNotComplete) {
		t.Fatalf("FromConfig(template) = %v, want ErrNotComplete", err)
	}
}

// Complete checks what it is given and leaves the config alone on error.
func TestCompleteRejectsBadInput(t *testing.T) {
	base := loadTemplate(t, "mayor.yaml")
	keys := func(prefix string, n int) []ed25519.PublicKey {
		var ks []ed25519.PublicKey
		for i := range n {
			ks = append(ks, testKey(fmt.Sprintf("%s %d", prefix, i)))
		}
		return ks
	}
	roll := testRoll(t, base.Election.ID, 10, "")
	smallOrder := make(ed25519.PublicKey, 32) // the identity's encoding is 01 00…00
	smallOrder[0] = 1
	for _, tc := range []struct {
		name     string
		stations []ed25519.PublicKey
		officals []ed25519.PublicKey
		roll     *ballot.Roll
		want     error
		path     string
	}{
		{"too few station keys", keys("s", 3), keys("o", 3), nil, genesis.ErrCount, "stations"},
		{"too many official keys", keys("s", 4), keys("o", 4), nil, genesis.ErrCount, "officials.members"},
		{"roll of another election", keys("s", 4), keys("o", 3), testRoll(t, "other", 10, ""), genesis.ErrRollElection, "voter_roll"},
		{"identity key", append(keys("s", 3), smallOrder), keys("o", 3), nil, genesis.ErrBadKey, "stations[3].public_key"},
		{"station key reused", append(keys("s", 3), testKey("s 0")), keys("o", 3), nil, genesis.ErrDuplicate, "stations[3].public_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadTemplate(t, "mayor.yaml")
			r := roll
			if tc.roll != nil {
				r = tc.roll
			}
			err := cfg.Complete(tc.stations, tc.officals, r)
			fe := firstFieldError(t, err)
			if !errors.Is(err, tc.want) || fe.Path != tc.path {
				t.Fatalf("Complete = %v (path %q), want %v at %q", err, fe.Path, tc.want, tc.path)
			}
			if !reflect.DeepEqual(cfg, base) {
				t.Fatal("a failed Complete changed the config")
			}
		})
	}
	cfg := loadTemplate(t, "mayor.yaml")
	if err := cfg.Complete(keys("s", 4), keys("o", 3), roll); err != nil {
		t.Fatal(err)
	}
	if cfg.VoterRoll.Voters != 10 {
		t.Errorf("voters = %d, want the roll's 10", cfg.VoterRoll.Voters)
	}
}

// The YAML form does not matter: reordered keys, comments, flow style,
// quoting, hex case, CRLF, explicit defaults and generated fields written
// out all give the same genesis bytes.
func TestFingerprintStableUnderReformatting(t *testing.T) {
	cfg, _ := completedSample(t, "general.yaml")
	base := mustGenesis(t, cfg)
	marshalled, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	keys := strings.NewReplacer(
		"{S1}", hexKey("station st-01"), "{S2}", hexKey("station st-02"), "{S3}", hexKey("station st-03"),
		"{S4}", hexKey("station st-04"), "{S5}", hexKey("station st-05"), "{S6}", hexKey("station st-06"),
		"{S7}", hexKey("station st-07"),
		"{O1}", hexKey("official returning-officer"), "{O2}", hexKey("official deputy-returning"),
		"{O3}", hexKey("official registrar"), "{O4}", hexKey("official party-agent-a"),
		"{O5}", hexKey("official party-agent-b"),
		"{H}", fmt.Sprintf("%x", cfg.VoterRoll.SHA256),
	)
	variants := map[string]string{
		"marshalled":       string(marshalled),
		"sample plus keys": completeSampleText(t, "general.yaml", keys),
		"reordered":        keys.Replace(reorderedGeneral),
		"flow":             keys.Replace(flowGeneral),
		// Hex in upper case is the same key.
		"flow uppercase": strings.Replace(keys.Replace(flowGeneral), hexKey("station st-01"), strings.ToUpper(hexKey("station st-01")), 1),
		"crlf":           strings.ReplaceAll(keys.Replace(reorderedGeneral), "\n", "\r\n"),
	}
	for name, text := range variants {
		t.Run(name, func(t *testing.T) {
			got, form, err := genesis.ParseConfig([]byte(text))
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			if form != genesis.FormComplete {
				t.Fatalf("form %v", form)
			}
			g := mustGenesis(t, got)
			if g.Fingerprint() != base.Fingerprint() {
				t.Fatalf("fingerprint differs:\n%s\n%s", g.Encode(), base.Encode())
			}
		})
	}
}

// completeSampleText inserts public_key and sha256 lines into a sample's
// flow-style entries, keeping its comments and layout.
func completeSampleText(t *testing.T, name string, keys *strings.Replacer) string {
	t.Helper()
	cfg := loadTemplate(t, name)
	text := readSample(t, name)
	for i, s := range cfg.Stations {
		old := fmt.Sprintf(`address: "%s" }`, s.Address)
		text = edit(t, text, old, fmt.Sprintf(`address: "%s", public_key: {S%d} }`, s.Address, i+1))
	}
	for i, m := range cfg.Officials.Members {
		old := fmt.Sprintf("name: %s }", m.Name)
		text = edit(t, text, old, fmt.Sprintf("name: %s, public_key: '{O%d}' }", m.Name, i+1))
	}
	text = edit(t, text, "  voters: 1000\n", "  voters: 1000\n  sha256: \"{H}\"   # hash of the roll\n")
	return keys.Replace(text)
}

const reorderedGeneral = `# Same election, sections and keys in another order, with comments.
params: {}   # all defaults
voter_roll:
  sha256: {H}
  voters: 1000
  file: somewhere/else.txt   # the file is not part of the genesis
dkg: {threshold: 3}
officials:
  members:
    - public_key: {O1}
      name: Returning Officer
      id: returning-officer
    - {name: Deputy Returning Officer, public_key: {O2}, id: deputy-returning}
    - {name: County Registrar, public_key: {O3}, id: registrar}
    - {name: Party Agent A, public_key: {O4}, id: party-agent-a}
    - {name: Party Agent B, public_key: {O5}, id: party-agent-b}
  close_quorum: 3
  open_quorum: 3
stations:
  - {address: 127.0.0.1:7201, id: st-01, public_key: {S1}, name: Harbour School}
  - {address: 127.0.0.1:7202, id: st-02, public_key: {S2}, name: Old Town Hall}
  - {address: 127.0.0.1:7203, id: st-03, public_key: {S3}, name: Mill Lane Library}
  - {address: 127.0.0.1:7204, id: st-04, public_key: {S4}, name: Northgate Sports Hall}
  - {address: 127.0.0.1:7205, id: st-05, public_key: {S5}, name: Riverside Chapel}
  - {address: 127.0.0.1:7206, id: st-06, public_key: {S6}, name: Hillcrest Clinic}
  - {address: 127.0.0.1:7207, id: st-07, public_key: {S7}, name: Eastfield Depot}
election:
  title: 'Lakeshire general election 2025'
  id: "lakeshire-general-2025"
contests:
  - candidates:
      - {name: Harriet Osei, id: harriet-osei}
      - {name: Ivan Petrov, id: ivan-petrov}
      - {name: Jun Tanaka, id: jun-tanaka}
      - {name: Kamala Reyes, id: kamala-reyes}
      - {name: "Liam O'Brien", id: liam-obrien}
    kind: plurality   # limit left out: 1
    title: Governor
    id: governor
  - limit: 3
    kind: "approval"
    title: County council (vote for up to three)
    id: council
    candidates:
      - id: maria-santos
        name: Maria Santos
      - id: noah-fischer
        name: Noah Fischer
      - id: olga-ivanova
        name: Olga Ivanova
      - id: pedro-alves
        name: Pedro Alves
      - id: quinn-murphy
        name: Quinn Murphy
      - id: rosa-klein
        name: Rosa Klein
      - id: sami-haddad
        name: Sami Haddad
  - id: library-levy
    kind: referendum
    limit: 1
    title: "Shall the county levy 0.1% for public libraries?"
    candidates:
      - {id: yes, name: "Yes, approve the levy"}
      - {id: no, name: 'No, reject the levy'}
`

const flowGeneral = `{election: {id: lakeshire-general-2025, title: Lakeshire general election 2025},
 contests: [
  {id: governor, title: Governor, kind: plurality, limit: 1, candidates: [
    {id: harriet-osei, name: Harriet Osei}, {id: ivan-petrov, name: Ivan Petrov},
    {id: jun-tanaka, name: Jun Tanaka}, {id: kamala-reyes, name: Kamala Reyes},
    {id: liam-obrien, name: "Liam O'Brien"}]},
  {id: council, title: "County council (vote for up to three)", kind: approval, limit: 3, candidates: [
    {id: maria-santos, name: Maria Santos}, {id: noah-fischer, name: Noah Fischer},
    {id: olga-ivanova, name: Olga Ivanova}, {id: pedro-alves, name: Pedro Alves},
    {id: quinn-murphy, name: Quinn Murphy}, {id: rosa-klein, name: Rosa Klein},
    {id: sami-haddad, name: Sami Haddad}]},
  {id: library-levy, title: "Shall the county levy 0.1% for public libraries?", kind: referendum,
   candidates: [{id: "yes", name: "Yes, approve the levy"}, {id: "no", name: "No, reject the levy"}]}],
 stations: [
  {id: st-01, name: Harbour School, address: "127.0.0.1:7201", public_key: "{S1}"},
  {id: st-02, name: Old Town Hall, address: "127.0.0.1:7202", public_key: "{S2}"},
  {id: st-03, name: Mill Lane Library, address: "127.0.0.1:7203", public_key: "{S3}"},
  {id: st-04, name: Northgate Sports Hall, address: "127.0.0.1:7204", public_key: "{S4}"},
  {id: st-05, name: Riverside Chapel, address: "127.0.0.1:7205", public_key: "{S5}"},
  {id: st-06, name: Hillcrest Clinic, address: "127.0.0.1:7206", public_key: "{S6}"},
  {id: st-07, name: Eastfield Depot, address: "127.0.0.1:7207", public_key: "{S7}"}],
 officials: {open_quorum: 3, close_quorum: 3, members: [
  {id: returning-officer, name: Returning Officer, public_key: "{O1}"},
  {id: deputy-returning, name: Deputy Returning Officer, public_key: "{O2}"},
  {id: registrar, name: County Registrar, public_key: "{O3}"},
  {id: party-agent-a, name: Party Agent A, public_key: "{O4}"},
  {id: party-agent-b, name: Party Agent B, public_key: "{O5}"}]},
 dkg: {threshold: 3},
 voter_roll: {file: voter-roll.txt, voters: 1000, sha256: "{H}"},
 params: {max_block_txs: 1000, max_block_bytes: 4194304, dkg_deadline_height: 20, heartbeat_ms: 10000, max_clock_skew_ms: 10000}}
`

// Every field of the genesis is in the fingerprint: changing any one gives
// a different fingerprint (and no two changes give the same one).
func TestFingerprintCoversEveryField(t *testing.T) {
	base, _ := completedSample(t, "general.yaml")
	seen := map[[32]byte]string{mustGenesis(t, base).Fingerprint(): "base"}
	swap := func(n int, sw func(i, j int)) { sw(0, n-1) }
	for _, tc := range []struct {
		name   string
		change func(c *genesis.Config)
	}{
		{"election.id", func(c *genesis.Config) { c.Election.ID = "lakeshire-general-2026" }},
		{"election.title", func(c *genesis.Config) { c.Election.Title += "!" }},
		{"contest order", func(c *genesis.Config) {
			swap(len(c.Contests), func(i, j int) { c.Contests[i], c.Contests[j] = c.Contests[j], c.Contests[i] })
		}},
		{"contests[0].id", func(c *genesis.Config) { c.Contests[0].ID = "governor-x" }},
		{"contests[0].title", func(c *genesis.Config) { c.Contests[0].Title = "Governor of Lakeshire" }},
		{"contests[0].kind", func(c *genesis.Config) { c.Contests[0].Kind = genesis.KindApproval }},
		{"contests[1].limit", func(c *genesis.Config) { c.Contests[1].Limit = 2 }},
		{"candidate order", func(c *genesis.Config) {
			cs := c.Contests[0].Candidates
			cs[0], cs[1] = cs[1], cs[0]
		}},
		{"candidates[0].id", func(c *genesis.Config) { c.Contests[0].Candidates[0].ID = "h-osei" }},
		{"candidates[0].name", func(c *genesis.Config) { c.Contests[0].Candidates[0].Name = "Harriet A. Osei" }},
		{"referendum name", func(c *genesis.Config) { c.Contests[2].Candidates[0].Name = "Yes" }},
		{"station order", func(c *genesis.Config) { c.Stations[0], c.Stations[1] = c.Stations[1], c.Stations[0] }},
		{"stations[0].id", func(c *genesis.Config) { c.Stations[0].ID = "st-00" }},
		{"stations[0].name", func(c *genesis.Config) { c.Stations[0].Name = "Harbour High School" }},
		{"stations[0].address", func(c *genesis.Config) { c.Stations[0].Address = "127.0.0.1:7299" }},
		{"stations[0].public_key", func(c *genesis.Config) { c.Stations[0].PublicKey = testKey("other station") }},
		{"official order", func(c *genesis.Config) {
			m := c.Officials.Members
			m[0], m[1] = m[1], m[0]
		}},
		{"officials.open_quorum", func(c *genesis.Config) { c.Officials.OpenQuorum = 4 }},
		{"officials.close_quorum", func(c *genesis.Config) { c.Officials.CloseQuorum = 2 }},
		{"members[0].id", func(c *genesis.Config) { c.Officials.Members[0].ID = "ro" }},
		{"members[0].name", func(c *genesis.Config) { c.Officials.Members[0].Name = "The Returning Officer" }},
		{"members[0].public_key", func(c *genesis.Config) { c.Officials.Members[0].PublicKey = testKey("other official") }},
		{"dkg.threshold", func(c *genesis.Config) { c.DKG.Threshold = 4 }},
		{"voter_roll.voters", func(c *genesis.Config) { c.VoterRoll.Voters++ }},
		{"voter_roll.sha256", func(c *genesis.Config) { c.VoterRoll.SHA256[31] ^= 1 }},
		{"params.max_block_txs", func(c *genesis.Config) { c.Params.MaxBlockTxs++ }},
		{"params.max_block_bytes", func(c *genesis.Config) { c.Params.MaxBlockBytes++ }},
		{"params.dkg_deadline_height", func(c *genesis.Config) { c.Params.DKGDeadlineHeight++ }},
		{"params.heartbeat_ms", func(c *genesis.Config) { c.Params.HeartbeatMillis++ }},
		{"params.max_clock_skew_ms", func(c *genesis.Config) { c.Params.MaxClockSkewMillis++ }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := completedSample(t, "general.yaml")
			tc.change(cfg)
			fp := mustGenesis(t, cfg).Fingerprint()
			if other, dup := seen[fp]; dup {
				t.Fatalf("changing %s gives the same fingerprint as %s", tc.name, other)
			}
			seen[fp] = tc.name
		})
	}
	// The roll's file name is where the roll lives, not what it is.
	cfg, _ := completedSample(t, "general.yaml")
	cfg.VoterRoll.File = "elsewhere/roll.txt"
	if mustGenesis(t, cfg).Fingerprint() != mustGenesis(t, base).Fingerprint() {
		t.Error("voter_roll.file changed the fingerprint")
	}
}

// Strings are taken as written: a plain 007 is the id "007", a plain yes is
// "yes" (not a boolean), 1e3 is "1e3".
func TestScalarsTakenAsWritten(t *testing.T) {
	text := validYAML(t, 4)
	text = edit(t, text, "  - id: mayor\n", "  - id: 007\n")
	text = edit(t, text, "        name: Ann\n", "        name: 1e3\n")
	text = edit(t, text, "  title: Test election\n", "  title: true\n")
	cfg, _, err := genesis.ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Contests[0].ID != "007" || cfg.Contests[0].Candidates[0].Name != "1e3" || cfg.Election.Title != "true" {
		t.Errorf("got %q %q %q", cfg.Contests[0].ID, cfg.Contests[0].Candidates[0].Name, cfg.Election.Title)
	}
}

func TestRollPath(t *testing.T) {
	cfg := loadTemplate(t, "mayor.yaml")
	cfg.VoterRoll.File = "rolls/mayor.txt"
	got := cfg.RollPath(filepath.Join("x", "y", "mayor.yaml"))
	if want := filepath.Join("x", "y", "rolls", "mayor.txt"); got != want {
		t.Errorf("RollPath = %q, want %q", got, want)
	}
}

// Marshal quotes whatever YAML would otherwise read as something else, so
// any valid text survives the round trip.
func TestMarshalKeepsTrickyText(t *testing.T) {
	tricky := []string{
		"yes", "no", "true", "null", "~", "1e3", "0x1F", "007", "1_000", ".inf", "-", "?", ":",
		"#hash", "a #b", "a: b", "- x", "'quote", `"dq`, `back\slash`, "[x]", "{x}", "&a", "*a", "!tag",
		"%x", "@x", "`x", "|", ">", "x,y", "ünïcödé ✓", "a  b", "<html> & co", "2025-01-01",
	}
	cfg, _ := completedSample(t, "mayor.yaml")
	for i, s := range tricky {
		cand := &cfg.Contests[0].Candidates[i%4]
		cand.Name = s
		if i%4 == 3 || i == len(tricky)-1 {
			cfg.Election.Title = s
			text, err := cfg.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, _, err := genesis.ParseConfig(text)
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			if !reflect.DeepEqual(back, cfg) {
				t.Fatalf("round trip changed the config:\n%s", text)
			}
		}
	}
}

// A leading byte order mark is not part of the first key.
func TestByteOrderMark(t *testing.T) {
	plain := validYAML(t, 4)
	a, _, err := genesis.ParseConfig([]byte("\uFEFF" + plain))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := genesis.ParseConfig([]byte(plain))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("BOM changed the config")
	}
}
