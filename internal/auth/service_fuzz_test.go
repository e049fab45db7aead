package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/echogen/server/internal/auth"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
	"github.com/echogen/server/internal/sqlite"
)

// FuzzRefresh presents arbitrary refresh tokens to the built-in service on
// a real SQLite store. Refresh must never panic; it fails with a
// KindUnauthenticated error (invalid_refresh_token, or session_expired or
// refresh_token_reused for a token that really was issued), and succeeds
// only for a token this service issued, for the session's own user.
func FuzzRefresh(f *testing.F) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "echogen.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	store := db.Store()
	c := echogentest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	hasher, err := auth.NewPasswordHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	if err != nil {
		f.Fatal(err)
	}
	signer, err := auth.NewTokenSigner(auth.SignerConfig{Secret: []byte("test secret, 32 bytes or longer!!")}, c)
	if err != nil {
		f.Fatal(err)
	}
	svc, err := auth.NewService(auth.Config{}, store, store, store, &echogentest.Mailbox{}, hasher, signer, c)
	if err != nil {
		f.Fatal(err)
	}
	// Tokens issued here; a fuzzing worker has its own, so from the
	// coordinator's seeds it sees only strings of the right shape.
	issued := map[string]string{} // refresh token → user id
	for _, email := range []string{"ada@example.com", "grace@example.com"} {
		id, tok, err := svc.SignUp(ctx, emailCreds(email))
		if err != nil {
			f.Fatal(err)
		}
		issued[tok.RefreshToken] = id.UserID
		f.Add(tok.RefreshToken)
		f.Add(tok.RefreshToken[:len(tok.RefreshToken)-1])
		f.Add(tok.RefreshToken + "=")
	}
	for _, s := range []string{"", " ", "\x00", "null", "' OR 1=1 --", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, token string) {
		id, tok, err := svc.Refresh(ctx, token, client)
		if err != nil {
			var e *echogen.Error
			if !errors.As(err, &e) || e.Kind != echogen.KindUnauthenticated {
				t.Fatalf("Refresh(%q): %v is not a KindUnauthenticated *echogen.Error", token, err)
			}
			user, known := issued[token]
			switch {
			case e.Code == "invalid_refresh_token":
			case known && (e.Code == "session_expired" || e.Code == "refresh_token_reused"):
				_ = user
			default:
				t.Fatalf("Refresh(%q): code %q", token, e.Code)
			}
			if id != nil || tok != nil {
				t.Fatalf("Refresh(%q) returned %v, %v with %v", token, id, tok, err)
			}
			return
		}
		user, known := issued[token]
		if !known || id == nil || id.UserID != user || tok == nil || tok.RefreshToken == "" || tok.RefreshToken == token {
			t.Fatalf("Refresh(%q) accepted a token it did not issue (or gave back %+v)", token, id)
		}
		issued[tok.RefreshToken] = user
		p, err := svc.Authenticate(ctx, tok.AccessToken)
		if err != nil || p.UserID != user {
			t.Fatalf("the new access token authenticates as %+v, %v; want %s", p, err, user)
		}
	})
}
