package ballot

import (
	"errors"
	"slices"
	"testing"
)

func TestSpoiledBallotRevealsWhatWasShown(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	b, _, ch, nonces := newTestBallot(t, e, 11)
	sp, err := e.Spoil(b, ch, nonces)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSpoiledBallot(sp.Encode())
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.VerifySpoiled(back)
	if err != nil {
		t.Fatalf("honest reveal rejected: %v", err)
	}
	for ci := range ch {
		if !slices.Equal(got[ci], ch[ci]) {
			t.Fatalf("contest %d: revealed %v, shown %v", ci, got[ci], ch[ci])
		}
	}
}

// A terminal that encrypted something else than it showed is caught: its
// reveal of the shown choices does not match the ciphertexts.
func TestSpoiledBallotCatchesLyingTerminal(t *testing.T) {
	e, _ := testElection(t, mayorManifest(), 1)
	cred := testCredential(1)
	encrypted := Choices{{false, true, false, false}} // what the terminal encrypted
	shown := Choices{{true, false, false, false}}     // what it showed the voter
	b, nonces, err := e.NewBallot(cred, "st1", encrypted, testRand(1))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := e.Spoil(b, shown, nonces)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.VerifySpoiled(sp)
	if !errors.Is(err, ErrRevealMismatch) {
		t.Fatalf("lying terminal: got %v, want ErrRevealMismatch", err)
	}
	var be *BallotError
	if !errors.As(err, &be) || be.Contest != "mayor" || be.Selection != 0 {
		t.Fatalf("error does not name the selection: %v", err)
	}

	honest, _ := e.Spoil(b, encrypted, nonces)
	for name, mutate := range map[string]func(sp *SpoiledBallot){
		"nonce":         func(sp *SpoiledBallot) { sp.Nonces[0][2] = addOne(sp.Nonces[0][2]) },
		"mark 2":        func(sp *SpoiledBallot) { sp.Marks[0][1] = 2 },
		"missing nonce": func(sp *SpoiledBallot) { sp.Nonces[0] = sp.Nonces[0][:3] },
		"unreduced":     func(sp *SpoiledBallot) { copy(sp.Nonces[0][0][:], orderBytes) },
		"ballot":        func(sp *SpoiledBallot) { sp.Ballot.Signature[0] ^= 1 },
	} {
		sp, _ := DecodeSpoiledBallot(honest.Encode())
		mutate(sp)
		if _, err := e.VerifySpoiled(sp); err == nil {
			t.Errorf("%s: tampered reveal accepted", name)
		}
	}
}
