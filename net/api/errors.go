package api

import (
	"errors"
	"fmt"
)

// Errors a Client returns (wrapped, with details), and that a Backend may
// return to choose the error reply.
var (
	// ErrUnreachable: the station could not be reached, or the connection
	// broke. Another station of the genesis may answer.
	ErrUnreachable = errors.New("station cannot be reached")
	// ErrRejected: the station refused a transaction for a rule; the error
	// is a *RejectedError naming it.
	ErrRejected = errors.New("station rejected the transaction")
	// ErrBusy: over the connection's rate limit; retry a little later.
	ErrBusy = errors.New("station is busy; retry shortly")
	// ErrUnavailable: the station cannot answer now (it is stopping, or
	// its disk failed).
	ErrUnavailable = errors.New("station cannot answer now")
	// ErrInvalid: the request is well-formed but an argument is not (a
	// malformed tracking code, a block range starting at 0).
	ErrInvalid = errors.New("invalid request")
	// ErrMalformed: the station could not read our request (a bug on one
	// side, or versions that differ).
	ErrMalformed = errors.New("station could not read the request")
	// ErrProtocol: the station's answer breaks the protocol; it is not to
	// be trusted.
	ErrProtocol = errors.New("station's answer breaks the client protocol")
)

// RejectedError is a station's refusal of a transaction: the name of the
// rule it breaks (see chain.RuleName) and the station's message. It
// matches ErrRejected with errors.Is.
type RejectedError struct {
	Rule    string
	Message string
	// Forged is set by a Backend when no honest client sends such a
	// transaction (it does not decode, or a proof or signature in it
	// fails): the server counts it toward the connection's MaxMalformed,
	// so that a client cannot make the station verify forgeries at the
	// full request rate. It is not carried to the client.
	Forged bool
}

func (e *RejectedError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("rejected (%s)", e.Rule)
	}
	return fmt.Sprintf("rejected (%s): %s", e.Rule, e.Message)
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// errorOf turns an error reply into the client's error.
func errorOf(b *errorBody) error {
	switch b.Code {
	case CodeRejected:
		return &RejectedError{Rule: b.Rule, Message: b.Message}
	case CodeBusy:
		return fmt.Errorf("%w: %s", ErrBusy, b.Message)
	case CodeUnavailable:
		return fmt.Errorf("%w: %s", ErrUnavailable, b.Message)
	case CodeInvalid:
		return fmt.Errorf("%w: %s", ErrInvalid, b.Message)
	case CodeMalformed:
		return fmt.Errorf("%w: %s", ErrMalformed, b.Message)
	}
	return fmt.Errorf("%w: error code %d: %s", ErrProtocol, b.Code, b.Message)
}

// replyOf turns a backend's error into an error reply.
func replyOf(err error) *errorBody {
	var rej *RejectedError
	switch {
	case errors.As(err, &rej):
		return &errorBody{Code: CodeRejected, Rule: rej.Rule, Message: rej.Message}
	case errors.Is(err, ErrInvalid):
		return &errorBody{Code: CodeInvalid, Message: err.Error()}
	case errors.Is(err, ErrBusy):
		return &errorBody{Code: CodeBusy, Message: err.Error()}
	}
	return &errorBody{Code: CodeUnavailable, Message: err.Error()}
}
