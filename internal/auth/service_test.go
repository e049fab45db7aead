package auth_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/auth"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
	"github.com/echogen/server/internal/storetest"
)

// The service tests run on the real stores: SQLite always, PostgreSQL when
// TEST_DATABASE_URL is set.
var backends = []struct {
	name     string
	newStore func(*testing.T) echogen.Store
}{
	{"sqlite", storetest.NewSQLite},
	{"postgres", storetest.NewPostgres},
}

// eachStore runs f once per backend.
func eachStore(t *testing.T, f func(t *testing.T, newStore func(*testing.T) echogen.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.newStore) })
	}
}

// env is a Service on a fresh store.
type env struct {
	svc   *auth.Service
	store echogen.Store
	clock *echogentest.Clock
	mail  *echogentest.Mailbox
}

const (
	password    = "correct horse battery staple"
	newPassword = "tr0ub4dor&3 is worse"
	resetURL    = "https://app.echogen.example/reset"
	verifyURL   = "https://app.echogen.example/verify"
)

var client = echogen.ClientInfo{UserAgent: "EchoGen/1.0 (iPhone; iOS 18.2)", IP: "203.0.113.7"}

func newEnv(t *testing.T, newStore func(*testing.T) echogen.Store, cfg auth.Config) *env {
	t.Helper()
	c := echogentest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	store := newStore(t)
	// Cheap hashing parameters: the service's behaviour does not depend
	// on the cost, and the hasher has its own tests.
	hasher, err := auth.NewPasswordHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewTokenSigner(auth.SignerConfig{Secret: []byte("test secret, 32 bytes or longer!!")}, c)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PasswordResetURL == "" {
		cfg.PasswordResetURL = resetURL
	}
	if cfg.EmailVerifyURL == "" {
		cfg.EmailVerifyURL = verifyURL
	}
	mail := &echogentest.Mailbox{}
	svc, err := auth.NewService(cfg, store, store, store, mail, hasher, signer, c)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, store: store, clock: c, mail: mail}
}

func emailCreds(email string) echogen.Credentials {
	return echogen.Credentials{Method: echogen.MethodEmail, Email: email, Password: password, Client: client}
}

func phoneCreds(phone string) echogen.Credentials {
	return echogen.Credentials{Method: echogen.MethodPhone, Phone: phone, Password: password, Client: client}
}

// signUp creates an account and returns its identity and tokens.
func (e *env) signUp(t *testing.T, c echogen.Credentials) (*echogen.Identity, *echogen.Tokens) {
	t.Helper()
	id, tok, err := e.svc.SignUp(t.Context(), c)
	if err != nil {
		t.Fatalf("SignUp(%s): %v", c.Method, err)
	}
	e.mail.Take()
	return id, tok
}

func (e *env) signIn(t *testing.T, c echogen.Credentials) *echogen.Tokens {
	t.Helper()
	_, tok, err := e.svc.SignIn(t.Context(), c)
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	return tok
}

func (e *env) principal(t *testing.T, tok *echogen.Tokens) echogen.Principal {
	t.Helper()
	p, err := e.svc.Authenticate(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return *p
}

// wantError checks that err is an *echogen.Error of this kind and code
// and, when msg is not empty, message.
func wantError(t *testing.T, err error, kind echogen.Kind, code, msg string) {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *echogen.Error %s", err, err, code)
	}
	if e.Kind != kind || e.Code != code || (msg != "" && e.Message != msg) {
		t.Fatalf("error = kind %d code %q message %q; want kind %d code %q message %q", e.Kind, e.Code, e.Message, kind, code, msg)
	}
}

// wantNoSecret checks that no error text holds a secret.
func wantNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

var codeLine = regexp.MustCompile(`(?m)^([A-Za-z0-9_-]{43})$`)

// tokenOf returns the token a mail carries, checking the link carries it too.
func tokenOf(t *testing.T, m echogen.Mail, linkPrefix string) string {
	t.Helper()
	match := codeLine.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("no token in mail:\n%s", m.Text)
	}
	if linkPrefix != "" && !strings.Contains(m.Text, linkPrefix+"?token="+match[1]) {
		t.Errorf("mail lacks the link %s?token=<token>:\n%s", linkPrefix, m.Text)
	}
	return match[1]
}

func TestSignUp(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		for _, tc := range []struct {
			name      string
			creds     echogen.Credentials
			wantEmail string
			wantPhone string
			wantMail  bool
			// or an error
			kind echogen.Kind
			code string
			loc  []string
		}{
			{name: "email", creds: emailCreds("Ada@Example.COM "), wantEmail: "ada@example.com", wantMail: true},
			{name: "phone", creds: phoneCreds(" +14155550123"), wantPhone: "+14155550123"},
			{name: "missing email", creds: emailCreds(" "), kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "email"}},
			{name: "malformed email", creds: emailCreds("ada@"), kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "email"}},
			{name: "missing phone", creds: phoneCreds(""), kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "phoneNumber"}},
			{name: "malformed phone", creds: phoneCreds("0415 555 0123"), kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "phoneNumber"}},
			{name: "missing password", creds: echogen.Credentials{Method: echogen.MethodEmail, Email: "ada@example.com"},
				kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "password"}},
			{name: "short password", creds: echogen.Credentials{Method: echogen.MethodEmail, Email: "ada@example.com", Password: "short"},
				kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "password"}},
			{name: "long password", creds: echogen.Credentials{Method: echogen.MethodEmail, Email: "ada@example.com", Password: strings.Repeat("x", 129)},
				kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "password"}},
			{name: "google", creds: echogen.Credentials{Method: echogen.MethodGoogle}, kind: echogen.KindNotImplemented, code: "method_not_supported"},
			{name: "unknown method", creds: echogen.Credentials{Method: "carrier pigeon"}, kind: echogen.KindInvalid, code: "validation_error", loc: []string{"body", "method"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, newStore, auth.Config{})
				tc.creds.FullName = "Ada Lovelace"
				id, tok, err := e.svc.SignUp(t.Context(), tc.creds)
				if tc.code != "" {
					wantError(t, err, tc.kind, tc.code, "")
					if tc.loc != nil {
						var ee *echogen.Error
						errors.As(err, &ee)
						if diff := cmp.Diff(tc.loc, ee.Fields[0].Loc); diff != "" {
							t.Errorf("loc (-want +got):\n%s", diff)
						}
					}
					if id != nil || tok != nil {
						t.Error("a failed sign-up returned an identity or tokens")
					}
					return
				}
				if err != nil {
					t.Fatalf("SignUp: %v", err)
				}
				now := e.clock.Now()
				want := &echogen.Identity{UserID: id.UserID, Email: tc.wantEmail, Phone: tc.wantPhone, FullName: "Ada Lovelace", CreatedAt: now, LastSignInAt: &now}
				if diff := cmp.Diff(want, id); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
				if !echogen.IsID(id.UserID) || tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresIn != auth.DefaultAccessTokenTTL {
					t.Errorf("identity %q, tokens %+v", id.UserID, tok)
				}
				p := e.principal(t, tok)
				if p.UserID != id.UserID || p.Email != tc.wantEmail || p.Role != "authenticated" {
					t.Errorf("principal = %+v", p)
				}
				u, err := e.store.UserByID(t.Context(), id.UserID)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$") || strings.Contains(u.PasswordHash, password) {
					t.Errorf("stored password hash %q", u.PasswordHash)
				}
				if u.EmailConfirmedAt != nil {
					t.Error("email confirmed at sign-up")
				}
				mails := e.mail.Take()
				if !tc.wantMail {
					if len(mails) != 0 {
						t.Errorf("mails = %+v, want none", mails)
					}
					return
				}
				if len(mails) != 1 || mails[0].To != tc.wantEmail || !strings.Contains(mails[0].Subject, "Confirm") {
					t.Fatalf("mails = %+v, want one verification mail to %s", mails, tc.wantEmail)
				}
				tokenOf(t, mails[0], verifyURL)
			})
		}
	})
}

func TestSignUpDuplicate(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{})
		e.signUp(t, emailCreds("ada@example.com"))
		e.signUp(t, phoneCreds("+14155550123"))
		for _, c := range []echogen.Credentials{
			emailCreds("ada@example.com"),
			emailCreds("ADA@example.com"),
			phoneCreds("+14155550123"),
		} {
			c.Password = "a different password"
			_, _, err := e.svc.SignUp(t.Context(), c)
			wantError(t, err, echogen.KindBadRequest, "user_already_exists", "User already registered")
			wantNoSecret(t, err, c.Password)
		}
		if mails := e.mail.Take(); len(mails) != 0 {
			t.Errorf("a refused sign-up sent mail: %+v", mails)
		}
	})
}

func TestSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{})
		ada, _ := e.signUp(t, emailCreds("ada@example.com"))
		bob, _ := e.signUp(t, phoneCreds("+14155550123"))
		wrong := func(c echogen.Credentials) echogen.Credentials { c.Password = "not the password"; return c }

		for _, tc := range []struct {
			name   string
			creds  echogen.Credentials
			userID string // or an error:
			kind   echogen.Kind
			code   string
			msg    string
		}{
			{name: "email", creds: emailCreds("ada@example.com"), userID: ada.UserID},
			{name: "email in another case", creds: emailCreds(" ADA@example.com"), userID: ada.UserID},
			{name: "phone", creds: phoneCreds("+14155550123"), userID: bob.UserID},
			{name: "wrong password", creds: wrong(emailCreds("ada@example.com")),
				kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
			{name: "wrong phone password", creds: wrong(phoneCreds("+14155550123")),
				kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
			{name: "unknown email", creds: emailCreds("eve@example.com"),
				kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
			{name: "unknown phone", creds: phoneCreds("+14155550999"),
				kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
			{name: "email of a phone account", creds: emailCreds("+14155550123@example.com"),
				kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
			{name: "missing password", creds: echogen.Credentials{Method: echogen.MethodEmail, Email: "ada@example.com"},
				kind: echogen.KindInvalid, code: "validation_error"},
			{name: "missing email", creds: emailCreds(""), kind: echogen.KindInvalid, code: "validation_error"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.clock.Advance(time.Minute)
				id, tok, err := e.svc.SignIn(t.Context(), tc.creds)
				if tc.code != "" {
					wantError(t, err, tc.kind, tc.code, tc.msg)
					wantNoSecret(t, err, tc.creds.Password)
					return
				}
				if err != nil {
					t.Fatalf("SignIn: %v", err)
				}
				now := e.clock.Now()
				if id.UserID != tc.userID || id.LastSignInAt == nil || !id.LastSignInAt.Equal(now) {
					t.Errorf("identity = %+v, want user %s signed in at %v", id, tc.userID, now)
				}
				u, err := e.store.UserByID(t.Context(), tc.userID)
				if err != nil {
					t.Fatal(err)
				}
				if u.LastSignInAt == nil || !u.LastSignInAt.Equal(now) {
					t.Errorf("stored last sign-in = %v, want %v", u.LastSignInAt, now)
				}
				p := e.principal(t, tok)
				sess, err := e.store.Session(t.Context(), p.SessionID)
				if err != nil {
					t.Fatal(err)
				}
				want := &echogen.Session{ID: p.SessionID, UserID: tc.userID, UserAgent: client.UserAgent, IP: client.IP,
					CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(auth.DefaultSessionTTL)}
				if diff := cmp.Diff(want, sess); diff != "" {
					t.Errorf("session (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestRefresh(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		t.Run("rotation", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{})
			id, tok := e.signUp(t, emailCreds("ada@example.com"))
			sid := e.principal(t, tok).SessionID
			for i := range 3 {
				e.clock.Advance(time.Hour)
				gotID, next, err := e.svc.Refresh(t.Context(), tok.RefreshToken, client)
				if err != nil {
					t.Fatalf("refresh %d: %v", i, err)
				}
				if gotID.UserID != id.UserID || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
					t.Fatalf("refresh %d: identity %+v, tokens not rotated", i, gotID)
				}
				if p := e.principal(t, next); p.SessionID != sid || p.UserID != id.UserID {
					t.Errorf("refreshed principal = %+v, want session %s", p, sid)
				}
				sess, err := e.store.Session(t.Context(), sid)
				if err != nil {
					t.Fatal(err)
				}
				now := e.clock.Now()
				if !sess.ExpiresAt.Equal(now.Add(auth.DefaultSessionTTL)) || !sess.LastUsedAt.Equal(now) {
					t.Errorf("session used %v, expires %v; want %v and %v", sess.LastUsedAt, sess.ExpiresAt, now, now.Add(auth.DefaultSessionTTL))
				}
				tok = next
			}
		})

		t.Run("unknown token", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{})
			e.signUp(t, emailCreds("ada@example.com"))
			for _, rt := range []string{"", "not-a-token", strings.Repeat("A", 43)} {
				_, _, err := e.svc.Refresh(t.Context(), rt, client)
				wantError(t, err, echogen.KindUnauthenticated, "invalid_refresh_token", "Invalid Refresh Token")
			}
		})

		t.Run("replay within grace succeeds", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{})
			_, tok := e.signUp(t, emailCreds("ada@example.com"))
			_, first, err := e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(auth.DefaultRefreshReuseGrace)
			_, second, err := e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			if err != nil {
				t.Fatalf("replay within grace: %v", err)
			}
			if second.RefreshToken == first.RefreshToken {
				t.Error("the replay got the same refresh token")
			}
			// Both children work.
			for _, rt := range []string{first.RefreshToken, second.RefreshToken} {
				if _, _, err := e.svc.Refresh(t.Context(), rt, client); err != nil {
					t.Errorf("refresh with a child token: %v", err)
				}
			}
		})

		t.Run("reuse after grace revokes the session", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{})
			_, tok := e.signUp(t, emailCreds("ada@example.com"))
			other := e.signIn(t, emailCreds("ada@example.com")) // another device
			_, next, err := e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(auth.DefaultRefreshReuseGrace + time.Second)
			_, _, err = e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			wantError(t, err, echogen.KindUnauthenticated, "refresh_token_reused", "")
			wantNoSecret(t, err, tok.RefreshToken)

			_, _, err = e.svc.Refresh(t.Context(), next.RefreshToken, client)
			wantError(t, err, echogen.KindUnauthenticated, "session_expired", "")
			_, err = e.svc.Authenticate(t.Context(), next.AccessToken)
			wantError(t, err, echogen.KindUnauthenticated, "session_revoked", "Invalid or expired token")
			_, err = e.svc.Authenticate(t.Context(), tok.AccessToken)
			wantError(t, err, echogen.KindUnauthenticated, "session_revoked", "Invalid or expired token")
			// The other device's session is not touched.
			e.principal(t, other)
			if _, _, err := e.svc.Refresh(t.Context(), other.RefreshToken, client); err != nil {
				t.Errorf("refresh of the other session: %v", err)
			}
		})

		t.Run("concurrent refreshes of one token both succeed", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{})
			_, tok := e.signUp(t, emailCreds("ada@example.com"))
			const n = 2
			var wg sync.WaitGroup
			results := make([]*echogen.Tokens, n)
			errs := make([]error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					_, results[i], errs[i] = e.svc.Refresh(context.Background(), tok.RefreshToken, client)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("refresh %d: %v", i, err)
				}
			}
			if results[0].RefreshToken == results[1].RefreshToken {
				t.Error("both refreshes got the same refresh token")
			}
			for _, r := range results {
				e.principal(t, r)
			}
		})

		t.Run("expired session", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{SessionTTL: 24 * time.Hour})
			_, tok := e.signUp(t, emailCreds("ada@example.com"))
			e.clock.Advance(23 * time.Hour)
			_, tok, err := e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			if err != nil {
				t.Fatalf("refresh within the sliding window: %v", err)
			}
			e.clock.Advance(24 * time.Hour)
			_, _, err = e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			wantError(t, err, echogen.KindUnauthenticated, "session_expired", "")
		})

		t.Run("signed-out session", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{})
			_, tok := e.signUp(t, emailCreds("ada@example.com"))
			if err := e.svc.SignOut(t.Context(), e.principal(t, tok), echogen.SignOutLocal); err != nil {
				t.Fatal(err)
			}
			_, _, err := e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			wantError(t, err, echogen.KindUnauthenticated, "session_expired", "")
		})
	})
}

func TestAuthenticate(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{})
		_, tok := e.signUp(t, emailCreds("ada@example.com"))
		p := e.principal(t, tok)
		created := e.clock.Now()

		session := func() *echogen.Session {
			s, err := e.store.Session(t.Context(), p.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		// Within a minute of the last use nothing is written.
		e.clock.Advance(59 * time.Second)
		e.principal(t, tok)
		if s := session(); !s.LastUsedAt.Equal(created) {
			t.Errorf("last used = %v after 59 s, want %v", s.LastUsedAt, created)
		}
		// After a minute the use is recorded and the expiry moves.
		e.clock.Advance(time.Second)
		e.principal(t, tok)
		now := e.clock.Now()
		if s := session(); !s.LastUsedAt.Equal(now) || !s.ExpiresAt.Equal(now.Add(auth.DefaultSessionTTL)) {
			t.Errorf("session used %v, expires %v; want %v and %v", s.LastUsedAt, s.ExpiresAt, now, now.Add(auth.DefaultSessionTTL))
		}

		// A token of another user naming this session is refused: sign one
		// with the same secret for another user.
		mallory, mtok := e.signUp(t, emailCreds("mallory@example.com"))
		signer, err := auth.NewTokenSigner(auth.SignerConfig{Secret: []byte("test secret, 32 bytes or longer!!")}, e.clock)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := signer.Sign(echogen.Principal{UserID: mallory.UserID, SessionID: p.SessionID, Role: "authenticated"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(t.Context(), forged)
		wantError(t, err, echogen.KindUnauthenticated, "session_revoked", "Invalid or expired token")
		// So is one naming a session that does not exist.
		ghost, err := signer.Sign(echogen.Principal{UserID: p.UserID, SessionID: echogen.NewID(), Role: "authenticated"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(t.Context(), ghost)
		wantError(t, err, echogen.KindUnauthenticated, "session_revoked", "Invalid or expired token")
		_, err = e.svc.Authenticate(t.Context(), "garbage")
		wantError(t, err, echogen.KindUnauthenticated, "invalid_token", "Invalid or expired token")

		// A revoked session's token is refused at once, not at expiry.
		if err := e.svc.SignOut(t.Context(), e.principal(t, mtok), echogen.SignOutLocal); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(t.Context(), mtok.AccessToken)
		wantError(t, err, echogen.KindUnauthenticated, "session_revoked", "Invalid or expired token")

		// An expired access token.
		e.clock.Advance(auth.DefaultAccessTokenTTL)
		_, err = e.svc.Authenticate(t.Context(), tok.AccessToken)
		wantError(t, err, echogen.KindUnauthenticated, "token_expired", "Invalid or expired token")
	})
}

func TestSignOutScopes(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		for _, tc := range []struct {
			scope echogen.SignOutScope
			want  []bool // which of the user's three sessions stay open; the caller is the first
		}{
			{echogen.SignOutLocal, []bool{false, true, true}},
			{"", []bool{false, true, true}},
			{echogen.SignOutOthers, []bool{true, false, false}},
			{echogen.SignOutGlobal, []bool{false, false, false}},
		} {
			t.Run(string(tc.scope), func(t *testing.T) {
				e := newEnv(t, newStore, auth.Config{})
				_, first := e.signUp(t, emailCreds("ada@example.com"))
				toks := []*echogen.Tokens{first, e.signIn(t, emailCreds("ada@example.com")), e.signIn(t, emailCreds("ada@example.com"))}
				_, bystander := e.signUp(t, emailCreds("bob@example.com"))

				caller := e.principal(t, toks[0])
				if err := e.svc.SignOut(t.Context(), caller, tc.scope); err != nil {
					t.Fatalf("SignOut: %v", err)
				}
				var got []bool
				for _, tok := range toks {
					_, err := e.svc.Authenticate(t.Context(), tok.AccessToken)
					got = append(got, err == nil)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("open sessions (-want +got):\n%s", diff)
				}
				e.principal(t, bystander)
				// Signing out again (a retried request) is not an error.
				if err := e.svc.SignOut(t.Context(), caller, tc.scope); err != nil {
					t.Errorf("second SignOut: %v", err)
				}
			})
		}
		t.Run("unknown scope", func(t *testing.T) {
			e := newEnv(t, newStore, auth.Config{})
			_, tok := e.signUp(t, emailCreds("ada@example.com"))
			err := e.svc.SignOut(t.Context(), e.principal(t, tok), "everywhere")
			wantError(t, err, echogen.KindInvalid, "validation_error", "")
			e.principal(t, tok)
		})
	})
}

func TestSessionsAndRevoke(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{})
		_, phone := e.signUp(t, emailCreds("ada@example.com"))
		e.clock.Advance(time.Minute)
		c := emailCreds("ada@example.com")
		c.Client = echogen.ClientInfo{UserAgent: "Mozilla/5.0 (Macintosh)", IP: "198.51.100.4"}
		tab := e.signIn(t, c)
		_, bobTok := e.signUp(t, emailCreds("bob@example.com"))
		ada := e.principal(t, phone)
		bob := e.principal(t, bobTok)

		list, err := e.svc.Sessions(t.Context(), ada)
		if err != nil {
			t.Fatal(err)
		}
		tabID := e.principal(t, tab).SessionID
		type row struct{ ID, UserAgent, IP string }
		var got []row
		for _, s := range list {
			got = append(got, row{s.ID, s.UserAgent, s.IP})
		}
		want := []row{{tabID, "Mozilla/5.0 (Macintosh)", "198.51.100.4"}, {ada.SessionID, client.UserAgent, client.IP}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sessions, newest first (-want +got):\n%s", diff)
		}

		// Another user's session, a missing one and a malformed id are all
		// "Session not found", and nothing is revoked.
		for _, id := range []string{bob.SessionID, echogen.NewID(), "not-an-id"} {
			err := e.svc.RevokeSession(t.Context(), ada, id)
			wantError(t, err, echogen.KindNotFound, "not_found", "Session not found")
		}
		e.principal(t, bobTok)

		if err := e.svc.RevokeSession(t.Context(), ada, tabID); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		_, err = e.svc.Authenticate(t.Context(), tab.AccessToken)
		wantError(t, err, echogen.KindUnauthenticated, "session_revoked", "")
		list, err = e.svc.Sessions(t.Context(), ada)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != ada.SessionID {
			t.Errorf("sessions after revoke = %+v, want only %s", list, ada.SessionID)
		}
		if list, err := e.svc.Sessions(t.Context(), bob); err != nil || len(list) != 1 || list[0].ID != bob.SessionID {
			t.Errorf("bob's sessions = %+v, %v", list, err)
		}
	})
}

func TestIdentity(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{})
		signedUp, _ := e.signUp(t, phoneCreds("+14155550123"))
		e.clock.Advance(time.Hour)
		got, err := e.svc.Identity(t.Context(), e.principal(t, e.signIn(t, phoneCreds("+14155550123"))))
		if err != nil {
			t.Fatal(err)
		}
		later := e.clock.Now()
		want := &echogen.Identity{UserID: signedUp.UserID, Phone: "+14155550123", CreatedAt: signedUp.CreatedAt, LastSignInAt: &later}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("identity (-want +got):\n%s", diff)
		}
		_, err = e.svc.Identity(t.Context(), echogen.Principal{UserID: echogen.NewID()})
		wantError(t, err, echogen.KindNotFound, "not_found", "User not found")

		if err := e.svc.DeleteIdentity(t.Context(), signedUp.UserID); err != nil {
			t.Errorf("DeleteIdentity: %v", err)
		}
	})
}

func TestPasswordReset(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{})
		_, first := e.signUp(t, emailCreds("ada@example.com"))
		second := e.signIn(t, emailCreds("ada@example.com"))
		_, bob := e.signUp(t, emailCreds("bob@example.com"))

		// Unknown and known emails get the same answer; only the known one
		// gets mail.
		if err := e.svc.ForgotPassword(t.Context(), "nobody@example.com"); err != nil {
			t.Fatalf("ForgotPassword(unknown): %v", err)
		}
		if mails := e.mail.Take(); len(mails) != 0 {
			t.Fatalf("mail for an unknown account: %+v", mails)
		}
		err := e.svc.ForgotPassword(t.Context(), "not an email")
		wantError(t, err, echogen.KindInvalid, "validation_error", "")
		if err := e.svc.ForgotPassword(t.Context(), " Ada@Example.com"); err != nil {
			t.Fatalf("ForgotPassword: %v", err)
		}
		mails := e.mail.Take()
		if len(mails) != 1 || mails[0].To != "ada@example.com" || !strings.Contains(mails[0].Subject, "Reset") {
			t.Fatalf("mails = %+v, want one reset mail to ada@example.com", mails)
		}
		token := tokenOf(t, mails[0], resetURL)
		if !strings.Contains(mails[0].Text, "30 minutes") {
			t.Errorf("mail does not say when the link expires:\n%s", mails[0].Text)
		}

		// A bad new password is refused before the token is used.
		err = e.svc.ResetPassword(t.Context(), token, "short")
		wantError(t, err, echogen.KindInvalid, "validation_error", "")
		// A verification token is not a reset token, and vice versa.
		err = e.svc.VerifyEmail(t.Context(), token)
		wantError(t, err, echogen.KindBadRequest, "invalid_token", "Token has expired or is invalid")

		e.clock.Advance(10 * time.Minute) // the access tokens are still valid
		if err := e.svc.ResetPassword(t.Context(), token, newPassword); err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		// Single use.
		err = e.svc.ResetPassword(t.Context(), token, "yet another password")
		wantError(t, err, echogen.KindBadRequest, "invalid_token", "Token has expired or is invalid")
		wantNoSecret(t, err, token, "yet another password")

		// Every session of the user ended; other users are untouched.
		for _, tok := range []*echogen.Tokens{first, second} {
			_, err := e.svc.Authenticate(t.Context(), tok.AccessToken)
			wantError(t, err, echogen.KindUnauthenticated, "session_revoked", "")
			_, _, err = e.svc.Refresh(t.Context(), tok.RefreshToken, client)
			wantError(t, err, echogen.KindUnauthenticated, "session_expired", "")
		}
		e.principal(t, bob)

		// The old password is gone, the new one works.
		_, _, err = e.svc.SignIn(t.Context(), emailCreds("ada@example.com"))
		wantError(t, err, echogen.KindUnauthenticated, "invalid_credentials", "")
		c := emailCreds("ada@example.com")
		c.Password = newPassword
		e.signIn(t, c)

		// The reset link proved the address.
		u, err := e.store.UserByEmail(t.Context(), "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.EmailConfirmedAt == nil {
			t.Error("email not confirmed by the reset")
		}

		// A token expires after ResetTokenTTL.
		if err := e.svc.ForgotPassword(t.Context(), "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		late := tokenOf(t, e.mail.Take()[0], resetURL)
		e.clock.Advance(auth.DefaultResetTokenTTL)
		err = e.svc.ResetPassword(t.Context(), late, "a third password")
		wantError(t, err, echogen.KindBadRequest, "invalid_token", "Token has expired or is invalid")
		for _, bad := range []string{"", "not-a-token"} {
			err = e.svc.ResetPassword(t.Context(), bad, "a third password")
			wantError(t, err, echogen.KindBadRequest, "invalid_token", "Token has expired or is invalid")
		}
	})
}

func TestEmailVerification(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{})
		id, _, err := e.svc.SignUp(t.Context(), emailCreds("ada@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		mails := e.mail.Take()
		if len(mails) != 1 {
			t.Fatalf("mails = %+v, want one", mails)
		}
		first := tokenOf(t, mails[0], verifyURL)

		// Resend: nothing for unknown or phone-less addresses, a new token
		// for the unconfirmed account.
		if err := e.svc.ResendVerification(t.Context(), "nobody@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ResendVerification(t.Context(), "ADA@example.com"); err != nil {
			t.Fatal(err)
		}
		mails = e.mail.Take()
		if len(mails) != 1 || mails[0].To != "ada@example.com" {
			t.Fatalf("mails after resend = %+v, want one to ada@example.com", mails)
		}
		second := tokenOf(t, mails[0], verifyURL)
		err = e.svc.ResendVerification(t.Context(), "bad@")
		wantError(t, err, echogen.KindInvalid, "validation_error", "")

		// Either token confirms; each works once.
		e.clock.Advance(time.Hour)
		if err := e.svc.VerifyEmail(t.Context(), second); err != nil {
			t.Fatalf("VerifyEmail: %v", err)
		}
		u, err := e.store.UserByID(t.Context(), id.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if now := e.clock.Now(); u.EmailConfirmedAt == nil || !u.EmailConfirmedAt.Equal(now) {
			t.Errorf("email confirmed at %v, want %v", u.EmailConfirmedAt, now)
		}
		err = e.svc.VerifyEmail(t.Context(), second)
		wantError(t, err, echogen.KindBadRequest, "invalid_token", "Token has expired or is invalid")
		if err := e.svc.VerifyEmail(t.Context(), first); err != nil {
			t.Errorf("VerifyEmail with the first token: %v", err)
		}

		// A confirmed account gets no more verification mail.
		if err := e.svc.ResendVerification(t.Context(), "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		if mails := e.mail.Take(); len(mails) != 0 {
			t.Errorf("mail for a confirmed account: %+v", mails)
		}

		// Verification tokens expire after VerifyTokenTTL.
		if _, _, err := e.svc.SignUp(t.Context(), emailCreds("bob@example.com")); err != nil {
			t.Fatal(err)
		}
		late := tokenOf(t, e.mail.Take()[0], verifyURL)
		e.clock.Advance(auth.DefaultVerifyTokenTTL)
		err = e.svc.VerifyEmail(t.Context(), late)
		wantError(t, err, echogen.KindBadRequest, "invalid_token", "Token has expired or is invalid")
	})
}

func TestEmailConfirmationRequired(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newEnv(t, newStore, auth.Config{EmailConfirmationRequired: true})

		id, tok, err := e.svc.SignUp(t.Context(), emailCreds("ada@example.com"))
		wantError(t, err, echogen.KindPermissionDenied, "email_confirmation_required", "")
		if tok != nil {
			t.Error("a sign-up awaiting confirmation returned a session")
		}
		if id == nil || id.Email != "ada@example.com" {
			t.Errorf("identity %+v: the created account must be named so its profile can be made", id)
		}
		if msg := err.(*echogen.Error).Message; !strings.Contains(msg, "onfirm") || !strings.Contains(msg, "email") {
			t.Errorf("message %q does not tell the user to confirm their email", msg)
		}
		mails := e.mail.Take()
		if len(mails) != 1 || mails[0].To != "ada@example.com" {
			t.Fatalf("mails = %+v, want one verification mail", mails)
		}
		token := tokenOf(t, mails[0], verifyURL)
		if _, err := e.store.UserByEmail(t.Context(), "ada@example.com"); err != nil {
			t.Fatalf("the account was not created: %v", err)
		}

		// The right password gets "Email not confirmed", a wrong one the
		// usual answer, so unconfirmed accounts are not revealed.
		_, _, err = e.svc.SignIn(t.Context(), emailCreds("ada@example.com"))
		wantError(t, err, echogen.KindUnauthenticated, "email_not_confirmed", "Email not confirmed")
		c := emailCreds("ada@example.com")
		c.Password = "not the password"
		_, _, err = e.svc.SignIn(t.Context(), c)
		wantError(t, err, echogen.KindUnauthenticated, "invalid_credentials", "Invalid login credentials")
		// Signing up again says the account exists.
		_, _, err = e.svc.SignUp(t.Context(), emailCreds("ada@example.com"))
		wantError(t, err, echogen.KindBadRequest, "user_already_exists", "")

		if err := e.svc.VerifyEmail(t.Context(), token); err != nil {
			t.Fatalf("VerifyEmail: %v", err)
		}
		e.principal(t, e.signIn(t, emailCreds("ada@example.com")))

		// Phone accounts have nothing to confirm.
		_, ptok, err := e.svc.SignUp(t.Context(), phoneCreds("+14155550123"))
		if err != nil {
			t.Fatalf("phone SignUp: %v", err)
		}
		e.principal(t, ptok)
	})
}

func TestNewServiceRefusesBadConfig(t *testing.T) {
	for _, cfg := range []auth.Config{
		{SessionTTL: -time.Hour},
		{RefreshReuseGrace: -time.Second},
		{PasswordResetURL: "javascript:alert(1)"},
		{EmailVerifyURL: "/relative"},
	} {
		if _, err := auth.NewService(cfg, nil, nil, nil, nil, nil, nil, echogen.SystemClock{}); err == nil {
			t.Errorf("NewService(%+v) succeeded, want an error", cfg)
		}
	}
}
