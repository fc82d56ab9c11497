package ballot

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"go.dedis.ch/kyber/v3"
	"go.dedis.ch/kyber/v3/group/edwards25519"
	"go.dedis.ch/kyber/v3/share"
	dkg "go.dedis.ch/kyber/v3/share/dkg/pedersen"
	vss "go.dedis.ch/kyber/v3/share/vss/pedersen"
	"go.dedis.ch/kyber/v3/util/random"
	"go.dedis.ch/kyber/v3/xof/blake2xb"
)

// The election key is made by a Pedersen DKG (kyber's share/dkg/pedersen)
// among the stations, run over the chain: every message below is public and
// travels as a transaction. Deals are encrypted to their recipient, so
// publishing them reveals nothing. When a station's DKG is done it announces
// the result (KeyAnnouncement: the election key and every station's public
// share); the chain takes the key once a quorum of stations announced the
// same result, so anyone can derive the key and the public shares from the
// public transcript alone.
//
// Kyber's messages are converted to the CBOR messages of this file at the
// edge, so that what crosses the chain is decoded strictly (canonical
// points and scalars, bounded sizes) before kyber sees it.

// DealBundle is a dealer's deals, one per other station, in recipient order.
type DealBundle struct {
	_      struct{} `cbor:",toarray"`
	Dealer uint32
	Deals  []EncryptedDeal
}

// EncryptedDeal is kyber's dkg.Deal with its vss.EncryptedDeal flattened.
type EncryptedDeal struct {
	_         struct{} `cbor:",toarray"`
	Recipient uint32
	DHKey     [PointSize]byte // ephemeral Diffie–Hellman key of the dealer
	DHSig     []byte          // dealer's Schnorr signature of DHKey
	Nonce     []byte          // AEAD nonce
	Cipher    []byte          // AEAD-encrypted deal
	Signature []byte          // dealer's Schnorr signature of (dealer index, Cipher)
}

// ResponseBundle is a station's responses (approval or complaint) to deals.
type ResponseBundle struct {
	_         struct{} `cbor:",toarray"`
	Responder uint32
	Responses []DealResponse
}

// DealResponse is kyber's dkg.Response flattened.
type DealResponse struct {
	_         struct{} `cbor:",toarray"`
	Dealer    uint32
	SessionID []byte
	Approved  bool
	Signature []byte // responder's Schnorr signature
}

// JustificationBundle is a dealer's answers to complaints against its deal:
// the complained-about deal in the clear, for everyone to check.
type JustificationBundle struct {
	_              struct{} `cbor:",toarray"`
	Dealer         uint32
	Justifications []Justification
}

// Justification is kyber's dkg.Justification flattened.
type Justification struct {
	_           struct{} `cbor:",toarray"`
	Recipient   uint32   // the complaining station
	SessionID   []byte
	Share       [ScalarSize]byte // the recipient's share, revealed
	Threshold   uint32
	Commitments [][PointSize]byte
	DealSession []byte // the session id inside the revealed deal
	Signature   []byte // dealer's Schnorr signature
}

// KeyAnnouncement is a station's result of the DKG: who qualified, the
// election key and every station's public share (the joint public
// polynomial evaluated at each station's index).
type KeyAnnouncement struct {
	_            struct{} `cbor:",toarray"`
	Station      uint32
	Qualified    []uint32 // dealers whose deals count, ascending
	Key          [PointSize]byte
	PublicShares [][PointSize]byte // one per station, in station order
}

// MaxDKGMessageSize bounds every encoded DKG message.
const MaxDKGMessageSize = 1 << 20

// Errors of DKG messages.
var (
	ErrDKGMessage = errors.New("malformed DKG message")
	ErrDKGState   = errors.New("DKG is not in a state to do that")
	ErrDKGFailed  = errors.New("DKG did not qualify enough dealers")
)

// ErrBadThreshold reports a threshold outside f < t ≤ n − f or below kyber's
// minimum of 2.
var ErrBadThreshold = errors.New("DKG threshold out of range")

// CheckThreshold checks f < t ≤ n − f (with f = ⌊(n−1)/3⌋) and t ≥ 2, the
// smallest threshold kyber's VSS accepts.
func CheckThreshold(n, t int) error {
	f := (n - 1) / 3
	if t <= f || t > n-f || t < 2 {
		return fmt.Errorf("%w: t = %d with n = %d, f = %d (want max(2, f+1) ≤ t ≤ n−f)", ErrBadThreshold, t, n, f)
	}
	return nil
}

// Encode returns the canonical bytes.
func (m *DealBundle) Encode() []byte { return marshal(m) }

// Encode returns the canonical bytes.
func (m *ResponseBundle) Encode() []byte { return marshal(m) }

// Encode returns the canonical bytes.
func (m *JustificationBundle) Encode() []byte { return marshal(m) }

// Encode returns the canonical bytes.
func (m *KeyAnnouncement) Encode() []byte { return marshal(m) }

// DecodeDealBundle decodes a deal bundle strictly (encoding only; see Check).
func DecodeDealBundle(b []byte) (*DealBundle, error) {
	return decodeAs[DealBundle](b, "deal bundle", MaxDKGMessageSize)
}

// DecodeResponseBundle decodes a response bundle strictly.
func DecodeResponseBundle(b []byte) (*ResponseBundle, error) {
	return decodeAs[ResponseBundle](b, "response bundle", MaxDKGMessageSize)
}

// DecodeJustificationBundle decodes a justification bundle strictly.
func DecodeJustificationBundle(b []byte) (*JustificationBundle, error) {
	return decodeAs[JustificationBundle](b, "justification bundle", MaxDKGMessageSize)
}

// DecodeKeyAnnouncement decodes a key announcement strictly.
func DecodeKeyAnnouncement(b []byte) (*KeyAnnouncement, error) {
	return decodeAs[KeyAnnouncement](b, "key announcement", MaxDKGMessageSize)
}

// Structural checks that need only the public parameters (n stations,
// threshold t). The chain runs them on every DKG transaction, so that what
// reaches a station's DKG is well-formed.

const schnorrSigSize = 64

func dkgErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDKGMessage}, args...)...)
}

// Check verifies the bundle's shape: a valid dealer, one deal for every other
// station in recipient order, canonical DH keys and bounded fields.
func (m *DealBundle) Check(n int) error {
	if int(m.Dealer) >= n {
		return dkgErr("dealer %d is not a station (n = %d)", m.Dealer, n)
	}
	if len(m.Deals) != n-1 {
		return dkgErr("dealer %d: %d deals, want %d", m.Dealer, len(m.Deals), n-1)
	}
	want := uint32(0)
	for i := range m.Deals {
		d := &m.Deals[i]
		if want == m.Dealer {
			want++
		}
		if d.Recipient != want {
			return dkgErr("dealer %d: deal %d is for station %d, want %d", m.Dealer, i, d.Recipient, want)
		}
		want++
		if _, err := DecodePoint(d.DHKey[:]); err != nil {
			return dkgErr("dealer %d: deal for %d: DH key: %w", m.Dealer, d.Recipient, err)
		}
		if len(d.DHSig) != schnorrSigSize || len(d.Signature) != schnorrSigSize {
			return dkgErr("dealer %d: deal for %d: signatures must be %d bytes", m.Dealer, d.Recipient, schnorrSigSize)
		}
		if len(d.Nonce) != 12 || len(d.Cipher) == 0 {
			return dkgErr("dealer %d: deal for %d: bad nonce or empty cipher", m.Dealer, d.Recipient)
		}
	}
	return nil
}

// Check verifies the bundle's shape: a valid responder, responses about
// other stations' deals in ascending dealer order, bounded fields.
func (m *ResponseBundle) Check(n int) error {
	if int(m.Responder) >= n {
		return dkgErr("responder %d is not a station (n = %d)", m.Responder, n)
	}
	if len(m.Responses) == 0 || len(m.Responses) > n-1 {
		return dkgErr("responder %d: %d responses (want 1..%d)", m.Responder, len(m.Responses), n-1)
	}
	for i := range m.Responses {
		r := &m.Responses[i]
		if int(r.Dealer) >= n || r.Dealer == m.Responder {
			return dkgErr("responder %d: response %d about dealer %d", m.Responder, i, r.Dealer)
		}
		if i > 0 && r.Dealer <= m.Responses[i-1].Dealer {
			return dkgErr("responder %d: responses not in ascending dealer order", m.Responder)
		}
		if len(r.SessionID) != 32 || len(r.Signature) != schnorrSigSize {
			return dkgErr("responder %d: response about %d: bad session id or signature size", m.Responder, r.Dealer)
		}
	}
	return nil
}

// Check verifies the bundle's shape, including that every revealed share is
// a canonical scalar and every commitment a valid point.
func (m *JustificationBundle) Check(n, t int) error {
	if int(m.Dealer) >= n {
		return dkgErr("dealer %d is not a station (n = %d)", m.Dealer, n)
	}
	if len(m.Justifications) == 0 || len(m.Justifications) > n-1 {
		return dkgErr("dealer %d: %d justifications (want 1..%d)", m.Dealer, len(m.Justifications), n-1)
	}
	for i := range m.Justifications {
		j := &m.Justifications[i]
		if int(j.Recipient) >= n || j.Recipient == m.Dealer {
			return dkgErr("dealer %d: justification %d for station %d", m.Dealer, i, j.Recipient)
		}
		if i > 0 && j.Recipient <= m.Justifications[i-1].Recipient {
			return dkgErr("dealer %d: justifications not in ascending recipient order", m.Dealer)
		}
		if int(j.Threshold) != t || len(j.Commitments) != t {
			return dkgErr("dealer %d: justification for %d: threshold %d with %d commitments, want %d", m.Dealer, j.Recipient, j.Threshold, len(j.Commitments), t)
		}
		if _, err := DecodeScalar(j.Share[:]); err != nil {
			return dkgErr("dealer %d: justification for %d: share: %w", m.Dealer, j.Recipient, err)
		}
		for k := range j.Commitments {
			if _, err := DecodePoint(j.Commitments[k][:]); err != nil {
				return dkgErr("dealer %d: justification for %d: commitment %d: %w", m.Dealer, j.Recipient, k, err)
			}
		}
		if len(j.SessionID) != 32 || len(j.DealSession) != 32 || len(j.Signature) != schnorrSigSize {
			return dkgErr("dealer %d: justification for %d: bad session id or signature size", m.Dealer, j.Recipient)
		}
	}
	return nil
}

// Check verifies an announcement: a valid station, at least t qualified
// dealers, a valid key and n valid public shares that lie on one polynomial
// of degree t−1 whose value at 0 is the key. That last check means a
// quorum's announcement always decrypts: any t public shares interpolate to
// the announced key.
func (m *KeyAnnouncement) Check(n, t int) error {
	if int(m.Station) >= n {
		return dkgErr("announcement from %d: not a station (n = %d)", m.Station, n)
	}
	if len(m.Qualified) < t || len(m.Qualified) > n {
		return dkgErr("announcement from %d: %d qualified dealers, want %d..%d", m.Station, len(m.Qualified), t, n)
	}
	for i, q := range m.Qualified {
		if int(q) >= n || (i > 0 && q <= m.Qualified[i-1]) {
			return dkgErr("announcement from %d: qualified list must be ascending station indices", m.Station)
		}
	}
	key, err := DecodePoint(m.Key[:])
	if err != nil {
		return dkgErr("announcement from %d: key: %w", m.Station, err)
	}
	if len(m.PublicShares) != n {
		return dkgErr("announcement from %d: %d public shares, want %d", m.Station, len(m.PublicShares), n)
	}
	pub := make([]*share.PubShare, n)
	for i := range m.PublicShares {
		p, err := DecodePoint(m.PublicShares[i][:])
		if err != nil {
			return dkgErr("announcement from %d: public share %d: %w", m.Station, i, err)
		}
		pub[i] = &share.PubShare{I: i, V: p}
	}
	// Interpolate the polynomial from the first t shares; every other share
	// and the key must lie on it.
	poly, err := share.RecoverPubPoly(suite, pub[:t], t, n)
	if err != nil {
		return dkgErr("announcement from %d: %v", m.Station, err)
	}
	if !poly.Commit().Equal(key) {
		return dkgErr("announcement from %d: public shares do not interpolate to the key", m.Station)
	}
	for i := t; i < n; i++ {
		if !poly.Eval(i).V.Equal(pub[i].V) {
			return dkgErr("announcement from %d: public share %d is not on the polynomial", m.Station, i)
		}
	}
	return nil
}

// SameResult reports whether two announcements state the same outcome.
func (m *KeyAnnouncement) SameResult(o *KeyAnnouncement) bool {
	return m.Key == o.Key && slices.Equal(m.Qualified, o.Qualified) && slices.Equal(m.PublicShares, o.PublicShares)
}

// KeyShare is a station's secret share of the election key, kept on the
// station's disk and never on the chain, with the result it belongs to.
type KeyShare struct {
	_      struct{} `cbor:",toarray"`
	Index  uint32
	Secret [ScalarSize]byte
	Result KeyAnnouncement
}

// LogValue keeps the secret out of logs.
func (k *KeyShare) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("key share of station %d [secret redacted]", k.Index))
}

// Encode returns the canonical bytes (secret: store with care).
func (k *KeyShare) Encode() []byte { return marshal(k) }

// ErrShareMismatch reports a secret share that does not match its public share.
var ErrShareMismatch = errors.New("secret share does not match the station's public share")

// DecodeKeyShare decodes a stored key share and checks that the secret
// matches the station's public share.
func DecodeKeyShare(b []byte, n, t int) (*KeyShare, error) {
	var k KeyShare
	if err := unmarshalStrict(b, &k, MaxDKGMessageSize); err != nil {
		return nil, fmt.Errorf("key share: %w", err)
	}
	if err := k.Result.Check(n, t); err != nil {
		return nil, fmt.Errorf("key share: %w", err)
	}
	if err := k.check(); err != nil {
		return nil, err
	}
	return &k, nil
}

func (k *KeyShare) check() error {
	s, err := DecodeScalar(k.Secret[:])
	if err != nil {
		return fmt.Errorf("key share: %w", err)
	}
	if int(k.Index) >= len(k.Result.PublicShares) {
		return fmt.Errorf("key share: index %d out of range", k.Index)
	}
	if EncodePoint(suite.Point().Mul(s, nil)) != k.Result.PublicShares[k.Index] {
		return ErrShareMismatch
	}
	return nil
}

// MatchesResult reports whether this share belongs to the given (quorum)
// result: a station whose own DKG view differs from the quorum's holds no
// usable share and must not post decryption shares.
func (k *KeyShare) MatchesResult(res *KeyAnnouncement) bool {
	return k.Result.SameResult(res) && k.check() == nil
}

// SecretScalar returns the secret share as a scalar.
func (k *KeyShare) SecretScalar() (kyber.Scalar, error) { return DecodeScalar(k.Secret[:]) }

// StationScalar is the kyber scalar of a station's Ed25519 seed: the same
// secret that signs its blocks is its DKG long-term key (RFC 8032: the
// clamped first half of SHA-512(seed)), so its DKG public key is its Ed25519
// public key.
func StationScalar(seed []byte) (kyber.Scalar, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("ballot: station seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	h := sha512.Sum512(seed)
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	return suite.Scalar().SetBytes(h[:32]), nil
}

// DKG is one station's side of the key generation.
//
// Determinism across restarts: a station that crashes in the middle of the
// DKG must recreate exactly the dealer it was, since its deals are already
// on the chain. Its secret polynomial, the ephemeral keys of its deals and
// the nonces of their signatures are therefore drawn from a stream derived
// from its seed and the election fingerprint. That stream is used only by
// NewDKG and Deals, which always run first and in the same order, so no
// signing nonce is ever reused for a different message. After Deals, kyber
// draws from crypto/rand again.
type DKG struct {
	gen     *dkg.DistKeyGenerator
	index   uint32
	n, t    int
	stream  *switchStream
	dealt   bool
	timeout bool
	// justified holds the shares dealers revealed, in answer to this
	// station's complaints, in place of the wrong ones they had dealt it.
	justified map[uint32]kyber.Scalar
}

// switchStream is the random source of the station's kyber suite:
// deterministic until switched, crypto/rand after.
type switchStream struct {
	det    kyber.XOF
	crypto bool
	fresh  interface{ XORKeyStream(dst, src []byte) }
}

func (s *switchStream) XORKeyStream(dst, src []byte) {
	if s.crypto {
		s.fresh.XORKeyStream(dst, src)
		return
	}
	s.det.XORKeyStream(dst, src)
}

// NewDKG prepares a station's DKG among the given stations (all stations'
// Ed25519 public keys, in station order) with threshold t. seed is this
// station's Ed25519 seed.
func NewDKG(fingerprint [32]byte, seed []byte, stations []ed25519.PublicKey, t int) (_ *DKG, err error) {
	n := len(stations)
	if err := CheckThreshold(n, t); err != nil {
		return nil, err
	}
	long, err := StationScalar(seed)
	if err != nil {
		return nil, err
	}
	points := make([]kyber.Point, n)
	for i, k := range stations {
		if points[i], err = DecodePoint(k); err != nil {
			return nil, fmt.Errorf("ballot: station %d public key: %w", i, err)
		}
	}
	self := EncodePoint(suite.Point().Mul(long, nil))
	index := -1
	for i, k := range stations {
		if string(k) == string(self[:]) {
			index = i
		}
	}
	if index < 0 {
		return nil, errors.New("ballot: this station's key is not among the election's stations")
	}
	defer recoverKyber(&err)
	key := dkgStreamKey(fingerprint, seed)
	stream := &switchStream{det: blake2xb.New(append(key[:], "dealing"...)), fresh: random.New()}
	gen, err := dkg.NewDistKeyHandler(&dkg.Config{
		Suite:          edwards25519.NewBlakeSHA256Ed25519WithRand(stream),
		Longterm:       long,
		NewNodes:       points,
		Threshold:      t,
		Reader:         blake2xb.New(append(key[:], "secret"...)),
		UserReaderOnly: true,
	})
	if err != nil {
		return nil, fmt.Errorf("ballot: starting DKG: %w", err)
	}
	return &DKG{gen: gen, index: uint32(index), n: n, t: t, stream: stream, justified: map[uint32]kyber.Scalar{}}, nil
}

func dkgStreamKey(fingerprint [32]byte, seed []byte) [32]byte {
	h := sha512.New()
	h.Write([]byte("urna/v1/dkg-randomness"))
	h.Write(fingerprint[:])
	h.Write(seed)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Index is this station's index.
func (d *DKG) Index() uint32 { return d.index }

// Deals returns this station's deal bundle. It may be called only once per
// DKG value; a restarted station makes a new DKG and gets the same bundle.
func (d *DKG) Deals() (_ *DealBundle, err error) {
	if d.dealt {
		return nil, fmt.Errorf("%w: deals already made", ErrDKGState)
	}
	defer recoverKyber(&err)
	deals, err := d.gen.Deals()
	d.dealt = true
	d.stream.crypto = true
	if err != nil {
		return nil, fmt.Errorf("ballot: making deals: %w", err)
	}
	b := &DealBundle{Dealer: d.index}
	for i := range d.n {
		dd, ok := deals[i]
		if !ok {
			continue
		}
		ed := EncryptedDeal{
			Recipient: uint32(i),
			DHSig:     dd.Deal.Signature,
			Nonce:     dd.Deal.Nonce,
			Cipher:    dd.Deal.Cipher,
			Signature: dd.Signature,
		}
		copy(ed.DHKey[:], dd.Deal.DHKey)
		b.Deals = append(b.Deals, ed)
	}
	return b, nil
}

// recoverKyber turns a panic inside kyber (possible on hostile input deep in
// its decoders) into an error: a node never panics on input.
func recoverKyber(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: kyber panicked: %v", ErrDKGMessage, r)
	}
}

// ProcessDeals handles a dealer's bundle: it decrypts and verifies the deal
// addressed to this station and returns the response to publish. The bundle
// must have passed Check. A bundle from this station itself is ignored (its
// own deal was processed by Deals).
func (d *DKG) ProcessDeals(b *DealBundle) (_ *DealResponse, err error) {
	if b.Dealer == d.index {
		return nil, nil
	}
	defer recoverKyber(&err)
	for i := range b.Deals {
		ed := &b.Deals[i]
		if ed.Recipient != d.index {
			continue
		}
		resp, err := d.gen.ProcessDeal(&dkg.Deal{
			Index: b.Dealer,
			Deal: &vss.EncryptedDeal{
				DHKey:     append([]byte(nil), ed.DHKey[:]...),
				Signature: ed.DHSig,
				Nonce:     ed.Nonce,
				Cipher:    ed.Cipher,
			},
			Signature: ed.Signature,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: deal from %d: %v", ErrDKGMessage, b.Dealer, err)
		}
		return &DealResponse{
			Dealer:    resp.Index,
			SessionID: resp.Response.SessionID,
			Approved:  resp.Response.Status == vss.StatusApproval,
			Signature: resp.Response.Signature,
		}, nil
	}
	return nil, fmt.Errorf("%w: bundle from %d has no deal for station %d", ErrDKGMessage, b.Dealer, d.index)
}

// ProcessResponses handles another station's responses. If one of them is a
// complaint about this station's own deal, it returns the justification to
// publish. Responses that kyber refuses (bad signature, unknown session) are
// reported in the error after the others are processed.
func (d *DKG) ProcessResponses(b *ResponseBundle) (_ *Justification, err error) {
	if b.Responder == d.index {
		return nil, nil
	}
	defer recoverKyber(&err)
	var just *Justification
	var errs []error
	for i := range b.Responses {
		r := &b.Responses[i]
		j, perr := d.gen.ProcessResponse(&dkg.Response{
			Index: r.Dealer,
			Response: &vss.Response{
				SessionID: r.SessionID,
				Index:     b.Responder,
				Status:    r.Approved,
				Signature: r.Signature,
			},
		})
		if perr != nil {
			errs = append(errs, fmt.Errorf("response of %d about %d: %v", b.Responder, r.Dealer, perr))
			continue
		}
		if j != nil {
			just = justificationFromKyber(j)
		}
	}
	if len(errs) > 0 {
		return just, fmt.Errorf("%w: %w", ErrDKGMessage, errors.Join(errs...))
	}
	return just, nil
}

func justificationFromKyber(j *dkg.Justification) *Justification {
	deal := j.Justification.Deal
	out := &Justification{
		Recipient:   j.Justification.Index,
		SessionID:   j.Justification.SessionID,
		Share:       EncodeScalar(deal.SecShare.V),
		Threshold:   deal.T,
		DealSession: deal.SessionID,
		Signature:   j.Justification.Signature,
	}
	for _, c := range deal.Commitments {
		out.Commitments = append(out.Commitments, EncodePoint(c))
	}
	return out
}

// ProcessJustifications handles a dealer's justifications. The bundle must
// have passed Check.
func (d *DKG) ProcessJustifications(b *JustificationBundle) (err error) {
	if b.Dealer == d.index {
		return nil
	}
	defer recoverKyber(&err)
	var errs []error
	for i := range b.Justifications {
		j := &b.Justifications[i]
		sh, serr := DecodeScalar(j.Share[:])
		commits := make([]kyber.Point, len(j.Commitments))
		for k := range j.Commitments {
			if serr != nil {
				break
			}
			commits[k], serr = DecodePoint(j.Commitments[k][:])
		}
		if serr != nil {
			errs = append(errs, fmt.Errorf("justification of %d for %d: %w", b.Dealer, j.Recipient, serr))
			continue
		}
		// Kyber checks the revealed share against the commitments the
		// justification itself carries: they must be those of the deal this
		// station got, or a dealer could justify with another polynomial.
		// (A station that got no deal from this dealer has none to compare.)
		if v := d.gen.Verifiers()[b.Dealer]; v != nil && v.Commits() != nil && !samePoints(v.Commits(), commits) {
			errs = append(errs, fmt.Errorf("justification of %d for %d: its commitments are not those of the deal", b.Dealer, j.Recipient))
			continue
		}
		perr := d.gen.ProcessJustification(&dkg.Justification{
			Index: b.Dealer,
			Justification: &vss.Justification{
				SessionID: j.SessionID,
				Index:     j.Recipient,
				Deal: &vss.Deal{
					SessionID:   j.DealSession,
					SecShare:    &share.PriShare{I: int(j.Recipient), V: sh},
					T:           j.Threshold,
					Commitments: commits,
				},
				Signature: j.Signature,
			},
		})
		if perr != nil {
			errs = append(errs, fmt.Errorf("justification of %d for %d: %v", b.Dealer, j.Recipient, perr))
			continue
		}
		if j.Recipient == d.index {
			d.justified[b.Dealer] = sh
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrDKGMessage, errors.Join(errs...))
	}
	return nil
}

func samePoints(a, b []kyber.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// Certified reports whether every deal is settled (all responses in, no open
// complaint): the DKG can finish without waiting for the deadline.
func (d *DKG) Certified() bool { return d.gen.Certified() }

// Timeout tells the DKG that the deadline (a chain height every station
// agrees on) has passed: missing responses no longer block a deal, and
// unanswered complaints disqualify its dealer.
func (d *DKG) Timeout() {
	d.timeout = true
	d.gen.SetTimeout()
}

// Finish computes this station's share and the announcement to publish. It
// succeeds when the DKG is Certified, or after Timeout when at least t
// dealers qualified.
func (d *DKG) Finish() (_ *KeyShare, err error) {
	defer recoverKyber(&err)
	if !d.gen.Certified() && !(d.timeout && d.gen.ThresholdCertified()) {
		if d.timeout {
			return nil, fmt.Errorf("%w: %d qualified, need %d", ErrDKGFailed, len(d.gen.QUAL()), d.t)
		}
		return nil, fmt.Errorf("%w: not certified and deadline not reached", ErrDKGState)
	}
	// A dealer that answered our complaint with a valid justification is
	// sound: the share it revealed is ours from it, not the wrong one it
	// dealt us (kyber keeps the deal as received, and would sum the wrong
	// share into ours: our key share would not match our public share).
	// The deal is kyber's own, reached through its exported accessors.
	for _, dealer := range slices.Sorted(maps.Keys(d.justified)) {
		if v := d.gen.Verifiers()[dealer]; v != nil {
			if deal := v.Deal(); deal != nil && deal.SecShare != nil {
				deal.SecShare.V = d.justified[dealer]
			}
		}
	}
	dks, err := d.gen.DistKeyShare()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDKGFailed, err)
	}
	qual := d.gen.QUAL()
	slices.Sort(qual)
	ann := KeyAnnouncement{Station: d.index, Key: EncodePoint(dks.Public())}
	for _, q := range qual {
		ann.Qualified = append(ann.Qualified, uint32(q))
	}
	poly := share.NewPubPoly(suite, nil, dks.Commits)
	for i := range d.n {
		ann.PublicShares = append(ann.PublicShares, EncodePoint(poly.Eval(i).V))
	}
	if err := ann.Check(d.n, d.t); err != nil {
		// The joint polynomial is unsound (a dealer smuggled a point outside
		// the prime-order group into its commitments): announce nothing
		// rather than a key that cannot be used.
		return nil, fmt.Errorf("%w: own result fails its check: %w", ErrDKGFailed, err)
	}
	k := &KeyShare{Index: d.index, Secret: EncodeScalar(dks.Share.V), Result: ann}
	if err := k.check(); err != nil {
		return nil, err
	}
	return k, nil
}
