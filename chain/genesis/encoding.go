package genesis

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Format is the value of the "format" field that opens every genesis.json
// of this version. A change to the encoding or to the rules gets a new one.
const Format = "urna-genesis-v1"

// MaxGenesisBytes is the largest genesis file accepted. The largest genesis
// the other bounds allow (TestLargestElectionFits) is under half of it.
const MaxGenesisBytes = 1 << 20

// The canonical form is encoding/json of these structs: fields in
// declaration order, only strings, ints, structs and slices (no maps, no
// floats, no omitempty), keys and hashes as lowercase hex. The order and
// names are part of the format; docs/config.md states them for verifiers in
// other languages.
type (
	jsonGenesis struct {
		Format    string        `json:"format"`
		Election  jsonElection  `json:"election"`
		Contests  []jsonContest `json:"contests"`
		Stations  []jsonStation `json:"stations"`
		Officials jsonOfficials `json:"officials"`
		DKG       jsonDKG       `json:"dkg"`
		VoterRoll jsonRoll      `json:"voter_roll"`
		Params    jsonParams    `json:"params"`
	}
	jsonElection struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	jsonContest struct {
		ID         string          `json:"id"`
		Title      string          `json:"title"`
		Kind       string          `json:"kind"`
		Limit      int             `json:"limit"`
		Candidates []jsonCandidate `json:"candidates"`
	}
	jsonCandidate struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	jsonStation struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Address   string `json:"address"`
		PublicKey string `json:"public_key"`
	}
	jsonOfficials struct {
		OpenQuorum  int            `json:"open_quorum"`
		CloseQuorum int            `json:"close_quorum"`
		Members     []jsonOfficial `json:"members"`
	}
	jsonOfficial struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		PublicKey string `json:"public_key"`
	}
	jsonDKG struct {
		Threshold int `json:"threshold"`
	}
	jsonRoll struct {
		Voters int    `json:"voters"`
		SHA256 string `json:"sha256"`
	}
	jsonParams struct {
		MaxBlockTxs        int `json:"max_block_txs"`
		MaxBlockBytes      int `json:"max_block_bytes"`
		DKGDeadlineHeight  int `json:"dkg_deadline_height"`
		HeartbeatMillis    int `json:"heartbeat_ms"`
		MaxClockSkewMillis int `json:"max_clock_skew_ms"`
	}
)

// encode is the canonical form of a complete config: compact JSON, HTML
// characters not escaped, followed by one "\n".
func encode(cfg *Config) []byte {
	w := jsonGenesis{Format: Format}
	w.Election = jsonElection{ID: cfg.Election.ID, Title: cfg.Election.Title}
	for _, ct := range cfg.Contests {
		jc := jsonContest{ID: ct.ID, Title: ct.Title, Kind: string(ct.Kind), Limit: ct.Limit, Candidates: []jsonCandidate{}}
		for _, cand := range ct.Candidates {
			jc.Candidates = append(jc.Candidates, jsonCandidate(cand))
		}
		w.Contests = append(w.Contests, jc)
	}
	for _, s := range cfg.Stations {
		w.Stations = append(w.Stations, jsonStation{s.ID, s.Name, s.Address, hex.EncodeToString(s.PublicKey)})
	}
	w.Officials = jsonOfficials{OpenQuorum: cfg.Officials.OpenQuorum, CloseQuorum: cfg.Officials.CloseQuorum}
	for _, m := range cfg.Officials.Members {
		w.Officials.Members = append(w.Officials.Members, jsonOfficial{m.ID, m.Name, hex.EncodeToString(m.PublicKey)})
	}
	w.DKG.Threshold = cfg.DKG.Threshold
	w.VoterRoll = jsonRoll{Voters: cfg.VoterRoll.Voters, SHA256: hex.EncodeToString(cfg.VoterRoll.SHA256)}
	w.Params = jsonParams(cfg.Params)
	// Empty lists are [] rather than null, so that a decoded empty list
	// re-encodes to the bytes it came from.
	if w.Contests == nil {
		w.Contests = []jsonContest{}
	}
	if w.Stations == nil {
		w.Stations = []jsonStation{}
	}
	if w.Officials.Members == nil {
		w.Officials.Members = []jsonOfficial{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		// Only unsupported types or values fail, and these structs have none.
		panic(fmt.Sprintf("genesis: encoding cannot fail: %v", err))
	}
	return b.Bytes()
}

// Load reads and decodes a genesis file (see Decode); errors carry the file name.
func Load(path string) (*Genesis, error) {
	data, err := readFile(path, MaxGenesisBytes)
	if err != nil {
		return nil, err
	}
	g, err := Decode(data)
	if err != nil {
		return nil, withFile(err, path)
	}
	return g, nil
}

// Decode reads a genesis.json strictly: known fields only, the format tag,
// the bytes exactly the canonical encoding of what they decode to (else the
// error names the first differing byte: the file must be regenerated, not
// edited), then every rule of a complete config. Errors are an ErrorList.
func Decode(data []byte) (*Genesis, error) {
	if len(data) > MaxGenesisBytes {
		return nil, fail("", nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxGenesisBytes))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w jsonGenesis
	if err := dec.Decode(&w); err != nil {
		return nil, fail(jsonErrorPath(err), nil, fmt.Errorf("%w: %v", ErrMalformed, err))
	}
	if w.Format != Format {
		return nil, fail("format", nil, fmt.Errorf("%w %q: this reader knows %q", ErrFormat, w.Format, Format))
	}
	cfg, err := w.config()
	if err != nil {
		return nil, err
	}
	if canon := encode(cfg); !bytes.Equal(canon, data) {
		return nil, fail("", nil, notCanonical(data, canon))
	}
	if _, errs := validate(cfg, validateOptions{requireComplete: true}); errs != nil {
		return nil, errs
	}
	return newGenesis(cfg), nil
}

// jsonErrorPath is the field path encoding/json reports for a type error.
func jsonErrorPath(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// config turns the decoded JSON into a Config, hex into bytes.
func (w *jsonGenesis) config() (*Config, error) {
	cfg := &Config{
		Election:  Election{ID: w.Election.ID, Title: w.Election.Title},
		Officials: Officials{OpenQuorum: w.Officials.OpenQuorum, CloseQuorum: w.Officials.CloseQuorum},
		DKG:       DKG{Threshold: w.DKG.Threshold},
		VoterRoll: VoterRoll{Voters: w.VoterRoll.Voters},
		Params:    Params(w.Params),
	}
	for _, jc := range w.Contests {
		ct := Contest{ID: jc.ID, Title: jc.Title, Kind: Kind(jc.Kind), Limit: jc.Limit}
		for _, cand := range jc.Candidates {
			ct.Candidates = append(ct.Candidates, Candidate(cand))
		}
		cfg.Contests = append(cfg.Contests, ct)
	}
	for i, s := range w.Stations {
		key, err := unhex(fmt.Sprintf("stations[%d].public_key", i), s.PublicKey, ErrBadKey)
		if err != nil {
			return nil, err
		}
		cfg.Stations = append(cfg.Stations, Station{ID: s.ID, Name: s.Name, Address: s.Address, PublicKey: key})
	}
	for i, m := range w.Officials.Members {
		key, err := unhex(fmt.Sprintf("officials.members[%d].public_key", i), m.PublicKey, ErrBadKey)
		if err != nil {
			return nil, err
		}
		cfg.Officials.Members = append(cfg.Officials.Members, Official{ID: m.ID, Name: m.Name, PublicKey: key})
	}
	h, err := unhex("voter_roll.sha256", w.VoterRoll.SHA256, ErrBadHash)
	if err != nil {
		return nil, err
	}
	cfg.VoterRoll.SHA256 = h
	return cfg, nil
}

// unhex decodes a hex field; upper case decodes here and is then caught as
// non-canonical.
func unhex(path, s string, sentinel error) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fail(path, nil, fmt.Errorf("%w: not hex: %v", sentinel, err))
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// CanonicalError says where a genesis file first departs from its
// canonical form. It unwraps to ErrNotCanonical.
type CanonicalError struct {
	Offset int    // byte offset of the first difference
	Found  string // up to 24 bytes of the file from Offset ("" at its end)
	Want   string // up to 24 bytes of the canonical form from Offset
}

func (e *CanonicalError) Error() string {
	show := func(s string) string {
		if s == "" {
			return "end of file"
		}
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%v: byte %d is %s where the canonical form has %s; a genesis must be exactly as urna init wrote it: regenerate it, do not edit it",
		ErrNotCanonical, e.Offset, show(e.Found), show(e.Want))
}

// Unwrap makes errors.Is(err, ErrNotCanonical) hold.
func (e *CanonicalError) Unwrap() error { return ErrNotCanonical }

// notCanonical says where data first differs from its canonical form.
func notCanonical(data, canon []byte) error {
	i := 0
	for i < len(data) && i < len(canon) && data[i] == canon[i] {
		i++
	}
	excerpt := func(b []byte) string {
		if i >= len(b) {
			return ""
		}
		return string(b[i:min(len(b), i+24)])
	}
	return &CanonicalError{Offset: i, Found: excerpt(data), Want: excerpt(canon)}
}
