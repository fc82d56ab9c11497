package genesis

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"path/filepath"

	"github.com/urna-vote/urna/ballot"
)

// Config is an election as its YAML config describes it, after parsing:
// every optional field filled in (referendum candidates, plurality and
// referendum limits, params). A Config is a TEMPLATE when no public key and
// no roll hash is present, COMPLETE when all are; FromConfig takes only a
// complete one. Build one in Go with DefaultParams() for Params.
type Config struct {
	Election  Election
	Contests  []Contest // in ballot order
	Stations  []Station // in validator order
	Officials Officials
	DKG       DKG
	VoterRoll VoterRoll
	Params    Params
}

// Election names the election.
type Election struct {
	ID    string // [a-z0-9-], 1..64 bytes, starting with a letter or digit
	Title string
}

// Kind is the kind of a contest.
type Kind string

// The contest kinds.
const (
	// KindPlurality: choose one candidate (limit 1).
	KindPlurality Kind = "plurality"
	// KindApproval: choose up to limit candidates (1 ≤ limit ≤ candidates).
	KindApproval Kind = "approval"
	// KindReferendum: a yes/no question; candidates "yes" and "no" in that
	// order, limit 1.
	KindReferendum Kind = "referendum"
)

// Contest is one question on the ballot.
type Contest struct {
	ID         string
	Title      string
	Kind       Kind
	Limit      int // most selections a voter may mark
	Candidates []Candidate
}

// Candidate is one choice in a contest.
type Candidate struct {
	ID   string
	Name string
}

// Station is a polling station: a node and a validator.
type Station struct {
	ID        string
	Name      string
	Address   string            // host:port where its node listens
	PublicKey ed25519.PublicKey // nil in a template
}

// Officials are the people whose signatures open and close the polls.
type Officials struct {
	OpenQuorum  int // distinct members' approvals needed to open the polls
	CloseQuorum int // ... to close them
	Members     []Official
}

// Official is one election official.
type Official struct {
	ID        string
	Name      string
	PublicKey ed25519.PublicKey // nil in a template
}

// DKG holds the distributed key generation settings.
type DKG struct {
	// Threshold t: t stations' decryption shares decrypt the tally; fewer
	// cannot. f < t ≤ n − f with f = ⌊(n−1)/3⌋, and t ≥ 2.
	Threshold int
}

// VoterRoll names the public voter roll (see ballot.Roll).
type VoterRoll struct {
	// File is the roll's path relative to the config file, with '/'
	// separators. It is not part of the genesis: the genesis names the roll
	// by its hash, wherever the file lives.
	File string
	// Voters is the number of credentials on the roll.
	Voters int
	// SHA256 is ballot.Roll.Hash() of the roll; nil in a template.
	SHA256 []byte
}

// Params are the rules every station must agree on beyond the election
// itself. Every field has a default (DefaultParams) and a range (see
// docs/config.md and paramRules).
type Params struct {
	// MaxBlockTxs is the most transactions in one block.
	MaxBlockTxs int
	// MaxBlockBytes is the most bytes of encoded transactions in one block.
	MaxBlockBytes int
	// DKGDeadlineHeight is the chain height past which the DKG completes
	// with the stations that took part (kyber's SetTimeout, then
	// ThresholdCertified), so a silent station cannot stall the election.
	DKGDeadlineHeight int
	// HeartbeatMillis is how long a proposer with no transactions waits
	// after the last block before proposing an empty one.
	HeartbeatMillis int
	// MaxClockSkewMillis is how far a proposed block's time may be ahead of
	// a validator's own clock when it checks the proposal.
	MaxClockSkewMillis int
}

// DefaultParams returns the params a config gets when it leaves them out.
func DefaultParams() Params {
	return Params{
		MaxBlockTxs:        1000,
		MaxBlockBytes:      4 << 20,
		DKGDeadlineHeight:  20,
		HeartbeatMillis:    10_000,
		MaxClockSkewMillis: 10_000,
	}
}

// paramRules lists every param with its YAML/JSON name and range, in the
// documented order; validation and docs/config.md follow it.
var paramRules = []struct {
	name     string
	get      func(*Params) *int
	min, max int
}{
	{"max_block_txs", func(p *Params) *int { return &p.MaxBlockTxs }, 1, 100_000},
	{"max_block_bytes", func(p *Params) *int { return &p.MaxBlockBytes }, 1 << 20, 64 << 20},
	{"dkg_deadline_height", func(p *Params) *int { return &p.DKGDeadlineHeight }, 3, 1_000_000},
	{"heartbeat_ms", func(p *Params) *int { return &p.HeartbeatMillis }, 100, 3_600_000},
	{"max_clock_skew_ms", func(p *Params) *int { return &p.MaxClockSkewMillis }, 100, 600_000},
}

// Bounds on the shape of an election beyond those of package ballot
// (ballot.MaxContests, ballot.MaxCandidates, ballot.MaxIDLength,
// ballot.MaxRollVoters), so that a hostile config or genesis cannot make a
// reader allocate without bound.
const (
	MaxStations    = 64   // stations (validators)
	MaxOfficials   = 64   // officials
	MaxTextLength  = 256  // bytes of a title or name
	MaxAddressLen  = 261  // bytes of host:port (253-byte name, ':', 5 digits, brackets)
	MaxFileNameLen = 1024 // bytes of voter_roll.file
)

// Form says which of the two forms of a config was read.
type Form int

// The two forms.
const (
	// FormTemplate has no public keys and no roll hash: the files in
	// election-configs/ are templates that urna init completes.
	FormTemplate Form = iota + 1
	// FormComplete has every public key and the roll hash.
	FormComplete
)

func (f Form) String() string {
	switch f {
	case FormTemplate:
		return "template"
	case FormComplete:
		return "complete"
	}
	return fmt.Sprintf("Form(%d)", int(f))
}

// F is the number of faulty stations tolerated: ⌊(n−1)/3⌋.
func (c *Config) F() int { return faults(len(c.Stations)) }

func faults(n int) int {
	if n < 1 {
		return 0
	}
	return (n - 1) / 3
}

// Validate checks every rule (docs/config.md) and returns the form.
func (c *Config) Validate() (Form, error) {
	form, errs := validate(c, validateOptions{checkFile: true})
	if errs != nil {
		return 0, errs
	}
	return form, nil
}

// Complete fills a template with the stations' and officials' public keys
// (in config order) and the voter roll (its count and hash), then checks the
// result as a complete config. On error the config is left unchanged. The
// roll must belong to this election; its size replaces VoterRoll.Voters.
func (c *Config) Complete(stationKeys, officialKeys []ed25519.PublicKey, roll *ballot.Roll) error {
	if len(stationKeys) != len(c.Stations) {
		return fail("stations", nil, fmt.Errorf("%w: %d station keys for %d stations", ErrCount, len(stationKeys), len(c.Stations)))
	}
	if len(officialKeys) != len(c.Officials.Members) {
		return fail("officials.members", nil, fmt.Errorf("%w: %d official keys for %d officials", ErrCount, len(officialKeys), len(c.Officials.Members)))
	}
	if roll == nil {
		return fail("voter_roll", nil, fmt.Errorf("%w: no roll", ErrMissingField))
	}
	if roll.ElectionID != c.Election.ID {
		return fail("voter_roll", nil, fmt.Errorf("%w: roll of %q, config of %q", ErrRollElection, roll.ElectionID, c.Election.ID))
	}
	next := c.clone()
	for i := range next.Stations {
		next.Stations[i].PublicKey = bytes.Clone(stationKeys[i])
	}
	for i := range next.Officials.Members {
		next.Officials.Members[i].PublicKey = bytes.Clone(officialKeys[i])
	}
	h := roll.Hash()
	next.VoterRoll.Voters = roll.Len()
	next.VoterRoll.SHA256 = h[:]
	if _, errs := validate(next, validateOptions{checkFile: true, requireComplete: true}); errs != nil {
		return errs
	}
	*c = *next
	return nil
}

// RollPath is the voter roll's file path for a config read from configPath.
func (c *Config) RollPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), filepath.FromSlash(c.VoterRoll.File))
}

// Clone returns a deep copy, sharing nothing with c.
func (c *Config) Clone() *Config { return c.clone() }

func (c *Config) clone() *Config {
	n := *c
	n.Contests = make([]Contest, len(c.Contests))
	for i, ct := range c.Contests {
		ct.Candidates = append([]Candidate(nil), ct.Candidates...)
		n.Contests[i] = ct
	}
	n.Stations = make([]Station, len(c.Stations))
	for i, s := range c.Stations {
		s.PublicKey = cloneKey(s.PublicKey)
		n.Stations[i] = s
	}
	n.Officials.Members = make([]Official, len(c.Officials.Members))
	for i, o := range c.Officials.Members {
		o.PublicKey = cloneKey(o.PublicKey)
		n.Officials.Members[i] = o
	}
	if c.VoterRoll.SHA256 != nil {
		n.VoterRoll.SHA256 = append([]byte{}, c.VoterRoll.SHA256...)
	}
	return &n
}

// cloneKey copies a key, keeping nil (absent) apart from empty (present).
func cloneKey(k ed25519.PublicKey) ed25519.PublicKey {
	if k == nil {
		return nil
	}
	return append(ed25519.PublicKey{}, k...)
}
