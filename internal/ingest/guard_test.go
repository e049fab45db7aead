package ingest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

func TestBlockedReason(t *testing.T) {
	tests := []struct {
		addr string
		want string // "" = public, allowed
	}{
		{"127.0.0.1", "loopback address"},
		{"127.255.0.9", "loopback address"},
		{"10.0.0.1", "private address"},
		{"172.16.0.1", "private address"},
		{"172.31.255.254", "private address"},
		{"192.168.1.1", "private address"},
		{"169.254.169.254", "link-local address (cloud metadata service)"},
		{"169.254.1.1", "link-local address"},
		{"100.64.0.1", "shared address (carrier-grade NAT)"},
		{"100.127.255.255", "shared address (carrier-grade NAT)"},
		{"0.0.0.0", "unspecified address"},
		{"0.1.2.3", "reserved address (this network)"},
		{"255.255.255.255", "broadcast address"},
		{"224.0.0.1", "multicast address"},
		{"239.255.255.250", "multicast address"},
		{"240.0.0.1", "reserved address"},
		{"192.0.0.8", "reserved address (IETF protocol assignments)"},
		{"192.0.2.1", "reserved address (documentation)"},
		{"198.18.0.1", "reserved address (benchmarking)"},
		{"198.51.100.7", "reserved address (documentation)"},
		{"203.0.113.9", "reserved address (documentation)"},
		{"::1", "loopback address"},
		{"::", "unspecified address"},
		{"::ffff:127.0.0.1", "loopback address"},
		{"::ffff:10.0.0.1", "private address"},
		{"::ffff:169.254.169.254", "link-local address (cloud metadata service)"},
		{"::ffff:100.64.0.1", "shared address (carrier-grade NAT)"},
		{"::ffff:0.0.0.0", "unspecified address"},
		{"::127.0.0.1", "reserved address (IPv4-compatible)"},
		{"64:ff9b::a00:1", "private address"},   // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", "loopback address"}, // NAT64 of 127.0.0.1
		{"2002:a00:1::", "private address"},     // 6to4 of 10.0.0.1
		{"2002:a9fe:a9fe::1", "link-local address (cloud metadata service)"},
		{"64:ff9b:1::1", "private address (local NAT64)"},
		{"fc00::1", "private address (unique local)"},
		{"fd12:3456:789a::1", "private address (unique local)"},
		{"fe80::1", "link-local address"},
		{"fe80::1%eth0", "link-local address"},
		{"fec0::1", "private address (site-local)"},
		{"ff02::1", "multicast address"},
		{"2001:db8::1", "reserved address (documentation)"},
		{"2001::1", "reserved address (IETF protocol assignments)"}, // Teredo
		{"100::1", "reserved address (discard)"},
		{"4000::1", "reserved address"},
		// Public addresses pass.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"100.63.255.255", ""},
		{"100.128.0.1", ""},
		{"172.32.0.1", ""},
		{"::ffff:8.8.8.8", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:80b::200e", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8, as DNS64 networks hand out
		{"2002:808:808::", ""},   // 6to4 of 8.8.8.8
	}
	for _, tt := range tests {
		if got := blockedReason(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("blockedReason(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// countingServer is a loopback server that counts the requests it gets.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCountingServer(t *testing.T, ln net.Listener, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	if h == nil {
		h = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("secret internal data"))
		}
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	if ln != nil {
		s.Listener.Close()
		s.Listener = ln
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) port() string {
	return strings.TrimPrefix(s.URL[strings.LastIndexByte(s.URL, ':'):], ":")
}

func (s *countingServer) addrPort() netip.AddrPort {
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

// wantRefused checks err is the guard's refusal naming want.
func wantRefused(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("fetch succeeded, want it refused")
	}
	if k := echogen.ErrorKind(err); k != echogen.KindInvalid {
		t.Errorf("kind = %v, want KindInvalid (%v)", k, err)
	}
	if c := echogen.ErrorCode(err); c != "url_refused" {
		t.Errorf("code = %q, want url_refused (%v)", c, err)
	}
	var e *echogen.Error
	if errors.As(err, &e) && !strings.Contains(e.Message, want) {
		t.Errorf("message = %q, want it to contain %q", e.Message, want)
	}
}

// TestFetchRefusesPrivateAddresses fetches a live loopback server by many
// spellings of private addresses; none may reach it.
func TestFetchRefusesPrivateAddresses(t *testing.T) {
	srv := newCountingServer(t, nil, nil)
	port := srv.port()
	var srv6 *countingServer
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		srv6 = newCountingServer(t, ln, nil)
	}
	f := New(Options{Timeout: 5 * time.Second}) // the guard on, as in production

	tests := []struct {
		url  string
		want string
	}{
		{"http://127.0.0.1:" + port + "/", "refusing to fetch 127.0.0.1: loopback address"},
		{"https://127.0.0.1:" + port + "/", "refusing to fetch 127.0.0.1: loopback address"},
		{"http://[::ffff:127.0.0.1]:" + port + "/", "refusing to fetch ::ffff:127.0.0.1: loopback address"},
		{"http://[::ffff:7f00:1]:" + port + "/", "refusing to fetch ::ffff:127.0.0.1: loopback address"},
		{"http://localhost:" + port + "/", "loopback address"},
		{"http://10.0.0.1/", "refusing to fetch 10.0.0.1: private address"},
		{"http://192.168.0.1:8080/admin", "refusing to fetch 192.168.0.1: private address"},
		{"http://172.20.1.1/", "private address"},
		{"http://169.254.169.254/latest/meta-data/iam/", "refusing to fetch 169.254.169.254: link-local address (cloud metadata service)"},
		{"http://[::ffff:169.254.169.254]/", "cloud metadata service"},
		{"http://100.64.0.1/", "refusing to fetch 100.64.0.1: shared address (carrier-grade NAT)"},
		{"http://0.0.0.0:" + port + "/", "refusing to fetch 0.0.0.0: unspecified address"},
		{"http://[::]:" + port + "/", "unspecified address"},
		{"http://[fd00::1]/", "private address (unique local)"},
		{"http://[fe80::1%25lo]/", "link-local address"},
		{"http://224.0.0.251/", "multicast address"},
		{"http://255.255.255.255/", "broadcast address"},
	}
	if srv6 != nil {
		tests = append(tests, struct{ url, want string }{"http://[::1]:" + srv6.port() + "/", "refusing to fetch ::1: loopback address"})
	} else {
		tests = append(tests, struct{ url, want string }{"http://[::1]:" + port + "/", "refusing to fetch ::1: loopback address"})
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := f.FetchURL(context.Background(), tt.url)
			wantRefused(t, err, tt.want)
		})
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests, want 0", n)
	}
	if srv6 != nil && srv6.hits.Load() != 0 {
		t.Errorf("the [::1] server got %d requests, want 0", srv6.hits.Load())
	}
}

// TestFetchRefusesNonCanonicalLoopback: legacy spellings of 127.0.0.1 are
// not IP literals to Go, so they go to the resolver; glibc's resolver reads
// them as 127.0.0.1 (inet_aton), as this stub does, and the answer is refused.
func TestFetchRefusesNonCanonicalLoopback(t *testing.T) {
	srv := newCountingServer(t, nil, nil)
	resolver := ResolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil // like inet_aton
	})
	f := New(Options{Resolver: resolver, Timeout: 5 * time.Second})
	for _, host := range []string{"2130706433", "0x7f000001", "0177.0.0.1", "127.1"} {
		_, err := f.FetchURL(context.Background(), "http://"+host+":"+srv.port()+"/")
		wantRefused(t, err, "refusing to fetch "+host+" (127.0.0.1): loopback address")
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests, want 0", n)
	}
}

// TestFetchRefusesNameResolvingToPrivate: a public-looking name whose DNS
// answer is private is refused before any connection.
func TestFetchRefusesNameResolvingToPrivate(t *testing.T) {
	srv := newCountingServer(t, nil, nil)
	resolver := ResolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "intranet.example.com":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "metadata.example.com":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		case "mixed.example.com": // every private answer is skipped
			return []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	})
	f := New(Options{Resolver: resolver, Timeout: 5 * time.Second})
	tests := []struct{ host, want string }{
		{"intranet.example.com", "refusing to fetch intranet.example.com (127.0.0.1): loopback address"},
		{"metadata.example.com", "refusing to fetch metadata.example.com (169.254.169.254): link-local address (cloud metadata service)"},
		{"mixed.example.com", "refusing to fetch mixed.example.com (10.1.2.3): private address"},
	}
	for _, tt := range tests {
		_, err := f.FetchURL(context.Background(), "http://"+tt.host+":"+srv.port()+"/")
		wantRefused(t, err, tt.want)
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("the target server got %d requests, want 0", n)
	}

	_, err := f.FetchURL(context.Background(), "http://nowhere.example.com/")
	if k, c := echogen.ErrorKind(err), echogen.ErrorCode(err); k != echogen.KindInvalid || c != "unknown_host" {
		t.Errorf("unknown host: %v (kind %v, code %s), want KindInvalid unknown_host", err, k, c)
	}
}

// TestFetchRefusesRedirectToPrivate: an allowed first hop redirects to
// private addresses; the check runs again for the redirect's connection.
func TestFetchRefusesRedirectToPrivate(t *testing.T) {
	target := newCountingServer(t, nil, nil) // loopback, not exempt
	var location atomic.Value
	first := newCountingServer(t, nil, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, location.Load().(string), http.StatusFound)
	})
	f := New(Options{Timeout: 5 * time.Second})
	f.guard.exempt = first.addrPort() // stands in for a public site

	tests := []struct{ location, want string }{
		{"http://127.0.0.1:" + target.port() + "/secret", "refusing to fetch 127.0.0.1: loopback address"},
		{"http://[::ffff:127.0.0.1]:" + target.port() + "/secret", "refusing to fetch ::ffff:127.0.0.1: loopback address"},
		{"http://169.254.169.254/latest/meta-data/", "refusing to fetch 169.254.169.254: link-local address (cloud metadata service)"},
		{"http://10.0.0.1/", "refusing to fetch 10.0.0.1: private address"},
	}
	for _, tt := range tests {
		location.Store(tt.location)
		_, err := f.FetchURL(context.Background(), first.URL+"/start")
		wantRefused(t, err, tt.want)
	}
	if n := first.hits.Load(); n != int64(len(tests)) {
		t.Errorf("the first hop got %d requests, want %d", n, len(tests))
	}
	if n := target.hits.Load(); n != 0 {
		t.Errorf("the private target got %d requests, want 0", n)
	}
}

// TestFetchRefusesDNSRebinding: a name resolves to an allowed address for
// the first connection and to a private one for the next; the second
// connection is refused when it is made.
func TestFetchRefusesDNSRebinding(t *testing.T) {
	first := newCountingServer(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // the redirect needs a new connection
		http.Redirect(w, r, "/again", http.StatusFound)
	})
	// The rebound address is another loopback address on the same port.
	ln, err := net.Listen("tcp4", "127.0.0.2:"+first.port())
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 (needs Linux's 127/8 loopback): %v", err)
	}
	rebound := newCountingServer(t, ln, nil)

	var lookups atomic.Int64
	resolver := ResolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if lookups.Add(1) == 1 {
			return []netip.Addr{first.addrPort().Addr()}, nil
		}
		return []netip.Addr{rebound.addrPort().Addr()}, nil
	})
	f := New(Options{Resolver: resolver, Timeout: 5 * time.Second})
	f.guard.exempt = first.addrPort()

	_, err = f.FetchURL(context.Background(), "http://rebind.example.com:"+first.port()+"/")
	wantRefused(t, err, "refusing to fetch rebind.example.com (127.0.0.2): loopback address")
	if first.hits.Load() != 1 || rebound.hits.Load() != 0 {
		t.Errorf("requests: first %d, rebound %d; want 1 and 0", first.hits.Load(), rebound.hits.Load())
	}
	if n := lookups.Load(); n != 2 {
		t.Errorf("%d lookups, want 2", n)
	}
}

// TestGuardRefusesAtConnect dials a private address directly through the
// guard's dialer, bypassing its resolver step: the Control hook refuses the
// socket before connect(2), so the listener sees no connection at all.
func TestGuardRefusesAtConnect(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := newGuard(nil, false)
	conn, err := g.dialer.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
		t.Fatal("dial succeeded, want it refused")
	}
	var blocked *BlockedError
	if !errors.As(err, &blocked) || blocked.Reason != "loopback address" {
		t.Fatalf("err = %v, want a *BlockedError for a loopback address", err)
	}
	// connect(2) returns after the handshake, so a connection that had been
	// made would be waiting in the accept queue now.
	ln.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("the listener got a connection")
	}

	// AllowPrivate turns the check off, for tests' own servers.
	open := newGuard(nil, true)
	conn, err = open.dialer.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("AllowPrivate: %v", err)
	}
	conn.Close()
}

func TestFetchRejectsSchemes(t *testing.T) {
	f := New(Options{})
	for _, raw := range []string{"file:///etc/passwd", "ftp://example.com/a.txt", "gopher://example.com/", "javascript:alert(1)", "data:text/html,hi", "/relative/path", "http://", "http://:80/"} {
		_, err := f.FetchURL(context.Background(), raw)
		if k, c := echogen.ErrorKind(err), echogen.ErrorCode(err); k != echogen.KindInvalid || c != "invalid_url" {
			t.Errorf("%s: %v (kind %v, code %s), want KindInvalid invalid_url", raw, err, k, c)
		}
	}
	// A redirect to another scheme is not followed either.
	srv := newCountingServer(t, nil, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	_, err := New(Options{AllowPrivate: true}).FetchURL(context.Background(), srv.URL)
	if err == nil || echogen.ErrorKind(err) == echogen.KindInternal {
		t.Errorf("redirect to file: = %v, want a coded error", err)
	}
}
