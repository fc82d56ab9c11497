// Package signer is a station's double-sign guard: it holds the station's Ed25519
// consensus key and signs a consensus message only if that can never conflict with
// something it signed before, even across crashes and restarts.
//
// Every message is signed at a position (height, round, step), with the steps
// StepPropose < StepPrevote < StepPrecommit. The signer remembers, durably, the last
// position it signed, the SHA-256 of those sign-bytes and the signature. Sign refuses
// (ErrDoubleSign) any position lexicographically lower than the last one, and
// different bytes at the same position; identical bytes at the same position return
// the stored signature, so a restarted node can re-send its latest vote. Only the
// latest position is remembered: re-signing an older message is refused, so a node
// that replays its write-ahead log should log its own signed messages there too and
// replay them, rather than expect them to be signed again.
//
// # Durability
//
// Before Sign returns a new signature, the new state is written to a temp file in
// the state directory, fsynced, renamed over the state file, and the directory is
// fsynced. A crash before the rename leaves the old state (and the signature was
// never released); a crash after it leaves the new one; either way no signature that
// left the process can be contradicted after a restart. A failed write makes the
// Signer refuse everything (ErrFailed) until it is reopened from disk.
//
// A brand-new station calls Init once, which creates the state file; every later
// start calls Open, which requires it. A missing or damaged state file is an error
// (ErrNoState, ErrCorruptState), never treated as "nothing signed yet": restore it,
// or, only if this key has never signed anything, Init again.
//
// # State file
//
// The file StateFileName in the state directory is 157 bytes, integers big-endian:
//
//	  0   8  magic "URNA-SGN"
//	  8   4  version, 1
//	 12  32  Ed25519 public key the state belongs to
//	 44   8  height of the last signed message
//	 52   4  round
//	 56   1  step: 0 (nothing signed yet: height..signature all zero), 1, 2 or 3
//	 57  32  SHA-256 of the sign-bytes signed
//	 89  64  the Ed25519 signature released
//	153   4  CRC-32C (Castagnoli) of bytes 0..153
//
// # Adapting to the consensus core
//
// The core's Signer interface is met by a few lines in whatever package wires the
// two together:
//
//	func (a adapter) SignVote(chainID bft.Hash, v *bft.Vote) error {
//		sig, err := a.s.Sign(v.Height, v.Round, stepOf(v.Type), v.SignBytes(chainID))
//		if err != nil {
//			return err
//		}
//		v.Signature = sig
//		return nil
//	}
//
// with stepOf mapping Prevote to StepPrevote and Precommit to StepPrecommit, and
// SignProposal using StepPropose.
package signer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// The steps of a round, in the order a station signs them.
const (
	StepPropose   uint8 = 1
	StepPrevote   uint8 = 2
	StepPrecommit uint8 = 3
)

// StateFileName is the name of the state file in the state directory.
const StateFileName = "signer-state"

// Sentinel errors, matched with errors.Is.
var (
	// ErrDoubleSign: Sign refused because signing could conflict with an earlier
	// signature (a lower position, or different bytes at the same position).
	ErrDoubleSign = errors.New("signer: refusing to double-sign")
	// ErrBadStep: the step is not StepPropose, StepPrevote or StepPrecommit.
	ErrBadStep = errors.New("signer: unknown step")
	// ErrBadKey: the private key is not a well-formed Ed25519 private key.
	ErrBadKey = errors.New("signer: malformed Ed25519 private key")
	// ErrNoState: Open found no state file.
	ErrNoState = errors.New("signer: no state file")
	// ErrCorruptState: the state file is damaged or not a state file.
	ErrCorruptState = errors.New("signer: corrupt state file")
	// ErrKeyMismatch: the state file belongs to another key.
	ErrKeyMismatch = errors.New("signer: state file belongs to another key")
	// ErrAlreadyInitialized: Init found a state file already there.
	ErrAlreadyInitialized = errors.New("signer: state file already exists")
	// ErrFailed: a state write failed earlier; the Signer refuses all work.
	ErrFailed = errors.New("signer: unusable after a failed state write")
)

// Signer signs consensus messages for one key, guarded by its durable state. It is
// safe for concurrent use.
type Signer struct {
	mu  sync.Mutex
	dir string
	key ed25519.PrivateKey
	st  state
	err error // sticky, wraps ErrFailed

	crashAfter stage // tests only: simulate a crash after this step of a write
}

// Init creates the state file of a station that has never signed, in dir (created
// if needed), and returns its Signer. It fails with ErrAlreadyInitialized if the file
// exists: Init must never paper over a state that has signed.
func Init(dir string, key ed25519.PrivateKey) (*Signer, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("signer: create %s: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, StateFileName)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyInitialized, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("signer: %w", err)
	}
	s := &Signer{dir: dir, key: bytes.Clone(key)}
	copy(s.st.pub[:], key.Public().(ed25519.PublicKey))
	if err := writeState(dir, s.st, 0); err != nil {
		return nil, err
	}
	return s, nil
}

// Open loads the state in dir for key. The state file must exist (ErrNoState), be
// intact (ErrCorruptState) and belong to key (ErrKeyMismatch).
func Open(dir string, key ed25519.PrivateKey) (*Signer, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, StateFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; if this key has never signed, create it with Init, "+
			"otherwise restore it: starting fresh could double-sign", ErrNoState, path)
	}
	if err != nil {
		return nil, fmt.Errorf("signer: read %s: %w", path, err)
	}
	st, err := decodeState(b)
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", path, err)
	}
	if pub := key.Public().(ed25519.PublicKey); !bytes.Equal(st.pub[:], pub) {
		return nil, fmt.Errorf("%w: %s is for public key %x, the key given is %x", ErrKeyMismatch, path, st.pub, pub)
	}
	// A leftover temp file is a write that crashed before its rename: its signature
	// was never released, so it is ignored (and overwritten by the next write).
	return &Signer{dir: dir, key: bytes.Clone(key), st: st}, nil
}

// checkKey rejects a key of the wrong size or whose public half does not belong to
// its seed.
func checkKey(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(key), ed25519.PrivateKeySize)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(key.Seed()), key) {
		return fmt.Errorf("%w: public half does not match the seed", ErrBadKey)
	}
	return nil
}

// Sign signs signBytes at position (height, round, step) and returns the signature,
// after the new state is durable. It refuses with ErrDoubleSign a position lower than
// the last one signed, or different bytes at the same position; the same bytes at the
// same position return the stored signature.
func (s *Signer) Sign(height uint64, round uint32, step uint8, signBytes []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if step < StepPropose || step > StepPrecommit {
		return nil, fmt.Errorf("%w: %d", ErrBadStep, step)
	}
	hash := sha256.Sum256(signBytes)
	last := s.st
	switch c := compare(height, round, step, last.height, last.round, last.step); {
	case c < 0:
		return nil, fmt.Errorf("%w: %s is before the last signed %s",
			ErrDoubleSign, position(height, round, step), position(last.height, last.round, last.step))
	case c == 0 && hash != last.hash:
		return nil, fmt.Errorf("%w: different sign-bytes at %s, already signed %x, now %x",
			ErrDoubleSign, position(height, round, step), last.hash, hash)
	case c == 0:
		if !ed25519.Verify(s.key.Public().(ed25519.PublicKey), signBytes, last.sig[:]) {
			return nil, fmt.Errorf("%w: stored signature at %s does not verify", ErrCorruptState, position(height, round, step))
		}
		return bytes.Clone(last.sig[:]), nil
	}
	next := state{pub: last.pub, height: height, round: round, step: step, hash: hash}
	copy(next.sig[:], ed25519.Sign(s.key, signBytes))
	if err := writeState(s.dir, next, s.crashAfter); err != nil {
		s.err = fmt.Errorf("%w: %w", ErrFailed, err)
		return nil, s.err
	}
	s.st = next
	return bytes.Clone(next.sig[:]), nil
}

// compare orders positions lexicographically by (height, round, step).
func compare(h1 uint64, r1 uint32, s1 uint8, h2 uint64, r2 uint32, s2 uint8) int {
	switch {
	case h1 != h2:
		return cmpOrdered(h1, h2)
	case r1 != r2:
		return cmpOrdered(r1, r2)
	default:
		return cmpOrdered(s1, s2)
	}
}

func cmpOrdered[T uint8 | uint32 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func position(height uint64, round uint32, step uint8) string {
	return fmt.Sprintf("height %d round %d step %s", height, round, stepName(step))
}

func stepName(step uint8) string {
	switch step {
	case 0:
		return "none"
	case StepPropose:
		return "propose"
	case StepPrevote:
		return "prevote"
	case StepPrecommit:
		return "precommit"
	}
	return fmt.Sprintf("unknown(%d)", step)
}

// Last returns the position of the last message signed; step 0 if none.
func (s *Signer) Last() (height uint64, round uint32, step uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.height, s.st.round, s.st.step
}

// PublicKey returns the public key the Signer signs for.
func (s *Signer) PublicKey() ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.st.pub[:])
}

// LogValue describes the Signer for log/slog without its private key.
func (s *Signer) LogValue() slog.Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slog.GroupValue(
		slog.String("public_key", hex.EncodeToString(s.st.pub[:])),
		slog.String("private_key", "REDACTED"),
		slog.Uint64("last_height", s.st.height),
		slog.Uint64("last_round", uint64(s.st.round)),
		slog.String("last_step", stepName(s.st.step)),
	)
}

// String describes the Signer without its private key.
func (s *Signer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("signer{public_key=%x private_key=REDACTED last=%s}",
		s.st.pub[:], position(s.st.height, s.st.round, s.st.step))
}

// Format makes every fmt verb (%v, %+v, %#v, %x...) print String, so the key
// cannot leak through a formatted error or debug print.
func (s *Signer) Format(f fmt.State, verb rune) {
	io.WriteString(f, s.String())
}

// stage names a step of writeState, for simulating crashes in tests.
type stage int

const (
	stageTempWritten stage = iota + 1 // temp file written and fsynced, not renamed
	stageRenamed                      // renamed over the state file, directory not fsynced
)

// errSimulatedCrash stops writeState at a test's crash point.
var errSimulatedCrash = errors.New("signer: simulated crash")

// fsync and rename are the durable file operations, replaceable by tests that
// record their order.
var (
	fsync  = (*os.File).Sync
	rename = os.Rename
)

// writeState makes st the durable state in dir: temp file, fsync, rename over the
// state file, fsync the directory. Only after all four may a signature be released.
func writeState(dir string, st state, crashAfter stage) error {
	path := filepath.Join(dir, StateFileName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("signer: create %s: %w", tmp, err)
	}
	_, err = f.Write(encodeState(st))
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("signer: write %s: %w", tmp, err)
	}
	if crashAfter == stageTempWritten {
		return errSimulatedCrash
	}
	if err := rename(tmp, path); err != nil {
		return fmt.Errorf("signer: rename %s: %w", tmp, err)
	}
	if crashAfter == stageRenamed {
		return errSimulatedCrash
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that a rename in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("signer: open directory %s: %w", dir, err)
	}
	err = fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("signer: fsync directory %s: %w", dir, err)
	}
	return nil
}
