package endpoint

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

func TestMain(m *testing.M) {
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	os.Exit(m.Run())
}

func key(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Two protocols on one listener: each connection reaches the handler of
// the ALPN it negotiated, with the dialer's key when the protocol is
// mutual and none when it is not; an unknown ALPN fails the handshake.
func TestProtocolsShareTheListener(t *testing.T) {
	server, member := key(t), key(t)
	ep, err := Listen(Config{Listen: "127.0.0.1:0", Key: server})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	got := make(chan string, 4)
	handler := func(name string) func(*quic.Conn) {
		return func(c *quic.Conn) {
			k := PeerKey(c)
			switch {
			case k == nil:
				got <- name + ":anonymous"
			case k.Equal(member.Public().(ed25519.PublicKey)):
				got <- name + ":member"
			default:
				got <- name + ":?"
			}
			<-c.Context().Done()
		}
	}
	if err := ep.Register(&Protocol{ALPN: "mutual/1", Handle: handler("mutual"), Authorize: func(k ed25519.PublicKey) error {
		if !k.Equal(member.Public().(ed25519.PublicKey)) {
			return errors.New("not a member")
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := ep.Register(&Protocol{ALPN: "open/1", Handle: handler("open")}); err != nil {
		t.Fatal(err)
	}
	if err := ep.Register(&Protocol{ALPN: "open/1", Handle: handler("x")}); err == nil {
		t.Fatal("a protocol registered twice")
	}
	if err := ep.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ep.Register(&Protocol{ALPN: "late/1", Handle: handler("late")}); err == nil {
		t.Fatal("Register after Start accepted")
	}
	dialer, err := Listen(Config{Listen: "127.0.0.1:0", Key: member})
	if err != nil {
		t.Fatal(err)
	}
	defer dialer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pin := []ed25519.PublicKey{server.Public().(ed25519.PublicKey)}
	for _, c := range []struct {
		alpn   string
		mutual bool
		want   string
	}{{"mutual/1", true, "mutual:member"}, {"open/1", false, "open:anonymous"}} {
		conn, err := dialer.Dial(ctx, ep.Addr().String(), c.alpn, pin, c.mutual)
		if err != nil {
			t.Fatal(err)
		}
		if !PeerKey(conn).Equal(pin[0]) {
			t.Fatal("the dialer does not see the server's key")
		}
		if g := <-got; g != c.want {
			t.Fatalf("%s: handler saw %s, want %s", c.alpn, g, c.want)
		}
		conn.CloseWithError(0, "")
	}
	if _, err := dialer.Dial(ctx, ep.Addr().String(), "nobody/1", pin, false); err == nil {
		t.Fatal("a dial with an unknown ALPN succeeded")
	}
	// The same key pinned but the wrong certificate shape is impossible to
	// produce with Dial; certKey is checked directly.
	if _, err := certKey(nil); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("no certificate: %v", err)
	}
	if _, err := certKey([][]byte{{1, 2, 3}}); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("garbage certificate: %v", err)
	}
}
