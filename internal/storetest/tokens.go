package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testOneTimeTokens(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	newToken := func(t *testing.T, purpose echogen.TokenPurpose, expires time.Time) *echogen.OneTimeToken {
		t.Helper()
		tok := &echogen.OneTimeToken{UserID: newUser(t, s).ID, Purpose: purpose, TokenHash: "ott-" + echogen.NewID(), CreatedAt: t0(), ExpiresAt: expires}
		if err := s.CreateOneTimeToken(ctx, tok); err != nil {
			t.Fatalf("CreateOneTimeToken: %v", err)
		}
		return tok
	}
	at := t0().Add(time.Minute)

	t.Run("consume once", func(t *testing.T) {
		tok := newToken(t, echogen.PurposePasswordReset, t0().Add(time.Hour))
		got, err := s.ConsumeOneTimeToken(ctx, echogen.PurposePasswordReset, tok.TokenHash, at)
		if err != nil {
			t.Fatal(err)
		}
		tok.UsedAt = &at
		if diff := cmp.Diff(tok, got); diff != "" {
			t.Errorf("ConsumeOneTimeToken (-want +got):\n%s", diff)
		}
		_, err = s.ConsumeOneTimeToken(ctx, echogen.PurposePasswordReset, tok.TokenHash, at)
		wantKind(t, err, echogen.KindNotFound)
	})

	t.Run("cannot consume", func(t *testing.T) {
		tests := []struct {
			name    string
			purpose echogen.TokenPurpose // of the consumption
			expires time.Time
			hash    string // "" for the token's own
		}{
			{name: "expired", purpose: echogen.PurposeEmailVerification, expires: at.Add(-time.Second)},
			{name: "expiring at that instant", purpose: echogen.PurposeEmailVerification, expires: at},
			{name: "wrong purpose", purpose: echogen.PurposePasswordReset, expires: at.Add(time.Hour)},
			{name: "unknown hash", purpose: echogen.PurposeEmailVerification, expires: at.Add(time.Hour), hash: "ott-unknown"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := newToken(t, echogen.PurposeEmailVerification, tt.expires)
				hash := tok.TokenHash
				if tt.hash != "" {
					hash = tt.hash
				}
				_, err := s.ConsumeOneTimeToken(ctx, tt.purpose, hash, at)
				wantKind(t, err, echogen.KindNotFound)
				// The token is still there for its rightful use, unless expired.
				_, err = s.ConsumeOneTimeToken(ctx, echogen.PurposeEmailVerification, tok.TokenHash, at)
				if tt.expires.After(at) && err != nil {
					t.Errorf("the rightful consumption failed: %v", err)
				}
			})
		}
	})

	t.Run("racing consumptions", func(t *testing.T) {
		tok := newToken(t, echogen.PurposePasswordReset, t0().Add(time.Hour))
		var (
			wg       sync.WaitGroup
			consumed atomic.Int32
		)
		start := make(chan struct{})
		for range 10 {
			wg.Go(func() {
				<-start
				_, err := s.ConsumeOneTimeToken(ctx, echogen.PurposePasswordReset, tok.TokenHash, at)
				switch echogen.ErrorKind(err) {
				case echogen.KindNotFound:
				case echogen.KindInternal:
					if err != nil {
						t.Errorf("ConsumeOneTimeToken: %v", err)
						return
					}
					consumed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := consumed.Load(); n != 1 {
			t.Errorf("%d calls consumed the token, want 1", n)
		}
	})

	t.Run("taken hash", func(t *testing.T) {
		tok := newToken(t, echogen.PurposePasswordReset, t0().Add(time.Hour))
		dup := &echogen.OneTimeToken{UserID: tok.UserID, Purpose: echogen.PurposePasswordReset, TokenHash: tok.TokenHash, CreatedAt: t0(), ExpiresAt: t0()}
		if err := s.CreateOneTimeToken(ctx, dup); err == nil {
			t.Error("CreateOneTimeToken with a taken hash succeeded")
		}
	})
}
