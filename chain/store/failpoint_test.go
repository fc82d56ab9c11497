package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/urna-vote/urna/chain/store"
)

var errInjected = errors.New("injected write failure")

// commitSteps returns the write steps of committing sampleCommit(h), in order,
// as the failure hook sees them.
func commitSteps(t *testing.T) []string {
	s := openStore(t, t.TempDir(), store.Options{})
	defer s.Close()
	commitN(t, s, 1, 2)
	var steps []string
	store.SetFailAt(s, func(step string) error { steps = append(steps, step); return nil })
	if err := s.Commit(sampleCommit(3)); err != nil {
		t.Fatal(err)
	}
	return steps
}

// TestFailureAtEveryWriteStep makes each write step of a commit fail in turn
// and checks that the store, in process and after reopening, is exactly at the
// previous block (nothing of the failed one visible), except for a failure
// reported after Badger's commit, where it must be exactly at the new block:
// never in between.
func TestFailureAtEveryWriteStep(t *testing.T) {
	steps := commitSteps(t)
	// sampleCommit(3): deletes k/2, sets k/3 and last, one index entry.
	want := []string{"block", "hash", "certificate", "state", "write 0", "write 1", "write 2",
		"index 0", "head", "commit", "committed"}
	if !slices.Equal(steps, want) {
		t.Fatalf("write steps %q, want %q", steps, want)
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, store.Options{})
			commitN(t, s, 1, 2)
			store.SetFailAt(s, func(st string) error {
				if st == step {
					return errInjected
				}
				return nil
			})
			err := s.Commit(sampleCommit(3))
			if !errors.Is(err, errInjected) {
				t.Fatalf("Commit with failure at %q: %v, want the injected error", step, err)
			}
			wantHead := uint64(2)
			if step == "committed" {
				wantHead = 3
			}
			checkAt(t, s, wantHead)
			s.Close()

			s = openStore(t, dir, store.Options{})
			defer s.Close()
			checkAt(t, s, wantHead)
			// The chain goes on from where it is.
			commitN(t, s, wantHead+1, 4)
			checkAt(t, s, 4)
		})
	}
}

// TestFailureThenRetryInProcess: after an injected failure the same Store
// (not reopened) commits the same block.
func TestFailureThenRetryInProcess(t *testing.T) {
	s := openStore(t, t.TempDir(), store.Options{})
	defer s.Close()
	commitN(t, s, 1, 2)
	for i, step := range []string{"write 1", "head", "commit"} {
		store.SetFailAt(s, func(st string) error {
			if st == step {
				return fmt.Errorf("attempt %d: %w", i, errInjected)
			}
			return nil
		})
		if err := s.Commit(sampleCommit(3)); !errors.Is(err, errInjected) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		checkAt(t, s, 2)
	}
	store.SetFailAt(s, nil)
	commitN(t, s, 3, 3)
	checkAt(t, s, 3)
}

// TestSetCertificateFailure: a failed certificate replacement leaves the old
// certificate and a head that still checks out on reopen.
func TestSetCertificateFailure(t *testing.T) {
	for _, step := range []string{"certificate", "head", "commit"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, store.Options{})
			commitN(t, s, 1, 2)
			store.SetFailAt(s, func(st string) error {
				if st == step {
					return errInjected
				}
				return nil
			})
			if err := s.SetCertificate(2, []byte("new")); !errors.Is(err, errInjected) {
				t.Fatalf("SetCertificate: %v", err)
			}
			s.Close()
			s = openStore(t, dir, store.Options{})
			defer s.Close()
			checkAt(t, s, 2)
		})
	}
}
