package genesis

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/urna-vote/urna/ballot"
)

// Limits on a YAML config, checked on the tokens before the parser sees
// them. The YAML parser's memory and time grow faster than linearly with
// nesting depth and with the number of keys in one mapping (16,000 nested
// '[' take it 400+ MiB; 100,000 keys in one mapping take it half a minute),
// so a hostile file must be stopped before it is parsed. The largest
// election the other bounds allow fits well within these.
const (
	// MaxConfigBytes is the largest config file accepted.
	MaxConfigBytes = 512 << 10
	// MaxConfigTokens is the most YAML tokens (keys, values, punctuation,
	// comments) in a config. Before lexing, a config may hold at most twice
	// as many indicator characters (see yamlIndicators).
	MaxConfigTokens = 20_000
	// maxFlowDepth is the deepest nesting of [ ] and { }.
	maxFlowDepth = 16
	// maxIndentColumn is the largest column at which a block-style line may
	// start; with maxLineOpeners it bounds block nesting depth.
	maxIndentColumn = 64
	// maxLineOpeners is the most '-' and ':' indicators on one block line.
	maxLineOpeners = 8
)

// Field names, in the documented order.
var (
	configKeys    = []string{"election", "contests", "stations", "officials", "dkg", "voter_roll", "params"}
	electionKeys  = []string{"id", "title"}
	contestKeys   = []string{"id", "title", "kind", "limit", "candidates"}
	candidateKeys = []string{"id", "name"}
	stationKeys   = []string{"id", "name", "address", "public_key"}
	officialsKeys = []string{"open_quorum", "close_quorum", "members"}
	officialKeys  = []string{"id", "name", "public_key"}
	dkgKeys       = []string{"threshold"}
	rollKeys      = []string{"file", "voters", "sha256"}
)

func paramKeys() []string {
	keys := make([]string, len(paramRules))
	for i, r := range paramRules {
		keys[i] = r.name
	}
	return keys
}

// LoadConfig reads and parses a config file (see ParseConfig); errors carry
// the file name.
func LoadConfig(path string) (*Config, Form, error) {
	data, err := readFile(path, MaxConfigBytes)
	if err != nil {
		return nil, 0, err
	}
	cfg, form, err := ParseConfig(data)
	if err != nil {
		return nil, 0, withFile(err, path)
	}
	return cfg, form, nil
}

// readFile reads at most limit bytes, failing with ErrTooLarge beyond.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, withFile(fail("", nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)), path)
	}
	return data, nil
}

// ParseConfig parses a YAML election config strictly and checks every rule
// (docs/config.md). It says whether it read a template or a complete
// config. On error it returns an ErrorList of *FieldError: the first
// structural problem (syntax, unknown field, wrong type, missing field), or
// every rule violation found (up to 20).
//
// Beyond the YAML library's parser, the reading is this package's own walk
// of the syntax tree, because the library's struct decoder silently turns
// 1.5 into 1 and "2" into 2, reports the first of several unknown fields in
// random order, and knows no field paths. Anchors, aliases, tags, merge keys
// and multiple documents are refused; a null value is the same as an absent
// field; string fields take a scalar's text exactly as written.
func ParseConfig(data []byte) (*Config, Form, error) {
	d := &decoder{pos: map[string]*token.Token{}}
	cfg, err := d.decode(data)
	if err != nil {
		return nil, 0, ErrorList{err}
	}
	form, errs := validate(cfg, validateOptions{checkFile: true, pos: d.position})
	if errs != nil {
		return nil, 0, errs
	}
	return cfg, form, nil
}

// decoder walks the YAML syntax tree into a Config, remembering where each
// field was so that later rule violations can point at it.
type decoder struct {
	pos map[string]*token.Token // field path → token of its value
}

// position is the token of path, or of its nearest enclosing field.
func (d *decoder) position(path string) *token.Token {
	for {
		if tok, ok := d.pos[path]; ok {
			return tok
		}
		if path == "" {
			return nil
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

func (d *decoder) decode(data []byte) (*Config, *FieldError) {
	if len(data) > MaxConfigBytes {
		return nil, newFieldError("", nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxConfigBytes))
	}
	// A byte order mark may open a YAML stream; it is not content.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		return nil, newFieldError("", nil, fmt.Errorf("%w: not valid UTF-8", ErrSyntax))
	}
	// About one token per indicator; twice the token limit leaves room.
	if n := indicatorCount(data); n > 2*MaxConfigTokens {
		return nil, newFieldError("", nil, fmt.Errorf("%w: %d YAML indicator characters, at most %d", ErrTooLarge, n, 2*MaxConfigTokens))
	}
	tokens := lexer.Tokenize(string(data))
	if err := screenTokens(tokens); err != nil {
		return nil, err
	}
	// Duplicate keys are this package's to report, with their field path.
	file, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			return nil, newFieldError("", ye.GetToken(), fmt.Errorf("%w: %s", ErrSyntax, ye.GetMessage()))
		}
		return nil, newFieldError("", nil, fmt.Errorf("%w: %v", ErrSyntax, err))
	}
	var body ast.Node
	for i, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, newFieldError("", tokenOf(doc.Body), fmt.Errorf("%w: more than one YAML document (document %d)", ErrUnsupported, i+1))
		}
		body = doc.Body
	}
	if body == nil {
		return nil, newFieldError("", nil, fmt.Errorf("%w: the config is empty", ErrMissingField))
	}
	return d.config(body)
}

// yamlIndicators are the bytes that can start or end a YAML token (besides
// the text between them). Counting them bounds the number of tokens before
// the lexer runs: lexing a hostile 512 KiB of '[' would allocate some
// 150 MiB of tokens.
const yamlIndicators = "[]{},:-?&*!|>%@`#'\"\n\r"

func indicatorCount(data []byte) int {
	n := 0
	for _, b := range data {
		if strings.IndexByte(yamlIndicators, b) >= 0 {
			n++
		}
	}
	return n
}

// screenTokens enforces the limits above on the token stream.
func screenTokens(tokens token.Tokens) *FieldError {
	if len(tokens) > MaxConfigTokens {
		return newFieldError("", nil, fmt.Errorf("%w: %d YAML tokens, at most %d", ErrTooLarge, len(tokens), MaxConfigTokens))
	}
	flow, line, openers := 0, 0, 0
	for _, tk := range tokens {
		if tk == nil || tk.Position == nil || tk.Type == token.CommentType {
			continue
		}
		if tk.Position.Line != line {
			line, openers = tk.Position.Line, 0
			if flow == 0 && tk.Position.Column > maxIndentColumn {
				return newFieldError("", tk, fmt.Errorf("%w: line indented to column %d, at most %d", ErrTooLarge, tk.Position.Column, maxIndentColumn))
			}
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
			if flow > maxFlowDepth {
				return newFieldError("", tk, fmt.Errorf("%w: [ ] and { } nested more than %d deep", ErrTooLarge, maxFlowDepth))
			}
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		case token.SequenceEntryType, token.MappingValueType, token.MappingKeyType:
			if flow == 0 {
				openers++
				if openers > maxLineOpeners {
					return newFieldError("", tk, fmt.Errorf("%w: more than %d '-' or ':' on one line", ErrTooLarge, maxLineOpeners))
				}
			}
		}
	}
	return nil
}

// tokenOf is the token that best locates a node: a mapping's first key, a
// sequence's start, a scalar's own token.
func tokenOf(n ast.Node) *token.Token {
	switch v := n.(type) {
	case nil:
		return nil
	case *ast.MappingNode:
		if len(v.Values) > 0 && v.Values[0] != nil && v.Values[0].Key != nil {
			return v.Values[0].Key.GetToken()
		}
		return v.Start
	case *ast.MappingValueNode:
		if v.Key != nil {
			return v.Key.GetToken()
		}
		return v.Start
	case *ast.SequenceNode:
		return v.Start
	case *ast.LiteralNode:
		return v.Start
	}
	return n.GetToken()
}

// object is one YAML mapping with its present (non-null) fields.
type object struct {
	path string
	tok  *token.Token
	vals map[string]ast.Node
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var plainKey = regexp.MustCompile(`^[a-z0-9_]+$`)

// keyPath is join for a key that may be anything (an unknown field).
func keyPath(path, key string) string {
	if plainKey.MatchString(key) {
		return join(path, key)
	}
	return fmt.Sprintf("%s[%s]", path, strconv.Quote(key))
}

// plain refuses the YAML features an election config does without:
// anchors and aliases (a bomb of repeated expansion and a way to make two
// places silently the same), tags (types are the schema's business) and
// merge keys.
func plain(n ast.Node, path string) *FieldError {
	var what string
	switch n.(type) {
	case *ast.AnchorNode:
		what = "anchors (&name)"
	case *ast.AliasNode:
		what = "aliases (*name)"
	case *ast.TagNode:
		what = "tags (!tag)"
	case *ast.MergeKeyNode:
		what = "merge keys (<<)"
	case *ast.MappingKeyNode:
		what = "complex keys (?)"
	case *ast.DirectiveNode:
		what = "directives (%)"
	default:
		return nil
	}
	return newFieldError(path, tokenOf(n), fmt.Errorf("%w: %s are not allowed", ErrUnsupported, what))
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// describe names a node's type for "want X, found Y" errors.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("the string %q", v.Value)
	case *ast.LiteralNode:
		return "a block string"
	case *ast.NullNode:
		return "null"
	case nil:
		return "nothing"
	}
	if tok := n.GetToken(); tok != nil {
		return fmt.Sprintf("%s %q", n.Type().YAMLName(), tok.Value)
	}
	return n.Type().YAMLName()
}

// object reads a mapping at path whose keys must be among keys.
func (d *decoder) object(n ast.Node, path string, keys []string) (*object, *FieldError) {
	if err := plain(n, path); err != nil {
		return nil, err
	}
	var entries []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		entries = v.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{v}
	default:
		return nil, newFieldError(path, tokenOf(n), fmt.Errorf("%w: want a mapping (fields %s), found %s", ErrType, strings.Join(keys, ", "), describe(n)))
	}
	o := &object{path: path, tok: tokenOf(n), vals: map[string]ast.Node{}}
	if path != "" {
		d.pos[path] = o.tok
	}
	first := map[string]*token.Token{}
	for _, e := range entries {
		if e == nil || e.Key == nil {
			return nil, newFieldError(path, o.tok, fmt.Errorf("%w: malformed mapping entry", ErrSyntax))
		}
		if err := plain(e.Key, path); err != nil {
			return nil, err
		}
		k, ok := e.Key.(*ast.StringNode)
		if !ok {
			return nil, newFieldError(path, e.Key.GetToken(), fmt.Errorf("%w: a key must be a field name, found %s", ErrType, describe(e.Key)))
		}
		kp, ktok := keyPath(path, k.Value), k.GetToken()
		if prev, dup := first[k.Value]; dup {
			fe := newFieldError(kp, ktok, fmt.Errorf("%w: %q", ErrDuplicateField, k.Value))
			fe.Other = kp
			if prev != nil && prev.Position != nil {
				fe.OtherLine = prev.Position.Line
			}
			return nil, fe
		}
		first[k.Value] = ktok
		if !slices.Contains(keys, k.Value) {
			return nil, newFieldError(kp, ktok, fmt.Errorf("%w %q: known fields here are %s", ErrUnknownField, k.Value, strings.Join(keys, ", ")))
		}
		if err := plain(e.Value, kp); err != nil {
			return nil, err
		}
		if isNull(e.Value) {
			continue
		}
		o.vals[k.Value] = e.Value
		d.pos[kp] = tokenOf(e.Value)
	}
	return o, nil
}

func (d *decoder) missing(o *object, key string) *FieldError {
	return newFieldError(join(o.path, key), o.tok, fmt.Errorf("%w %q", ErrMissingField, key))
}

// text reads a string field: the scalar's text as written (a plain 007
// is "007", not 7), unquoted if quoted.
func (d *decoder) text(o *object, key string, required bool) (string, bool, *FieldError) {
	n, ok := o.vals[key]
	if !ok {
		if required {
			return "", false, d.missing(o, key)
		}
		return "", false, nil
	}
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true, nil
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true, nil
		}
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tok := v.GetToken(); tok != nil {
			return tok.Value, true, nil
		}
	}
	return "", false, newFieldError(join(o.path, key), tokenOf(n), fmt.Errorf("%w: want a string, found %s", ErrType, describe(n)))
}

var decimal = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})$`)

// integer reads an integer field: a plain decimal literal, nothing else
// (not "2", 2.0, 0x2, 1e1 or 1_000).
func (d *decoder) integer(o *object, key string, required bool) (int, bool, *FieldError) {
	n, ok := o.vals[key]
	if !ok {
		if required {
			return 0, false, d.missing(o, key)
		}
		return 0, false, nil
	}
	if v, isInt := n.(*ast.IntegerNode); isInt && v.Token != nil && v.Token.Type == token.IntegerType && decimal.MatchString(v.Token.Value) {
		if i, err := strconv.Atoi(v.Token.Value); err == nil {
			return i, true, nil
		}
	}
	return 0, false, newFieldError(join(o.path, key), tokenOf(n), fmt.Errorf("%w: want a decimal integer, found %s", ErrType, describe(n)))
}

// hexBytes reads a hex string field (either case); nil when absent.
func (d *decoder) hexBytes(o *object, key string, sentinel error) ([]byte, *FieldError) {
	s, ok, err := d.text(o, key, false)
	if err != nil || !ok {
		return nil, err
	}
	b, herr := hex.DecodeString(s)
	if herr != nil {
		return nil, newFieldError(join(o.path, key), d.pos[join(o.path, key)], fmt.Errorf("%w: not hex: %v", sentinel, herr))
	}
	if b == nil {
		b = []byte{} // present but empty stays apart from absent
	}
	return b, nil
}

// list reads a sequence field of at most max entries and calls each for
// every entry with its path.
func (d *decoder) list(o *object, key string, required bool, max int, each func(n ast.Node, path string) *FieldError) (bool, *FieldError) {
	n, ok := o.vals[key]
	p := join(o.path, key)
	if !ok {
		if required {
			return false, d.missing(o, key)
		}
		return false, nil
	}
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		return false, newFieldError(p, tokenOf(n), fmt.Errorf("%w: want a list, found %s", ErrType, describe(n)))
	}
	if len(seq.Values) > max {
		return false, newFieldError(p, tokenOf(n), fmt.Errorf("%w: %d entries, at most %d", ErrCount, len(seq.Values), max))
	}
	for i, v := range seq.Values {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if err := plain(v, ip); err != nil {
			return false, err
		}
		if isNull(v) {
			return false, newFieldError(ip, tokenOf(v), fmt.Errorf("%w: empty list entry", ErrType))
		}
		d.pos[ip] = tokenOf(v)
		if err := each(v, ip); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (d *decoder) config(n ast.Node) (*Config, *FieldError) {
	root, err := d.object(n, "", configKeys)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Params: DefaultParams()}
	for _, step := range []func(*object, *Config) *FieldError{
		d.election, d.contests, d.stations, d.officials, d.dkg, d.voterRoll, d.params,
	} {
		if err := step(root, cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// section reads a required (or optional) mapping field of root.
func (d *decoder) section(root *object, key string, keys []string, required bool) (*object, *FieldError) {
	n, ok := root.vals[key]
	if !ok {
		if required {
			return nil, d.missing(root, key)
		}
		return nil, nil
	}
	return d.object(n, join(root.path, key), keys)
}

func (d *decoder) election(root *object, cfg *Config) *FieldError {
	o, err := d.section(root, "election", electionKeys, true)
	if err != nil {
		return err
	}
	if cfg.Election.ID, _, err = d.text(o, "id", true); err != nil {
		return err
	}
	cfg.Election.Title, _, err = d.text(o, "title", true)
	return err
}

func (d *decoder) contests(root *object, cfg *Config) *FieldError {
	_, err := d.list(root, "contests", true, maxListEntries(ballot.MaxContests), func(n ast.Node, p string) *FieldError {
		o, err := d.object(n, p, contestKeys)
		if err != nil {
			return err
		}
		var ct Contest
		if ct.ID, _, err = d.text(o, "id", true); err != nil {
			return err
		}
		if ct.Title, _, err = d.text(o, "title", true); err != nil {
			return err
		}
		kind, _, err := d.text(o, "kind", true)
		if err != nil {
			return err
		}
		ct.Kind = Kind(kind)
		switch ct.Kind {
		case KindPlurality, KindApproval, KindReferendum:
		default:
			return newFieldError(p+".kind", d.pos[p+".kind"], fmt.Errorf("%w %q: want plurality, approval or referendum", ErrBadKind, kind))
		}
		limit, hasLimit, err := d.integer(o, "limit", false)
		if err != nil {
			return err
		}
		hasCands, err := d.list(o, "candidates", false, maxListEntries(ballot.MaxCandidates), func(n ast.Node, p string) *FieldError {
			c, err := d.object(n, p, candidateKeys)
			if err != nil {
				return err
			}
			var cand Candidate
			if cand.ID, _, err = d.text(c, "id", true); err != nil {
				return err
			}
			if cand.Name, _, err = d.text(c, "name", true); err != nil {
				return err
			}
			ct.Candidates = append(ct.Candidates, cand)
			return nil
		})
		if err != nil {
			return err
		}
		// What each kind may leave out; validation checks the rest.
		if !hasCands {
			if ct.Kind != KindReferendum {
				return d.missing(o, "candidates")
			}
			ct.Candidates = []Candidate{{ID: "yes", Name: "Yes"}, {ID: "no", Name: "No"}}
		}
		if !hasLimit {
			if ct.Kind == KindApproval {
				return d.missing(o, "limit")
			}
			limit = 1
		}
		ct.Limit = limit
		cfg.Contests = append(cfg.Contests, ct)
		return nil
	})
	return err
}

func (d *decoder) stations(root *object, cfg *Config) *FieldError {
	_, err := d.list(root, "stations", true, maxListEntries(MaxStations), func(n ast.Node, p string) *FieldError {
		o, err := d.object(n, p, stationKeys)
		if err != nil {
			return err
		}
		var s Station
		if s.ID, _, err = d.text(o, "id", true); err != nil {
			return err
		}
		if s.Name, _, err = d.text(o, "name", true); err != nil {
			return err
		}
		if s.Address, _, err = d.text(o, "address", true); err != nil {
			return err
		}
		if s.PublicKey, err = d.hexBytes(o, "public_key", ErrBadKey); err != nil {
			return err
		}
		cfg.Stations = append(cfg.Stations, s)
		return nil
	})
	return err
}

func (d *decoder) officials(root *object, cfg *Config) *FieldError {
	o, err := d.section(root, "officials", officialsKeys, true)
	if err != nil {
		return err
	}
	if cfg.Officials.OpenQuorum, _, err = d.integer(o, "open_quorum", true); err != nil {
		return err
	}
	if cfg.Officials.CloseQuorum, _, err = d.integer(o, "close_quorum", true); err != nil {
		return err
	}
	_, err = d.list(o, "members", true, maxListEntries(MaxOfficials), func(n ast.Node, p string) *FieldError {
		m, err := d.object(n, p, officialKeys)
		if err != nil {
			return err
		}
		var off Official
		if off.ID, _, err = d.text(m, "id", true); err != nil {
			return err
		}
		if off.Name, _, err = d.text(m, "name", true); err != nil {
			return err
		}
		if off.PublicKey, err = d.hexBytes(m, "public_key", ErrBadKey); err != nil {
			return err
		}
		cfg.Officials.Members = append(cfg.Officials.Members, off)
		return nil
	})
	return err
}

func (d *decoder) dkg(root *object, cfg *Config) *FieldError {
	o, err := d.section(root, "dkg", dkgKeys, true)
	if err != nil {
		return err
	}
	cfg.DKG.Threshold, _, err = d.integer(o, "threshold", true)
	return err
}

func (d *decoder) voterRoll(root *object, cfg *Config) *FieldError {
	o, err := d.section(root, "voter_roll", rollKeys, true)
	if err != nil {
		return err
	}
	if cfg.VoterRoll.File, _, err = d.text(o, "file", true); err != nil {
		return err
	}
	if cfg.VoterRoll.Voters, _, err = d.integer(o, "voters", true); err != nil {
		return err
	}
	cfg.VoterRoll.SHA256, err = d.hexBytes(o, "sha256", ErrBadHash)
	return err
}

func (d *decoder) params(root *object, cfg *Config) *FieldError {
	o, err := d.section(root, "params", paramKeys(), false)
	if err != nil || o == nil {
		return err
	}
	for _, r := range paramRules {
		v, ok, err := d.integer(o, r.name, false)
		if err != nil {
			return err
		}
		if ok {
			*r.get(&cfg.Params) = v
		}
	}
	return nil
}

// Lists may hold a few more entries than the rules allow, so that an
// over-long list is reported by the rule (with its count) rather than
// here; far longer ones are refused before they are walked.
func maxListEntries(ruleMax int) int { return ruleMax + 1 }

// Marshal writes the config as YAML that ParseConfig reads back to the same
// Config: every field explicit (params and generated referendum candidates
// included), keys and the roll hash as lowercase hex when present, no
// comments.
func (c *Config) Marshal() ([]byte, error) {
	type candidate struct {
		ID   string `yaml:"id"`
		Name string `yaml:"name"`
	}
	type contest struct {
		ID         string      `yaml:"id"`
		Title      string      `yaml:"title"`
		Kind       string      `yaml:"kind"`
		Limit      int         `yaml:"limit"`
		Candidates []candidate `yaml:"candidates"`
	}
	type station struct {
		ID        string `yaml:"id"`
		Name      string `yaml:"name"`
		Address   string `yaml:"address"`
		PublicKey string `yaml:"public_key,omitempty"`
	}
	type official struct {
		ID        string `yaml:"id"`
		Name      string `yaml:"name"`
		PublicKey string `yaml:"public_key,omitempty"`
	}
	type doc struct {
		Election struct {
			ID    string `yaml:"id"`
			Title string `yaml:"title"`
		} `yaml:"election"`
		Contests  []contest `yaml:"contests"`
		Stations  []station `yaml:"stations"`
		Officials struct {
			OpenQuorum  int        `yaml:"open_quorum"`
			CloseQuorum int        `yaml:"close_quorum"`
			Members     []official `yaml:"members"`
		} `yaml:"officials"`
		DKG struct {
			Threshold int `yaml:"threshold"`
		} `yaml:"dkg"`
		VoterRoll struct {
			File   string `yaml:"file"`
			Voters int    `yaml:"voters"`
			SHA256 string `yaml:"sha256,omitempty"`
		} `yaml:"voter_roll"`
		Params struct {
			MaxBlockTxs        int `yaml:"max_block_txs"`
			MaxBlockBytes      int `yaml:"max_block_bytes"`
			DKGDeadlineHeight  int `yaml:"dkg_deadline_height"`
			HeartbeatMillis    int `yaml:"heartbeat_ms"`
			MaxClockSkewMillis int `yaml:"max_clock_skew_ms"`
		} `yaml:"params"`
	}
	var out doc
	out.Election.ID, out.Election.Title = c.Election.ID, c.Election.Title
	for _, ct := range c.Contests {
		w := contest{ID: ct.ID, Title: ct.Title, Kind: string(ct.Kind), Limit: ct.Limit}
		for _, cand := range ct.Candidates {
			w.Candidates = append(w.Candidates, candidate(cand))
		}
		out.Contests = append(out.Contests, w)
	}
	for _, s := range c.Stations {
		out.Stations = append(out.Stations, station{s.ID, s.Name, s.Address, hexOrEmpty(s.PublicKey)})
	}
	out.Officials.OpenQuorum, out.Officials.CloseQuorum = c.Officials.OpenQuorum, c.Officials.CloseQuorum
	for _, m := range c.Officials.Members {
		out.Officials.Members = append(out.Officials.Members, official{m.ID, m.Name, hexOrEmpty(m.PublicKey)})
	}
	out.DKG.Threshold = c.DKG.Threshold
	out.VoterRoll.File, out.VoterRoll.Voters = c.VoterRoll.File, c.VoterRoll.Voters
	out.VoterRoll.SHA256 = hexOrEmpty(c.VoterRoll.SHA256)
	p := c.Params
	out.Params.MaxBlockTxs, out.Params.MaxBlockBytes = p.MaxBlockTxs, p.MaxBlockBytes
	out.Params.DKGDeadlineHeight, out.Params.HeartbeatMillis, out.Params.MaxClockSkewMillis = p.DKGDeadlineHeight, p.HeartbeatMillis, p.MaxClockSkewMillis
	return yaml.MarshalWithOptions(out, yaml.Indent(2), yaml.IndentSequence(true))
}

func hexOrEmpty(b []byte) string {
	if b == nil {
		return ""
	}
	return hex.EncodeToString(b)
}
