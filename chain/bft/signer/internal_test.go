package signer

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func key(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

type pos struct {
	h    uint64
	r    uint32
	step uint8
}

// ledger is every signature that left a signer, by position. Its check is the
// safety property itself: no position ever gets signatures over two different
// messages, across any number of crashes and restarts.
type ledger struct {
	t        *testing.T
	released map[pos]string
}

// sign asks s to sign and, if a signature comes out, checks it against the ledger.
func (l *ledger) sign(s *Signer, p pos, msg string) ([]byte, error) {
	sig, err := s.Sign(p.h, p.r, p.step, []byte(msg))
	if err != nil {
		if sig != nil {
			l.t.Fatalf("Sign at %v returned both a signature and %v", p, err)
		}
		return nil, err
	}
	if prev, ok := l.released[p]; ok && prev != msg {
		l.t.Fatalf("DOUBLE SIGN at %v: %q and %q", p, prev, msg)
	}
	l.released[p] = msg
	return sig, nil
}

// TestCrashInsideWriteNeverAllowsConflict stops a state write at each of its
// steps, as a crash would, restarts from the directory, and then tries every
// conflicting signature: none may contradict a released one.
func TestCrashInsideWriteNeverAllowsConflict(t *testing.T) {
	cases := []struct {
		name      string
		at        stage
		powerLoss bool // the rename had not reached the disk when power went
		landed    bool // whether the crashed write's state is what a restart sees
	}{
		{"after temp write, before rename", stageTempWritten, false, false},
		{"after rename, before directory fsync (process killed)", stageRenamed, false, true},
		{"after rename, before directory fsync (power lost, rename undone)", stageRenamed, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, k := t.TempDir(), key(1)
			l := &ledger{t: t, released: map[pos]string{}}
			s, err := Init(dir, k)
			if err != nil {
				t.Fatal(err)
			}
			prevote := pos{4, 0, StepPrevote}
			precommit := pos{4, 0, StepPrecommit}
			if _, err := l.sign(s, prevote, "X"); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, StateFileName)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			s.crashAfter = tc.at
			if _, err := l.sign(s, precommit, "X"); !errors.Is(err, errSimulatedCrash) || !errors.Is(err, ErrFailed) {
				t.Fatalf("crashing Sign = %v, want the simulated crash wrapped in ErrFailed", err)
			}
			if _, err := l.sign(s, pos{5, 0, StepPropose}, "Z"); !errors.Is(err, ErrFailed) {
				t.Fatalf("Sign after a failed write = %v, want ErrFailed", err)
			}
			if tc.powerLoss {
				if err := os.WriteFile(path, before, 0o600); err != nil {
					t.Fatal(err)
				}
			}

			s2, err := Open(dir, k) // restart: the state is old or new, never broken
			if err != nil {
				t.Fatalf("Open after crash: %v", err)
			}
			want := prevote
			if tc.landed {
				want = precommit
			}
			if h, r, st := s2.Last(); (pos{h, r, st}) != want {
				t.Fatalf("Last after crash = %v, want %v", pos{h, r, st}, want)
			}
			if _, err := l.sign(s2, prevote, "Y"); !errors.Is(err, ErrDoubleSign) {
				t.Fatalf("conflicting prevote after restart = %v, want ErrDoubleSign", err)
			}
			_, errY := l.sign(s2, precommit, "Y")
			if tc.landed && !errors.Is(errY, ErrDoubleSign) {
				t.Fatalf("precommit Y after the X state landed = %v, want ErrDoubleSign", errY)
			}
			if !tc.landed && errY != nil { // X never left the process, so Y is no conflict
				t.Fatalf("precommit Y when X never left the node = %v", errY)
			}
			l.sign(s2, precommit, "X") // ledger fails the test if this contradicts Y
			if _, err := l.sign(s2, pos{5, 0, StepPropose}, "Z"); err != nil {
				t.Fatalf("next height after restart: %v", err)
			}
		})
	}
}

// TestCrashInsideInit: a crash before Init's rename leaves no state file, which Open
// reports, and Init can then be run again.
func TestCrashInsideInit(t *testing.T) {
	dir, k := t.TempDir(), key(2)
	var st state
	copy(st.pub[:], k.Public().(ed25519.PublicKey))
	if err := writeState(dir, st, stageTempWritten); !errors.Is(err, errSimulatedCrash) {
		t.Fatal(err)
	}
	if _, err := Open(dir, k); !errors.Is(err, ErrNoState) {
		t.Fatalf("Open after a crashed Init = %v, want ErrNoState", err)
	}
	if _, err := Init(dir, k); err != nil {
		t.Fatalf("Init after a crashed Init: %v", err)
	}
	if _, err := Open(dir, k); err != nil {
		t.Fatal(err)
	}
}

// TestDurableOrder records the file system operations of a Sign: the signature must
// come back only after temp fsync, rename and directory fsync, in that order.
func TestDurableOrder(t *testing.T) {
	dir, k := t.TempDir(), key(3)
	s, err := Init(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	origSync, origRename := fsync, rename
	defer func() { fsync, rename = origSync, origRename }()
	fsync = func(f *os.File) error { ops = append(ops, "fsync "+f.Name()); return origSync(f) }
	rename = func(a, b string) error { ops = append(ops, "rename "+a+" "+b); return origRename(a, b) }

	path := filepath.Join(dir, StateFileName)
	if _, err := s.Sign(1, 0, StepPropose, []byte("m")); err != nil {
		t.Fatal(err)
	}
	want := []string{"fsync " + path + ".tmp", "rename " + path + ".tmp " + path, "fsync " + dir}
	if !slices.Equal(ops, want) {
		t.Fatalf("Sign did %q, want %q", ops, want)
	}
	ops = nil
	if _, err := s.Sign(1, 0, StepPropose, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 0 {
		t.Fatalf("re-sign of the stored message wrote the state: %q", ops)
	}
}

// TestFsyncFailureReleasesNothing: if the directory fsync fails, no signature is
// returned and the Signer stays refused until reopened.
func TestFsyncFailureReleasesNothing(t *testing.T) {
	dir, k := t.TempDir(), key(4)
	s, err := Init(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	orig := fsync
	defer func() { fsync = orig }()
	fsync = func(f *os.File) error {
		if f.Name() == dir {
			return syscall.EIO
		}
		return orig(f)
	}
	sig, err := s.Sign(1, 0, StepPrevote, []byte("m"))
	if sig != nil || !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sign with failing fsync = %x, %v; want no signature, ErrFailed wrapping EIO", sig, err)
	}
	fsync = orig
	if _, err := s.Sign(2, 0, StepPrevote, []byte("m")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sign after failure = %v, want ErrFailed", err)
	}
}

// withCRC recomputes the checksum of a patched state file.
func withCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[:offCRC], castagnoli))
	return b
}

// TestDecodeStateStrict: files with a valid checksum but impossible content are
// rejected, each with ErrCorruptState.
func TestDecodeStateStrict(t *testing.T) {
	var fresh state
	copy(fresh.pub[:], key(5).Public().(ed25519.PublicKey))
	signed := fresh
	signed.height, signed.round, signed.step = 9, 2, StepPrecommit
	signed.hash[0], signed.sig[0] = 1, 2

	for _, st := range []state{fresh, signed} {
		got, err := decodeState(encodeState(st))
		if err != nil || got != st {
			t.Fatalf("round trip of %+v: %+v, %v", st, got, err)
		}
	}
	if n := len(encodeState(fresh)); n != stateSize || stateSize != 157 {
		t.Fatalf("state file is %d bytes, documented 157", n)
	}
	patch := func(base state, f func(b []byte)) []byte {
		b := encodeState(base)
		f(b)
		return withCRC(b)
	}
	bad := map[string][]byte{
		"version 2":                 patch(signed, func(b []byte) { b[offVersion+3] = 2 }),
		"step 4":                    patch(signed, func(b []byte) { b[offStep] = 4 }),
		"step 0 with height":        patch(fresh, func(b []byte) { b[offHeight+7] = 1 }),
		"step 0 with round":         patch(fresh, func(b []byte) { b[offRound+3] = 1 }),
		"step 0 with hash":          patch(fresh, func(b []byte) { b[offHash] = 1 }),
		"step 0 with signature":     patch(fresh, func(b []byte) { b[offSig+63] = 1 }),
		"magic":                     patch(signed, func(b []byte) { b[0] = 'u' }),
		"checksum without the rest": func() []byte { b := encodeState(signed); b[offCRC] ^= 1; return b }(),
	}
	for name, b := range bad {
		if _, err := decodeState(b); !errors.Is(err, ErrCorruptState) {
			t.Errorf("%s: %v, want ErrCorruptState", name, err)
		}
	}
}

// FuzzDecodeState: the state decoder never panics, and accepts only bytes that are
// exactly the encoding of what it returns.
func FuzzDecodeState(f *testing.F) {
	var st state
	copy(st.pub[:], key(6).Public().(ed25519.PublicKey))
	f.Add(encodeState(st))
	st.height, st.round, st.step = 1<<40, 7, StepPrevote
	st.hash[5], st.sig[9] = 0xaa, 0xbb
	good := encodeState(st)
	f.Add(good)
	f.Add(good[:stateSize-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Add([]byte{})
	f.Add(make([]byte, stateSize))
	f.Add(withCRC(func() []byte { b := bytes.Clone(good); b[offStep] = 9; return b }()))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("error %v does not wrap ErrCorruptState", err)
			}
			return
		}
		if !bytes.Equal(encodeState(st), data) {
			t.Fatalf("accepted bytes that are not the encoding of %+v", st)
		}
		if st.step > StepPrecommit {
			t.Fatalf("accepted step %d", st.step)
		}
	})
}
