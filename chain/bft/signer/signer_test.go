package signer_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/urna-vote/urna/chain/bft/signer"
)

// testKey is a fixed key, so failures reproduce.
func testKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

func mustInit(t *testing.T, dir string, key ed25519.PrivateKey) *signer.Signer {
	t.Helper()
	s, err := signer.Init(dir, key)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return s
}

func mustOpen(t *testing.T, dir string, key ed25519.PrivateKey) *signer.Signer {
	t.Helper()
	s, err := signer.Open(dir, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustSign(t *testing.T, s *signer.Signer, h uint64, r uint32, step uint8, msg string) []byte {
	t.Helper()
	sig, err := s.Sign(h, r, step, []byte(msg))
	if err != nil {
		t.Fatalf("Sign(%d, %d, %d, %q): %v", h, r, step, msg, err)
	}
	if !ed25519.Verify(s.PublicKey(), []byte(msg), sig) {
		t.Fatalf("Sign(%d, %d, %d, %q) returned a signature that does not verify", h, r, step, msg)
	}
	return sig
}

func TestSignAdvancesAndRefuses(t *testing.T) {
	key := testKey(1)
	s := mustInit(t, t.TempDir(), key)
	if h, r, st := s.Last(); h != 0 || r != 0 || st != 0 {
		t.Fatalf("fresh Last = %d/%d/%d", h, r, st)
	}
	// Every step of a round, then later rounds and heights, in order: all allowed.
	mustSign(t, s, 0, 0, signer.StepPropose, "p0")
	mustSign(t, s, 10, 0, signer.StepPropose, "p")
	mustSign(t, s, 10, 0, signer.StepPrevote, "v")
	mustSign(t, s, 10, 0, signer.StepPrecommit, "c")
	mustSign(t, s, 10, 2, signer.StepPrevote, "v2") // rounds may skip
	prev := mustSign(t, s, 10, 2, signer.StepPrecommit, "A")

	refused := []struct {
		name  string
		h     uint64
		r     uint32
		step  uint8
		bytes string
	}{
		{"lower height", 9, 99, signer.StepPrecommit, "A"},
		{"lower round", 10, 1, signer.StepPrecommit, "A"},
		{"lower step", 10, 2, signer.StepPrevote, "A"},
		{"lowest step", 10, 2, signer.StepPropose, "A"},
		{"different bytes, same position", 10, 2, signer.StepPrecommit, "B"},
		{"empty bytes, same position", 10, 2, signer.StepPrecommit, ""},
	}
	for _, tc := range refused {
		sig, err := s.Sign(tc.h, tc.r, tc.step, []byte(tc.bytes))
		if !errors.Is(err, signer.ErrDoubleSign) || sig != nil {
			t.Errorf("%s: Sign = %x, %v; want ErrDoubleSign and no signature", tc.name, sig, err)
		}
	}
	for _, step := range []uint8{0, 4, 255} {
		if _, err := s.Sign(11, 0, step, []byte("x")); !errors.Is(err, signer.ErrBadStep) {
			t.Errorf("step %d: %v, want ErrBadStep", step, err)
		}
	}
	// Refusals changed nothing: the same bytes at the last position give the same signature.
	if h, r, st := s.Last(); h != 10 || r != 2 || st != signer.StepPrecommit {
		t.Fatalf("Last after refusals = %d/%d/%d", h, r, st)
	}
	again := mustSign(t, s, 10, 2, signer.StepPrecommit, "A")
	if !bytes.Equal(again, prev) {
		t.Fatal("re-signing identical bytes gave a different signature")
	}
	// The returned signature is the caller's: changing it does not change the state.
	again[0] ^= 0xff
	if third := mustSign(t, s, 10, 2, signer.StepPrecommit, "A"); !bytes.Equal(third, prev) {
		t.Fatal("a caller's change to a returned signature leaked into the stored one")
	}
	mustSign(t, s, 11, 0, signer.StepPropose, "next height")
}

// TestRestartRefusesConflict: the state survives a restart, so a restarted node can
// re-send its vote but cannot sign a conflicting or older one.
func TestRestartRefusesConflict(t *testing.T) {
	dir, key := t.TempDir(), testKey(2)
	s := mustInit(t, dir, key)
	mustSign(t, s, 7, 1, signer.StepPrevote, "prevote for X")
	sig := mustSign(t, s, 7, 1, signer.StepPrecommit, "precommit for X")

	s2 := mustOpen(t, dir, key) // a new process on the same directory
	if h, r, st := s2.Last(); h != 7 || r != 1 || st != signer.StepPrecommit {
		t.Fatalf("Last after restart = %d/%d/%d", h, r, st)
	}
	if _, err := s2.Sign(7, 1, signer.StepPrecommit, []byte("precommit for Y")); !errors.Is(err, signer.ErrDoubleSign) {
		t.Fatalf("conflicting precommit after restart: %v, want ErrDoubleSign", err)
	}
	if _, err := s2.Sign(7, 1, signer.StepPrevote, []byte("prevote for X")); !errors.Is(err, signer.ErrDoubleSign) {
		t.Fatalf("older prevote after restart: %v, want ErrDoubleSign", err)
	}
	if got := mustSign(t, s2, 7, 1, signer.StepPrecommit, "precommit for X"); !bytes.Equal(got, sig) {
		t.Fatal("re-sign after restart gave a different signature")
	}
}

func TestInitAndOpenGuards(t *testing.T) {
	key := testKey(3)

	t.Run("Open without Init", func(t *testing.T) {
		if _, err := signer.Open(t.TempDir(), key); !errors.Is(err, signer.ErrNoState) {
			t.Fatalf("Open on empty dir: %v, want ErrNoState", err)
		}
	})
	t.Run("wiped state is not fresh", func(t *testing.T) {
		dir := t.TempDir()
		s := mustInit(t, dir, key)
		mustSign(t, s, 5, 0, signer.StepPrevote, "v")
		if err := os.Remove(filepath.Join(dir, signer.StateFileName)); err != nil {
			t.Fatal(err)
		}
		if _, err := signer.Open(dir, key); !errors.Is(err, signer.ErrNoState) {
			t.Fatalf("Open after wipe: %v, want ErrNoState", err)
		}
	})
	t.Run("Init twice", func(t *testing.T) {
		dir := t.TempDir()
		s := mustInit(t, dir, key)
		mustSign(t, s, 5, 0, signer.StepPrevote, "v")
		if _, err := signer.Init(dir, key); !errors.Is(err, signer.ErrAlreadyInitialized) {
			t.Fatalf("second Init: %v, want ErrAlreadyInitialized", err)
		}
		if h, _, _ := mustOpen(t, dir, key).Last(); h != 5 {
			t.Fatalf("second Init changed the state: height %d", h)
		}
	})
	t.Run("Init creates the directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		mustInit(t, dir, key)
		mustOpen(t, dir, key)
	})
	t.Run("another key", func(t *testing.T) {
		dir := t.TempDir()
		mustInit(t, dir, key)
		if _, err := signer.Open(dir, testKey(4)); !errors.Is(err, signer.ErrKeyMismatch) {
			t.Fatalf("Open with another key: %v, want ErrKeyMismatch", err)
		}
	})
	t.Run("malformed keys", func(t *testing.T) {
		mismatched := bytes.Clone(key)
		copy(mismatched[32:], testKey(5)[32:])
		for name, k := range map[string]ed25519.PrivateKey{
			"nil": nil, "short": key[:63], "long": append(bytes.Clone(key), 0), "wrong public half": mismatched,
		} {
			if _, err := signer.Init(t.TempDir(), k); !errors.Is(err, signer.ErrBadKey) {
				t.Errorf("Init with %s key: %v, want ErrBadKey", name, err)
			}
			if _, err := signer.Open(t.TempDir(), k); !errors.Is(err, signer.ErrBadKey) {
				t.Errorf("Open with %s key: %v, want ErrBadKey", name, err)
			}
		}
	})
	t.Run("caller's key slice is copied", func(t *testing.T) {
		k := testKey(6)
		s := mustInit(t, t.TempDir(), k)
		for i := range k {
			k[i] = 0
		}
		mustSign(t, s, 1, 0, signer.StepPropose, "still the original key")
	})
}

// TestCorruptStateIsRejected damages the state file in every byte, and cuts and
// extends it: Open refuses it with ErrCorruptState.
func TestCorruptStateIsRejected(t *testing.T) {
	dir, key := t.TempDir(), testKey(7)
	s := mustInit(t, dir, key)
	mustSign(t, s, 3, 1, signer.StepPrevote, "v")
	path := filepath.Join(dir, signer.StateFileName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 1 << (i % 8)
		write(bad)
		if _, err := signer.Open(dir, key); !errors.Is(err, signer.ErrCorruptState) {
			t.Fatalf("flip byte %d: Open = %v, want ErrCorruptState", i, err)
		}
	}
	for _, b := range [][]byte{{}, good[:1], good[:len(good)-1], append(bytes.Clone(good), 0), make([]byte, len(good))} {
		write(b)
		if _, err := signer.Open(dir, key); !errors.Is(err, signer.ErrCorruptState) {
			t.Fatalf("%d-byte file: Open = %v, want ErrCorruptState", len(b), err)
		}
	}
	write(good)
	if _, err := signer.Open(dir, key); err != nil {
		t.Fatalf("restored file: %v", err)
	}
}

// TestSecretsNotLogged: neither slog nor any fmt verb shows the private key.
func TestSecretsNotLogged(t *testing.T) {
	key := testKey(8)
	s := mustInit(t, t.TempDir(), key)
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("started", "signer", s)
	slog.New(slog.NewTextHandler(&out, nil)).Info("started", "signer", s)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		fmt.Fprintf(&out, verb+"\n", s)
	}
	fmt.Fprintln(&out, s)
	text := out.String()
	for _, secret := range []string{
		hex.EncodeToString(key.Seed()), strings.ToUpper(hex.EncodeToString(key.Seed())),
		base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(key.Seed()),
		fmt.Sprint([]byte(key.Seed())), string(key.Seed()),
	} {
		if strings.Contains(text, secret) {
			t.Fatalf("private key material in output:\n%s", text)
		}
	}
	if !strings.Contains(text, hex.EncodeToString(s.PublicKey())) || !strings.Contains(text, "REDACTED") {
		t.Fatalf("output lacks the public key or the redaction mark:\n%s", text)
	}
}

// TestConcurrentSignersNeverConflict signs from many goroutines at once (for -race):
// for each position, at most one set of bytes ever gets a signature.
func TestConcurrentSignersNeverConflict(t *testing.T) {
	s := mustInit(t, t.TempDir(), testKey(9))
	var mu sync.Mutex
	signed := map[[3]uint64]string{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for h := uint64(1); h <= 5; h++ {
				for step := signer.StepPropose; step <= signer.StepPrecommit; step++ {
					msg := fmt.Sprintf("h%d s%d from %d", h, step, g)
					if _, err := s.Sign(h, 0, step, []byte(msg)); err != nil {
						if !errors.Is(err, signer.ErrDoubleSign) {
							t.Errorf("Sign: %v", err)
						}
						continue
					}
					mu.Lock()
					pos := [3]uint64{h, 0, uint64(step)}
					if prev, ok := signed[pos]; ok && prev != msg {
						t.Errorf("%v signed both %q and %q", pos, prev, msg)
					}
					signed[pos] = msg
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(signed) == 0 {
		t.Fatal("nothing was signed")
	}
}
