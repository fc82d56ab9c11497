// Package endpoint is a node's QUIC endpoint: one UDP socket and one
// quic.Transport that both listen and dial, TLS 1.3 with the node's Ed25519
// key as its identity, and several application protocols (by ALPN) on the
// one listener: the station mesh and the client protocol.
//
// Identity. Every node presents a self-signed certificate for its Ed25519
// key. A dialer pins the key (or keys) it means to reach; a protocol that
// authenticates its dialers (the mesh) requires a client certificate and
// accepts only keys its Authorize callback allows. Because TLS 1.3 finishes
// client authentication after the client's last handshake flight, a refused
// dialer's Dial returns a connection; the refusal (CRYPTO_ERROR 0x12a, "bad
// certificate") shows on that connection's first stream operation, and the
// server never hands the connection to its protocol.
package endpoint

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Application error codes with which a node closes connections (the QUIC
// CONNECTION_CLOSE frame of type 0x1d carries them with a reason phrase).
const (
	CodeShutdown     quic.ApplicationErrorCode = 0x0 // the node is stopping
	CodeReplaced     quic.ApplicationErrorCode = 0x1 // a newer connection of the same peer replaces this one
	CodeGarbage      quic.ApplicationErrorCode = 0x2 // the peer sent bytes that break the protocol
	CodeOversized    quic.ApplicationErrorCode = 0x3 // the peer sent a frame above the channel's limit
	CodeFlood        quic.ApplicationErrorCode = 0x4 // the peer kept sending far above its rate limit
	CodeWrongNetwork quic.ApplicationErrorCode = 0x5 // the peer belongs to another election
	CodeBusy         quic.ApplicationErrorCode = 0x6 // too many connections of this protocol
	CodeTimeout      quic.ApplicationErrorCode = 0x7 // the peer did not do what the protocol needs in time
)

// Protocol is one application protocol served on the endpoint.
type Protocol struct {
	// ALPN is the protocol's TLS application protocol name.
	ALPN string
	// Authorize, when set, makes the protocol mutual: a dialer must present
	// a certificate for an Ed25519 key that Authorize accepts (returns nil
	// for), or the handshake fails. When nil, dialers present none.
	Authorize func(ed25519.PublicKey) error
	// Handle serves one connection on its own goroutine. The endpoint
	// closes the connection when Handle returns.
	Handle func(*quic.Conn)
	// MaxConns bounds this protocol's concurrent connections (0: none); a
	// connection above it is closed with CodeBusy.
	MaxConns int
	// Refused, when set, is called for each handshake that Authorize
	// refused, and Busy for each connection closed for MaxConns.
	Refused func(error)
	Busy    func()

	conns atomic.Int64
}

// Config configures an endpoint.
type Config struct {
	// Listen is the UDP address to bind ("127.0.0.1:7101", "0.0.0.0:7100",
	// ":0" for any free port).
	Listen string
	// Key is the node's Ed25519 identity.
	Key ed25519.PrivateKey
	// QUIC is the QUIC configuration of both directions (nil: Defaults()).
	QUIC   *quic.Config
	Logger *slog.Logger
}

// Defaults is the QUIC configuration nodes use: keep-alives every 5 s so
// that idle links do not drop, a peer declared gone after 20 s of silence,
// at most 16 concurrent request streams and 8 one-way streams per peer,
// no 0-RTT.
func Defaults() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  5 * time.Second,
		MaxIdleTimeout:        20 * time.Second,
		KeepAlivePeriod:       5 * time.Second,
		MaxIncomingStreams:    16,
		MaxIncomingUniStreams: 8,
	}
}

// Endpoint is a node's QUIC endpoint.
type Endpoint struct {
	cfg    Config
	log    *slog.Logger
	cert   tls.Certificate
	conn   *net.UDPConn
	tr     *quic.Transport
	ln     *quic.Listener
	protos map[string]*Protocol
	order  []string

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started atomic.Bool
	closeMu sync.Once
}

// Listen binds the endpoint's UDP socket. Register the protocols, then
// Start accepting.
func Listen(cfg Config) (*Endpoint, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("endpoint: no Ed25519 key")
	}
	if cfg.QUIC == nil {
		cfg.QUIC = Defaults()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cert, err := Certificate(cfg.Key)
	if err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen address %q: %w", cfg.Listen, err)
	}
	uc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("endpoint: listening on %s: %w", cfg.Listen, err)
	}
	// The stateless reset key is derived from the node key, so it survives
	// restarts: a peer still holding a connection to our previous life gets
	// a stateless reset at once and reconnects, instead of timing out.
	rk := quic.StatelessResetKey(sha256.Sum256(append([]byte("urna/v1/quic-stateless-reset"), cfg.Key.Seed()...)))
	e := &Endpoint{
		cfg: cfg, log: cfg.Logger, cert: cert, conn: uc,
		tr:     &quic.Transport{Conn: uc, StatelessResetKey: &rk},
		protos: map[string]*Protocol{},
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Addr is the bound UDP address.
func (e *Endpoint) Addr() net.Addr { return e.conn.LocalAddr() }

// Key is the endpoint's identity.
func (e *Endpoint) Key() ed25519.PrivateKey { return e.cfg.Key }

// Register adds a protocol; call it before Start.
func (e *Endpoint) Register(p *Protocol) error {
	if e.started.Load() {
		return errors.New("endpoint: Register after Start")
	}
	if p.ALPN == "" || p.Handle == nil {
		return errors.New("endpoint: a protocol needs an ALPN and a handler")
	}
	if _, dup := e.protos[p.ALPN]; dup {
		return fmt.Errorf("endpoint: protocol %q registered twice", p.ALPN)
	}
	e.protos[p.ALPN] = p
	e.order = append(e.order, p.ALPN)
	return nil
}

// Start starts accepting connections of the registered protocols.
func (e *Endpoint) Start() error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("endpoint: started twice")
	}
	base := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
		GetConfigForClient:     e.serverTLS,
	}
	ln, err := e.tr.Listen(base, e.cfg.QUIC)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	e.ln = ln
	e.wg.Add(1)
	go e.accept()
	return nil
}

// serverTLS picks the TLS configuration by the protocol the client offers.
func (e *Endpoint) serverTLS(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	for _, alpn := range e.order {
		for _, offered := range hello.SupportedProtos {
			if offered != alpn {
				continue
			}
			p := e.protos[alpn]
			c := &tls.Config{
				MinVersion:             tls.VersionTLS13,
				Certificates:           []tls.Certificate{e.cert},
				NextProtos:             []string{alpn},
				SessionTicketsDisabled: true,
			}
			if p.Authorize != nil {
				c.ClientAuth = tls.RequireAnyClientCert
				c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
					k, err := certKey(raw)
					if err == nil {
						err = p.Authorize(k)
					}
					if err != nil {
						e.log.Warn("refused a peer at the handshake", "protocol", alpn, "addr", hello.Conn.RemoteAddr(), "err", err)
						if p.Refused != nil {
							p.Refused(err)
						}
					}
					return err
				}
			}
			return c, nil
		}
	}
	return nil, fmt.Errorf("endpoint: no common application protocol in %q", hello.SupportedProtos)
}

func (e *Endpoint) accept() {
	defer e.wg.Done()
	for {
		conn, err := e.ln.Accept(e.ctx)
		if err != nil {
			return
		}
		p := e.protos[conn.ConnectionState().TLS.NegotiatedProtocol]
		if p == nil {
			conn.CloseWithError(CodeGarbage, "no protocol")
			continue
		}
		if n := p.conns.Add(1); p.MaxConns > 0 && n > int64(p.MaxConns) {
			p.conns.Add(-1)
			// Count before closing: whoever sees the refusal finds it counted.
			if p.Busy != nil {
				p.Busy()
			}
			conn.CloseWithError(CodeBusy, "too many connections")
			continue
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer p.conns.Add(-1)
			defer conn.CloseWithError(CodeShutdown, "")
			p.Handle(conn)
		}()
	}
}

// Dial connects to addr with a protocol, pinning the server's key to one
// of pins, from the endpoint's own socket. For a mutual protocol the
// endpoint presents its certificate. Remember that a server that refuses
// our certificate lets Dial succeed: the refusal shows on the first stream
// operation.
func (e *Endpoint) Dial(ctx context.Context, addr, alpn string, pins []ed25519.PublicKey, mutual bool) (*quic.Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: address %q: %w", addr, err)
	}
	var cert *tls.Certificate
	if mutual {
		cert = &e.cert
	}
	return e.tr.Dial(ctx, ua, ClientTLS(alpn, pins, cert), e.cfg.QUIC)
}

// Close stops accepting, closes every connection and the socket, and waits
// for the protocols' handlers to return.
func (e *Endpoint) Close() error {
	var err error
	e.closeMu.Do(func() {
		e.cancel()
		if e.ln != nil {
			e.ln.Close()
		}
		err = e.tr.Close()
		e.conn.Close()
		e.wg.Wait()
	})
	return err
}

// PeerKey is the Ed25519 key the peer of an established connection proved
// it holds (nil if it presented no certificate).
func PeerKey(conn *quic.Conn) ed25519.PublicKey {
	certs := conn.ConnectionState().TLS.PeerCertificates
	if len(certs) != 1 {
		return nil
	}
	k, _ := certs[0].PublicKey.(ed25519.PublicKey)
	return k
}
