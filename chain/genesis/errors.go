package genesis

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"
)

// Sentinel errors. Every rule violation found by ParseConfig, Validate,
// Complete, FromConfig and Decode is a *FieldError whose Err wraps exactly
// one of these (sometimes together with a sentinel of package ballot), so
// callers and tests match them with errors.Is, never by text.
var (
	// Input shape and YAML features.
	ErrTooLarge       = errors.New("input exceeds a size limit")
	ErrSyntax         = errors.New("not well-formed")
	ErrUnsupported    = errors.New("YAML feature not allowed in an election config")
	ErrUnknownField   = errors.New("unknown field")
	ErrDuplicateField = errors.New("field given twice")
	ErrMissingField   = errors.New("missing field")
	ErrType           = errors.New("wrong type")

	// Election rules.
	ErrBadID      = errors.New("invalid id")
	ErrBadText    = errors.New("invalid text")
	ErrDuplicate  = errors.New("duplicate")
	ErrCount      = errors.New("wrong number of entries")
	ErrBadKind    = errors.New("unknown contest kind")
	ErrLimit      = errors.New("selection limit out of range")
	ErrReferendum = errors.New("a referendum's candidates must be yes and no")
	ErrBadAddress = errors.New("invalid address")
	ErrBadKey     = errors.New("invalid public key")
	ErrBadHash    = errors.New("invalid hash")
	ErrQuorum     = errors.New("quorum out of range")
	ErrThreshold  = errors.New("DKG threshold out of range")
	ErrVoters     = errors.New("voter count out of range")
	ErrBadPath    = errors.New("invalid file path")
	ErrBadParam   = errors.New("parameter out of range")

	// Forms.
	ErrMixedForm   = errors.New("config is neither a template nor complete")
	ErrNotComplete = errors.New("config is a template, not complete")

	// Genesis file.
	ErrMalformed    = errors.New("malformed genesis JSON")
	ErrFormat       = errors.New("unsupported genesis format")
	ErrNotCanonical = errors.New("genesis is not in canonical form")

	// Voter roll against the genesis.
	ErrRollElection = errors.New("voter roll belongs to another election")
	ErrRollCount    = errors.New("voter roll has the wrong number of voters")
	ErrRollHash     = errors.New("voter roll does not match the genesis hash")
)

// FieldError is one problem in a config or genesis, located by the field
// path (contests[1].limit) and, for YAML, by line and column.
type FieldError struct {
	// File is the file name, when the input was read by LoadConfig or Load.
	File string
	// Path is the field path in the YAML/JSON field names, e.g.
	// "contests[1].limit" or "stations[2].public_key". Empty means the
	// document as a whole.
	Path string
	// Line and Col are 1-based positions in the YAML source, as the YAML
	// library reports them; 0 when unknown (a genesis, a Config built in Go,
	// a field that is missing: then it is the enclosing mapping's position).
	Line, Col int
	// Other is the second place involved, for duplicates: the path of the
	// first occurrence; OtherLine its line (0 when unknown).
	Other     string
	OtherLine int
	// Err wraps the sentinel (ErrLimit, ErrDuplicate, ...) with the detail.
	Err error

	tok *token.Token // the YAML token at fault, for FormatError
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
		if e.Line == 0 {
			b.WriteByte(' ')
		}
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Col)
	}
	b.WriteString(e.message())
	return b.String()
}

// message is the error without the file and position prefix.
func (e *FieldError) message() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Other != "" {
		fmt.Fprintf(&b, " (first at %s", e.Other)
		if e.OtherLine > 0 {
			fmt.Fprintf(&b, ", line %d", e.OtherLine)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns Err, so errors.Is(fieldErr, ErrLimit) works.
func (e *FieldError) Unwrap() error { return e.Err }

// FormatError renders the error the way the YAML library renders its own:
// position, message and, if inclSource, the offending source lines with a
// caret under the token. Without a source position it is Error().
func (e *FieldError) FormatError(colored, inclSource bool) string {
	if e.tok == nil {
		return e.Error()
	}
	s := yaml.FormatErrorWithToken(e.message(), e.tok, colored, inclSource)
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}

// ErrorList is every problem found in one input, in the order of the
// documented field order. Functions of this package return an ErrorList
// (never empty) as their error; errors.As(err, &fieldErr) gives the first
// *FieldError, errors.Is matches any of them.
type ErrorList []*FieldError

// maxErrors bounds how many problems one input reports, so a hostile file
// cannot make the error list itself large.
const maxErrors = 20

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap lets errors.Is and errors.As look at every FieldError.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// FormatError is FieldError.FormatError for every error, separated by blank lines.
func (l ErrorList) FormatError(colored, inclSource bool) string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.FormatError(colored, inclSource)
	}
	return strings.Join(parts, "\n\n")
}

// withFile sets File on every FieldError in err, for LoadConfig and Load.
func withFile(err error, file string) error {
	var list ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			e.File = file
		}
	}
	return err
}

// fail makes a one-error ErrorList.
func fail(path string, tok *token.Token, err error) error {
	return ErrorList{newFieldError(path, tok, err)}
}

func newFieldError(path string, tok *token.Token, err error) *FieldError {
	e := &FieldError{Path: path, Err: err, tok: tok}
	if tok != nil && tok.Position != nil {
		e.Line, e.Col = tok.Position.Line, tok.Position.Column
	}
	return e
}
