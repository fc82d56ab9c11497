package endpoint

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Errors of peer authentication.
var (
	// ErrBadCertificate: the peer's certificate is not a single
	// certificate for an Ed25519 key.
	ErrBadCertificate = errors.New("peer certificate is not one Ed25519 certificate")
	// ErrUnexpectedKey: the peer's key is not the one (or one of those) the
	// dialer pinned.
	ErrUnexpectedKey = errors.New("peer key is not the pinned key")
)

// Certificate makes the TLS certificate of a node: self-signed, for the
// node's own Ed25519 key. Nobody checks its names or dates; peers check
// the key itself (see PeerKey and the pins of Dial), and TLS 1.3 proves that
// the node holds it.
func Certificate(key ed25519.PrivateKey) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "urna node"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("endpoint: making the node certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// certKey returns the Ed25519 key of a peer's certificate chain, which must
// be exactly one certificate.
func certKey(raw [][]byte) (ed25519.PublicKey, error) {
	if len(raw) != 1 {
		return nil, fmt.Errorf("%w: %d certificates", ErrBadCertificate, len(raw))
	}
	c, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	k, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: key is %T", ErrBadCertificate, c.PublicKey)
	}
	return k, nil
}

// pinned returns a VerifyPeerCertificate callback that accepts only a
// certificate for one of the keys.
func pinned(keys []ed25519.PublicKey) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		k, err := certKey(raw)
		if err != nil {
			return err
		}
		for _, want := range keys {
			if k.Equal(want) {
				return nil
			}
		}
		return fmt.Errorf("%w: %x…", ErrUnexpectedKey, k[:8])
	}
}

// ClientTLS is the TLS configuration of a dialer: TLS 1.3 only, the given
// application protocol, the server's key pinned to one of pins (no CA, no
// host name: the key is the identity), and, when cert is not nil, a client
// certificate for mutual authentication. No session tickets, so no 0-RTT.
func ClientTLS(alpn string, pins []ed25519.PublicKey, cert *tls.Certificate) *tls.Config {
	c := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		NextProtos:             []string{alpn},
		ServerName:             "urna",
		InsecureSkipVerify:     true, // turns off CA and name checks only: VerifyPeerCertificate pins the key
		VerifyPeerCertificate:  pinned(pins),
		SessionTicketsDisabled: true,
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}
