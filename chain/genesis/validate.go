package genesis

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-yaml/token"
	"github.com/urna-vote/urna/ballot"
)

// validateOptions says which of the config's rules apply.
type validateOptions struct {
	// checkFile checks voter_roll.file (a config has one, a genesis not).
	checkFile bool
	// requireComplete rejects a template (FromConfig, Decode, Complete).
	requireComplete bool
	// pos finds the YAML token of a path (nil: positions unknown).
	pos func(path string) *token.Token
}

// checker collects rule violations with their paths.
type checker struct {
	opts validateOptions
	errs ErrorList
}

func (c *checker) add(path string, err error) *FieldError {
	if len(c.errs) >= maxErrors {
		return nil
	}
	var tok *token.Token
	if c.opts.pos != nil {
		tok = c.opts.pos(path)
	}
	e := newFieldError(path, tok, err)
	c.errs = append(c.errs, e)
	return e
}

// dup reports that the value at path was already seen at first.
func (c *checker) dup(path, first string, err error) {
	e := c.add(path, err)
	if e == nil {
		return
	}
	e.Other = first
	if c.opts.pos != nil {
		if tok := c.opts.pos(first); tok != nil && tok.Position != nil {
			e.OtherLine = tok.Position.Line
		}
	}
}

// validate checks every rule on cfg, in the documented field order, and
// says which form it is. The same function serves configs (YAML or Go) and
// decoded genesis files, so both obey exactly the same rules.
func validate(cfg *Config, opts validateOptions) (Form, ErrorList) {
	c := &checker{opts: opts}
	c.checkID("election.id", cfg.Election.ID)
	c.checkText("election.title", cfg.Election.Title)
	c.checkContests(cfg)
	c.checkStations(cfg)
	c.checkOfficials(cfg)
	c.checkThreshold(cfg)
	c.checkRoll(cfg)
	c.checkParams(cfg)
	form := c.checkForm(cfg)
	if len(c.errs) > 0 {
		return 0, c.errs
	}
	return form, nil
}

func (c *checker) checkContests(cfg *Config) {
	if n := len(cfg.Contests); n < 1 || n > ballot.MaxContests {
		c.add("contests", fmt.Errorf("%w: %d contests, want 1..%d", ErrCount, n, ballot.MaxContests))
		if n > ballot.MaxContests {
			return
		}
	}
	before := len(c.errs)
	ids := map[string]string{}
	for i, ct := range cfg.Contests {
		p := fmt.Sprintf("contests[%d]", i)
		if c.checkID(p+".id", ct.ID) {
			if first, seen := ids[ct.ID]; seen {
				c.dup(p+".id", first, fmt.Errorf("%w: contest id %q", ErrDuplicate, ct.ID))
			} else {
				ids[ct.ID] = p + ".id"
			}
		}
		c.checkText(p+".title", ct.Title)
		c.checkContest(p, ct)
	}
	if len(c.errs) > before {
		return
	}
	// Whatever else package ballot requires of a manifest (it is the
	// judge of what a ballot can be made for) holds too.
	m := manifestOf(cfg, [32]byte{})
	if err := m.Validate(); err != nil {
		c.add("contests", fmt.Errorf("%w: %w", ErrCount, err))
	}
}

func (c *checker) checkContest(p string, ct Contest) {
	n := len(ct.Candidates)
	if n < 1 || n > ballot.MaxCandidates {
		c.add(p+".candidates", fmt.Errorf("%w: %d candidates, want 1..%d", ErrCount, n, ballot.MaxCandidates))
		if n > ballot.MaxCandidates {
			return
		}
	}
	ids := map[string]string{}
	for j, cand := range ct.Candidates {
		q := fmt.Sprintf("%s.candidates[%d]", p, j)
		if c.checkID(q+".id", cand.ID) {
			if first, seen := ids[cand.ID]; seen {
				c.dup(q+".id", first, fmt.Errorf("%w: candidate id %q", ErrDuplicate, cand.ID))
			} else {
				ids[cand.ID] = q + ".id"
			}
		}
		c.checkText(q+".name", cand.Name)
	}
	switch ct.Kind {
	case KindPlurality:
		if ct.Limit != 1 {
			c.add(p+".limit", fmt.Errorf("%w: a plurality contest has limit 1, not %d", ErrLimit, ct.Limit))
		}
	case KindApproval:
		if ct.Limit < 1 || ct.Limit > n {
			c.add(p+".limit", fmt.Errorf("%w: an approval contest with %d candidates needs 1 ≤ limit ≤ %d, not %d", ErrLimit, n, n, ct.Limit))
		}
	case KindReferendum:
		if n != 2 || ct.Candidates[0].ID != "yes" || ct.Candidates[1].ID != "no" {
			ids := make([]string, n)
			for j, cand := range ct.Candidates {
				ids[j] = cand.ID
			}
			c.add(p+".candidates", fmt.Errorf("%w (in that order, or leave candidates out), not %q", ErrReferendum, ids))
		}
		if ct.Limit != 1 {
			c.add(p+".limit", fmt.Errorf("%w: a referendum has limit 1, not %d", ErrLimit, ct.Limit))
		}
	default:
		c.add(p+".kind", fmt.Errorf("%w %q: want plurality, approval or referendum", ErrBadKind, ct.Kind))
	}
}

func (c *checker) checkStations(cfg *Config) {
	if n := len(cfg.Stations); n < 1 || n > MaxStations {
		c.add("stations", fmt.Errorf("%w: %d stations, want 1..%d", ErrCount, n, MaxStations))
		if n > MaxStations {
			return
		}
	}
	ids := map[string]string{}
	addrs := map[string]string{}
	for i, s := range cfg.Stations {
		p := fmt.Sprintf("stations[%d]", i)
		if c.checkID(p+".id", s.ID) {
			if first, seen := ids[s.ID]; seen {
				c.dup(p+".id", first, fmt.Errorf("%w: station id %q", ErrDuplicate, s.ID))
			} else {
				ids[s.ID] = p + ".id"
			}
		}
		c.checkText(p+".name", s.Name)
		if c.checkAddress(p+".address", s.Address) {
			if first, seen := addrs[s.Address]; seen {
				c.dup(p+".address", first, fmt.Errorf("%w: address %q", ErrDuplicate, s.Address))
			} else {
				addrs[s.Address] = p + ".address"
			}
		}
	}
}

func (c *checker) checkOfficials(cfg *Config) {
	o := &cfg.Officials
	n := len(o.Members)
	if n < 1 || n > MaxOfficials {
		c.add("officials.members", fmt.Errorf("%w: %d officials, want 1..%d", ErrCount, n, MaxOfficials))
		if n > MaxOfficials {
			return
		}
	}
	if o.OpenQuorum < 1 || o.OpenQuorum > n {
		c.add("officials.open_quorum", fmt.Errorf("%w: %d with %d officials, want 1..%d", ErrQuorum, o.OpenQuorum, n, n))
	}
	if o.CloseQuorum < 1 || o.CloseQuorum > n {
		c.add("officials.close_quorum", fmt.Errorf("%w: %d with %d officials, want 1..%d", ErrQuorum, o.CloseQuorum, n, n))
	}
	ids := map[string]string{}
	for i, m := range o.Members {
		p := fmt.Sprintf("officials.members[%d]", i)
		if c.checkID(p+".id", m.ID) {
			if first, seen := ids[m.ID]; seen {
				c.dup(p+".id", first, fmt.Errorf("%w: official id %q", ErrDuplicate, m.ID))
			} else {
				ids[m.ID] = p + ".id"
			}
		}
		c.checkText(p+".name", m.Name)
	}
}

func (c *checker) checkThreshold(cfg *Config) {
	n, t := len(cfg.Stations), cfg.DKG.Threshold
	if n < 1 || n > MaxStations {
		return // already reported; no bound to check against
	}
	f := faults(n)
	// kyber's VSS needs t ≥ 2, so that is the least whatever f is.
	lo, hi := max(f+1, 2), n-f
	if lo > hi {
		c.add("dkg.threshold", fmt.Errorf("%w: no threshold works with n = %d stations, f = %d: f < t ≤ n−f and t ≥ 2 leave %d ≤ t ≤ %d", ErrThreshold, n, f, lo, hi))
		return
	}
	if t < lo || t > hi {
		c.add("dkg.threshold", fmt.Errorf("%w: t = %d, but n = %d stations, f = ⌊(n−1)/3⌋ = %d need f < t ≤ n−f and t ≥ 2, i.e. %d ≤ t ≤ %d", ErrThreshold, t, n, f, lo, hi))
		return
	}
	// Package ballot runs the DKG and is the judge of what it accepts.
	if err := ballot.CheckThreshold(n, t); err != nil {
		c.add("dkg.threshold", fmt.Errorf("%w: %w", ErrThreshold, err))
	}
}

func (c *checker) checkRoll(cfg *Config) {
	r := &cfg.VoterRoll
	if c.opts.checkFile {
		c.checkFileName("voter_roll.file", r.File)
	}
	if r.Voters < 1 || r.Voters > ballot.MaxRollVoters {
		c.add("voter_roll.voters", fmt.Errorf("%w: %d, want 1..%d", ErrVoters, r.Voters, ballot.MaxRollVoters))
	}
}

func (c *checker) checkParams(cfg *Config) {
	for _, r := range paramRules {
		if v := *r.get(&cfg.Params); v < r.min || v > r.max {
			c.add("params."+r.name, fmt.Errorf("%w: %d, want %d..%d", ErrBadParam, v, r.min, r.max))
		}
	}
}

// checkForm decides template or complete from which keys are present
// (nil = absent), in the documented order, and checks the keys of a
// complete config.
func (c *checker) checkForm(cfg *Config) Form {
	type keyField struct {
		path string
		key  []byte
	}
	var fields []keyField
	for i, s := range cfg.Stations {
		fields = append(fields, keyField{fmt.Sprintf("stations[%d].public_key", i), s.PublicKey})
	}
	for i, m := range cfg.Officials.Members {
		fields = append(fields, keyField{fmt.Sprintf("officials.members[%d].public_key", i), m.PublicKey})
	}
	present, firstPresent, firstMissing := 0, "", ""
	for _, f := range fields {
		if f.key != nil {
			present++
			if firstPresent == "" {
				firstPresent = f.path
			}
		} else if firstMissing == "" {
			firstMissing = f.path
		}
	}
	hasHash := cfg.VoterRoll.SHA256 != nil
	switch {
	case present == 0 && !hasHash:
		if c.opts.requireComplete {
			c.add("", fmt.Errorf("%w: it has no public keys and no voter roll hash (run urna init)", ErrNotComplete))
		}
		return FormTemplate
	case present < len(fields) || !hasHash:
		missing, other := firstMissing, firstPresent
		if missing == "" {
			missing = "voter_roll.sha256"
		}
		if other == "" {
			other = "voter_roll.sha256"
		}
		c.add(missing, fmt.Errorf("%w: missing, but %s is present: a template leaves out every public key and voter_roll.sha256, a complete config has them all", ErrMixedForm, other))
		return 0
	}
	seen := map[string]string{}
	for _, f := range fields {
		if !c.checkKey(f.path, f.key) {
			continue
		}
		if first, dup := seen[string(f.key)]; dup {
			c.dup(f.path, first, fmt.Errorf("%w: public key %x is used twice", ErrDuplicate, f.key))
		} else {
			seen[string(f.key)] = f.path
		}
	}
	if n := len(cfg.VoterRoll.SHA256); n != sha256.Size {
		c.add("voter_roll.sha256", fmt.Errorf("%w: %d bytes, want %d", ErrBadHash, n, sha256.Size))
	}
	return FormComplete
}

// checkKey accepts only keys that are canonical encodings of points of the
// prime-order subgroup, not of small order: crypto/ed25519 verifies
// signatures under a small-order key that anyone can forge, and a station's
// key is also its DKG key.
func (c *checker) checkKey(p string, k []byte) bool {
	if len(k) != ed25519.PublicKeySize {
		c.add(p, fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(k), ed25519.PublicKeySize))
		return false
	}
	if _, err := ballot.DecodePoint(k); err != nil {
		c.add(p, fmt.Errorf("%w: %w", ErrBadKey, err))
		return false
	}
	return true
}

// checkID: 1..64 bytes of [a-z0-9-], the first a letter or digit. Ids name
// directories and files (station homes, official keys), so nothing else.
func (c *checker) checkID(p, id string) bool {
	if err := checkID(id); err != nil {
		c.add(p, err)
		return false
	}
	return true
}

func checkID(id string) error {
	if id == "" || len(id) > ballot.MaxIDLength {
		return fmt.Errorf("%w %q: want 1..%d bytes", ErrBadID, id, ballot.MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		ok := b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' && i > 0
		if !ok {
			return fmt.Errorf("%w %q: byte %d: want lowercase letters, digits and '-' (not first)", ErrBadID, id, i)
		}
	}
	return nil
}

// checkText: names and titles are 1..256 bytes of valid UTF-8 with no
// control characters, no U+2028/U+2029 and no leading or trailing space.
// Besides keeping displays honest, this leaves '"' and '\' as the only
// characters the canonical JSON escapes.
func (c *checker) checkText(p, s string) {
	if err := checkText(s); err != nil {
		c.add(p, err)
	}
}

func checkText(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrBadText)
	case len(s) > MaxTextLength:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadText, len(s), MaxTextLength)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: not valid UTF-8", ErrBadText)
	}
	for i, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w: control or line-separator character %U at byte %d", ErrBadText, r, i)
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return fmt.Errorf("%w: leading or trailing space in %q", ErrBadText, s)
	}
	return nil
}

// checkAddress: host:port in one spelling only, so that one station has one
// address: a lowercase DNS name or an IP address in its canonical form
// (IPv6 in brackets), a decimal port 1..65535 without leading zeros.
func (c *checker) checkAddress(p, addr string) bool {
	if err := checkAddress(addr); err != nil {
		c.add(p, err)
		return false
	}
	return true
}

func checkAddress(addr string) error {
	if len(addr) > MaxAddressLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadAddress, len(addr), MaxAddressLen)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w %q: want host:port", ErrBadAddress, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return fmt.Errorf("%w %q: port must be a decimal number 1..65535", ErrBadAddress, addr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" || ip.String() != host {
			return fmt.Errorf("%w %q: write the IP address as %s", ErrBadAddress, addr, ip.WithZone(""))
		}
	} else if !isHostname(host) {
		return fmt.Errorf("%w %q: host must be an IP address or a lowercase DNS name", ErrBadAddress, addr)
	}
	if net.JoinHostPort(host, port) != addr {
		return fmt.Errorf("%w %q: write it as %s", ErrBadAddress, addr, net.JoinHostPort(host, port))
	}
	return nil
}

func isHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
				return false
			}
		}
	}
	return true
}

// checkFileName: a relative, '/'-separated path without control characters
// or backslashes, so that it means the same on every system.
func (c *checker) checkFileName(p, name string) {
	var problem string
	switch {
	case name == "":
		problem = "empty"
	case len(name) > MaxFileNameLen:
		problem = fmt.Sprintf("%d bytes, at most %d", len(name), MaxFileNameLen)
	case !utf8.ValidString(name):
		problem = "not valid UTF-8"
	case strings.ContainsFunc(name, unicode.IsControl) || strings.Contains(name, `\`):
		problem = `control character or '\' (use '/')`
	case path.IsAbs(name) || filepath.IsAbs(name) || filepath.VolumeName(name) != "":
		problem = "must be relative to the config file"
	}
	if problem != "" {
		c.add(p, fmt.Errorf("%w %q: %s", ErrBadPath, name, problem))
	}
}

// manifestOf is the ballot package's view of the contests.
func manifestOf(cfg *Config, fingerprint [32]byte) ballot.Manifest {
	m := ballot.Manifest{ElectionID: cfg.Election.ID, Fingerprint: fingerprint, Contests: make([]ballot.Contest, len(cfg.Contests))}
	for i, ct := range cfg.Contests {
		ids := make([]string, len(ct.Candidates))
		for j, cand := range ct.Candidates {
			ids[j] = cand.ID
		}
		m.Contests[i] = ballot.Contest{ID: ct.ID, Candidates: ids, Limit: ct.Limit}
	}
	return m
}
