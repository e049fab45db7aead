package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// testParams keep hashing cheap; the encoding and checks are the same as
// with the defaults.
var testParams = Params{Memory: 64, Time: 1, Threads: 1}

func newTestHasher(t *testing.T, p Params, maxConcurrent int) *PasswordHasher {
	t.Helper()
	h, err := NewPasswordHasher(p, maxConcurrent)
	if err != nil {
		t.Fatalf("NewPasswordHasher(%+v): %v", p, err)
	}
	return h
}

var phcShape = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHasherRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		params Params
		want   string // the m,t,p part of the PHC string
	}{
		{"defaults", DefaultParams(), "m=19456,t=2,p=1"},
		{"small", testParams, "m=64,t=1,p=1"},
		{"two lanes", Params{Memory: 128, Time: 2, Threads: 2}, "m=128,t=2,p=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHasher(t, tc.params, 0)
			phc, err := h.Hash(ctx, "correct horse battery staple")
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if !phcShape.MatchString(phc) || !strings.Contains(phc, "$"+tc.want+"$") {
				t.Fatalf("Hash = %q, want the PHC shape with %s", phc, tc.want)
			}
			for pw, want := range map[string]bool{
				"correct horse battery staple":  true,
				"correct horse battery stapl":   false,
				"correct horse battery staple ": false,
				"":                              false,
			} {
				ok, err := h.Verify(ctx, pw, phc)
				if err != nil || ok != want {
					t.Errorf("Verify(%q) = %v, %v; want %v, nil", pw, ok, err, want)
				}
			}
			again, err := h.Hash(ctx, "correct horse battery staple")
			if err != nil {
				t.Fatal(err)
			}
			if again == phc {
				t.Error("two hashes of one password are equal: the salt is not random")
			}
		})
	}
}

// TestHasherReferenceVectors checks interoperability with the reference C
// implementation: the strings come from libargon2's argon2id_hash_encoded.
// They also show that Verify takes the parameters from the string, not
// from the hasher's configuration.
func TestHasherReferenceVectors(t *testing.T) {
	h := newTestHasher(t, testParams, 0)
	const pw = "correct horse battery staple"
	for _, phc := range []string{
		"$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQxMjM0NTY3OA$XcCA2JUsASN/cSOFKIjniOq1/b/68WY0kQ+IjzYPp+w",
		"$argon2id$v=19$m=256,t=3,p=2$c29tZXNhbHQxMjM0NTY3OA$1yOpxdDj4/lU3ci3WRy6AgkUgEQ4Zhpu",
	} {
		ok, err := h.Verify(context.Background(), pw, phc)
		if err != nil || !ok {
			t.Errorf("Verify(%q) = %v, %v; want true, nil", phc, ok, err)
		}
		ok, err = h.Verify(context.Background(), pw+"!", phc)
		if err != nil || ok {
			t.Errorf("Verify(wrong password, %q) = %v, %v; want false, nil", phc, ok, err)
		}
	}
}

func TestHasherRefusesMalformedAndHostileHashes(t *testing.T) {
	const salt = "c29tZXNhbHQxMjM0NTY3OA"                     // 16 bytes
	const key = "XcCA2JUsASN/cSOFKIjniOq1/b/68WY0kQ+IjzYPp+w" // 32 bytes
	for _, tc := range []struct{ name, phc string }{
		{"empty", ""},
		{"plain text", "hunter22"},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"argon2i", "$argon2i$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=64,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=2,p=1$" + salt + "$" + key},
		{"extra field", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key + "$"},
		{"no leading dollar", "argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key + "$x"},
		{"params out of order", "$argon2id$v=19$t=2,m=64,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=2$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=2,p=1,k=1$" + salt + "$" + key},
		{"negative time", "$argon2id$v=19$m=64,t=-1,p=1$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"zero lanes", "$argon2id$v=19$m=64,t=2,p=0$" + salt + "$" + key},
		{"memory below 8 per lane", "$argon2id$v=19$m=8,t=2,p=2$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=99999999999,t=2,p=1$" + salt + "$" + key},
		{"lanes overflow uint8", "$argon2id$v=19$m=64,t=2,p=256$" + salt + "$" + key},
		{"4 GiB of memory", "$argon2id$v=19$m=4194303,t=1,p=1$" + salt + "$" + key},
		{"just above the memory ceiling", "$argon2id$v=19$m=65537,t=1,p=1$" + salt + "$" + key},
		{"a million passes", "$argon2id$v=19$m=64,t=1000000,p=1$" + salt + "$" + key},
		{"255 lanes", "$argon2id$v=19$m=4096,t=1,p=255$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=64,t=2,p=1$!!!!$" + key},
		{"salt padded", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "==$" + key},
		{"salt too short", "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$" + key},
		{"empty key", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$"},
		{"key too short", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$c2hvcnQ"},
		{"key too long", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + strings.Repeat("A", 90)},
		{"huge string", "$argon2id$v=19$m=64,t=2,p=1$" + strings.Repeat("A", 1<<20) + "$" + key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHasher(t, testParams, 0)
			var derived atomic.Int32
			h.derive = func(pw, salt []byte, p Params, n uint32) []byte {
				derived.Add(1)
				return argon2idKey(pw, salt, p, n)
			}
			ok, err := h.Verify(context.Background(), "correct horse battery staple", tc.phc)
			if ok || !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("Verify = %v, %v; want false, ErrInvalidHash", ok, err)
			}
			if derived.Load() != 0 {
				t.Error("Verify hashed before refusing the string")
			}
			if tc.phc != "" && len(tc.phc) < 200 && strings.Contains(err.Error(), tc.phc) {
				t.Errorf("error %q repeats the stored hash", err)
			}
		})
	}
}

func TestNewPasswordHasherRefusesBadParams(t *testing.T) {
	for _, p := range []Params{
		{Memory: 64, Time: 0, Threads: 1},
		{Memory: 64, Time: 1, Threads: 0},
		{Memory: 8, Time: 1, Threads: 2},
		{Memory: 1<<20 + 1, Time: 1, Threads: 1},
		{Memory: 64, Time: 65, Threads: 1},
	} {
		if _, err := NewPasswordHasher(p, 0); err == nil {
			t.Errorf("NewPasswordHasher(%+v) succeeded, want an error", p)
		}
	}
}

// A configured cost above the fixed ceilings raises them, so hashes made
// with the configuration verify.
func TestHasherCeilingFollowsConfiguration(t *testing.T) {
	h := newTestHasher(t, Params{Memory: 96 << 10, Time: 1, Threads: 1}, 1)
	got := h.limit
	want := Params{Memory: 96 << 10, Time: verifyMaxTime, Threads: verifyMaxThreads}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("limit (-want +got):\n%s", diff)
	}
}

func TestVerifyDummyDoesTheWork(t *testing.T) {
	p := Params{Memory: 128, Time: 2, Threads: 1}
	h := newTestHasher(t, p, 0)
	var calls []Params
	var mu sync.Mutex
	h.derive = func(pw, salt []byte, got Params, n uint32) []byte {
		mu.Lock()
		calls = append(calls, got)
		mu.Unlock()
		return argon2idKey(pw, salt, got, n)
	}
	if err := h.VerifyDummy(context.Background(), "whatever password"); err != nil {
		t.Fatalf("VerifyDummy: %v", err)
	}
	if diff := cmp.Diff([]Params{p}, calls); diff != "" {
		t.Errorf("derivations (-want +got):\n%s", diff)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range cap(h.sem) { // fill every slot so the next call must wait
		h.sem <- struct{}{}
	}
	if err := h.VerifyDummy(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyDummy with a cancelled context and no free slot = %v, want context.Canceled", err)
	}
}

// TestHasherConcurrencyBound runs more hashes than slots with a derive
// that blocks until released, and checks that no more than the bound ever
// run at once, that waiters honour their context, and that all finish.
func TestHasherConcurrencyBound(t *testing.T) {
	const bound, callers = 3, 12
	h := newTestHasher(t, testParams, bound)

	var inFlight, peak atomic.Int32
	entered := make(chan struct{}, callers)
	release := make(chan struct{})
	h.derive = func(pw, salt []byte, p Params, n uint32) []byte {
		cur := inFlight.Add(1)
		for {
			old := peak.Load()
			if cur <= old || peak.CompareAndSwap(old, cur) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		inFlight.Add(-1)
		return argon2idKey(pw, salt, p, n)
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := h.Hash(ctx, "correct horse battery staple")
			errs <- err
		})
	}
	for range bound {
		<-entered
	}
	// Every slot is taken: one more caller must give up when its context
	// ends instead of joining them.
	waitCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := h.Verify(waitCtx, "x", h.dummy)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Verify after cancel = %v, want context.Canceled", err)
	}
	if got := inFlight.Load(); got != bound {
		t.Errorf("in flight with all slots taken = %d, want %d", got, bound)
	}

	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Hash: %v", err)
		}
	}
	if got := peak.Load(); got != bound {
		t.Errorf("peak concurrency = %d, want %d", got, bound)
	}
}

func TestOpaqueToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash := newOpaqueToken()
		if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
			t.Fatalf("token %q is not 32 bytes of unpadded base64url", tok)
		}
		if hash != hashToken(tok) || len(hash) != 64 || hash == tok {
			t.Fatalf("hash %q of token is not its hex SHA-256", hash)
		}
		if seen[tok] {
			t.Fatal("token repeated")
		}
		seen[tok] = true
	}
	// A known SHA-256 vector, so the stored form is stable across versions.
	if got, want := hashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("hashToken(abc) = %s, want %s", got, want)
	}
}

// TestHasherBoundedWait: with every slot taken for longer than the wait
// bound, a caller is told to come back later (503 with Retry-After)
// instead of queueing without end.
func TestHasherBoundedWait(t *testing.T) {
	h := newTestHasher(t, testParams, 1)
	h.wait = 20 * time.Millisecond
	entered, release := make(chan struct{}), make(chan struct{})
	h.derive = func(pw, salt []byte, p Params, n uint32) []byte {
		entered <- struct{}{}
		<-release
		return argon2idKey(pw, salt, p, n)
	}
	held := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "correct horse battery staple")
		held <- err
	}()
	<-entered

	_, err := h.Hash(context.Background(), "another password")
	var e *echogen.Error
	if !errors.As(err, &e) || e.Kind != echogen.KindUnavailable || e.Code != "server_busy" || e.RetryAfter <= 0 {
		t.Errorf("Hash with every slot held = %v, want server_busy with a Retry-After", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Errorf("the hash holding the slot: %v", err)
	}
}
