package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testSessions(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("create with first token", func(t *testing.T) {
		u := newUser(t, s)
		x, rt := newSession(t, s, u.ID, t0())
		got, err := s.Session(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(x, got); diff != "" {
			t.Errorf("Session (-want +got):\n%s", diff)
		}
		gotRT, err := s.RefreshTokenByHash(ctx, rt.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		want := &echogen.RefreshToken{ID: rt.ID, SessionID: x.ID, TokenHash: rt.TokenHash, CreatedAt: t0()}
		if diff := cmp.Diff(want, gotRT); diff != "" {
			t.Errorf("first refresh token (-want +got):\n%s", diff)
		}
	})

	t.Run("duplicate first token creates no session", func(t *testing.T) {
		u := newUser(t, s)
		_, rt := newSession(t, s, u.ID, t0())
		x := &echogen.Session{ID: echogen.NewID(), UserID: u.ID, CreatedAt: t0(), LastUsedAt: t0(), ExpiresAt: t0().Add(time.Hour)}
		if err := s.CreateSession(ctx, x, &echogen.RefreshToken{TokenHash: rt.TokenHash, CreatedAt: t0()}); err == nil {
			t.Fatal("CreateSession with a taken token hash succeeded")
		}
		_, err := s.Session(ctx, x.ID)
		wantKind(t, err, echogen.KindNotFound)
	})

	t.Run("touch", func(t *testing.T) {
		u := newUser(t, s)
		x, _ := newSession(t, s, u.ID, t0())
		used, expires := t0().Add(time.Minute), t0().Add(48*time.Hour)
		if err := s.TouchSession(ctx, x.ID, used, expires); err != nil {
			t.Fatal(err)
		}
		x.LastUsedAt, x.ExpiresAt = used, expires
		got, err := s.Session(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(x, got); diff != "" {
			t.Errorf("Session (-want +got):\n%s", diff)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		at := t0().Add(time.Minute)
		tests := []struct {
			name        string
			revokerIsMe bool
			sessionID   func(own string) string
			wantErr     echogen.Kind // KindInternal: no error
			wantRevoked bool
		}{
			{name: "own session", revokerIsMe: true, sessionID: func(own string) string { return own }, wantRevoked: true},
			{name: "another user's session", sessionID: func(own string) string { return own }, wantErr: echogen.KindNotFound},
			{name: "missing session", revokerIsMe: true, sessionID: func(string) string { return echogen.NewID() }, wantErr: echogen.KindNotFound},
			{name: "malformed id", revokerIsMe: true, sessionID: func(string) string { return "nope" }, wantErr: echogen.KindNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				owner, stranger := newUser(t, s), newUser(t, s)
				x, _ := newSession(t, s, owner.ID, t0())
				revoker := stranger.ID
				if tt.revokerIsMe {
					revoker = owner.ID
				}
				err := s.RevokeSession(ctx, revoker, tt.sessionID(x.ID), at)
				if tt.wantErr != echogen.KindInternal {
					wantKind(t, err, tt.wantErr)
				} else if err != nil {
					t.Fatal(err)
				}
				if tt.wantRevoked {
					x.RevokedAt = &at
				}
				got, err := s.Session(ctx, x.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(x, got); diff != "" {
					t.Errorf("Session (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("revoke twice keeps the first time", func(t *testing.T) {
		u := newUser(t, s)
		x, _ := newSession(t, s, u.ID, t0())
		first := t0().Add(time.Minute)
		for _, at := range []time.Time{first, first.Add(time.Minute)} {
			if err := s.RevokeSession(ctx, u.ID, x.ID, at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Session(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(first) {
			t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, first)
		}
	})

	t.Run("revoke all but one", func(t *testing.T) {
		at := t0().Add(time.Minute)
		tests := []struct {
			name string
			keep int // index of the session to keep, -1 for none
		}{
			{"keep one", 1},
			{"keep none", -1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, other := newUser(t, s), newUser(t, s)
				var mine []*echogen.Session
				for i := range 3 {
					x, _ := newSession(t, s, u.ID, t0().Add(time.Duration(i)*time.Second))
					mine = append(mine, x)
				}
				theirs, _ := newSession(t, s, other.ID, t0())
				keepID := ""
				if tt.keep >= 0 {
					keepID = mine[tt.keep].ID
				}
				if err := s.RevokeUserSessions(ctx, u.ID, keepID, at); err != nil {
					t.Fatal(err)
				}
				for i, x := range mine {
					if i != tt.keep {
						x.RevokedAt = &at
					}
				}
				for _, want := range append(mine, theirs) {
					got, err := s.Session(ctx, want.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("Session (-want +got):\n%s", diff)
					}
				}
			})
		}
	})

	t.Run("list active sessions newest first", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		old, _ := newSession(t, s, u.ID, t0().Add(-time.Minute))
		revoked, _ := newSession(t, s, u.ID, t0())
		newest, _ := newSession(t, s, u.ID, t0().Add(time.Minute))
		newSession(t, s, u.ID, t0().Add(-2*time.Hour)) // expired
		newSession(t, s, u.ID, t0().Add(-time.Hour))   // expires exactly at t0
		newSession(t, s, other.ID, t0())
		if err := s.RevokeSession(ctx, u.ID, revoked.ID, t0()); err != nil {
			t.Fatal(err)
		}

		got, err := s.ListSessions(ctx, u.ID, t0())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]echogen.Session{*newest, *old}, got); diff != "" {
			t.Errorf("ListSessions (-want +got):\n%s", diff)
		}
		none, err := s.ListSessions(ctx, echogen.NewID(), t0())
		if err != nil || len(none) != 0 {
			t.Errorf("ListSessions of a user without sessions = %v, %v; want none", none, err)
		}
	})

	t.Run("missing session is not found", func(t *testing.T) {
		tests := []struct {
			name string
			call func() error
		}{
			{"get", func() error { _, err := s.Session(ctx, echogen.NewID()); return err }},
			{"get malformed id", func() error { _, err := s.Session(ctx, "x"); return err }},
			{"touch", func() error { return s.TouchSession(ctx, echogen.NewID(), t0(), t0()) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.call(), echogen.KindNotFound) })
		}
	})
}

func testRefreshTokens(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("rotate", func(t *testing.T) {
		u := newUser(t, s)
		x, first := newSession(t, s, u.ID, t0())
		next := &echogen.RefreshToken{SessionID: x.ID, TokenHash: "rt-" + echogen.NewID(), ParentID: first.ID, CreatedAt: t0().Add(time.Minute)}
		if err := s.CreateRefreshToken(ctx, next); err != nil {
			t.Fatal(err)
		}
		if !echogen.IsID(next.ID) {
			t.Errorf("CreateRefreshToken gave id %q, want a UUID", next.ID)
		}
		got, err := s.RefreshTokenByHash(ctx, next.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(next, got); diff != "" {
			t.Errorf("RefreshTokenByHash (-want +got):\n%s", diff)
		}
		if err := s.CreateRefreshToken(ctx, &echogen.RefreshToken{SessionID: x.ID, TokenHash: next.TokenHash, CreatedAt: t0()}); err == nil {
			t.Error("CreateRefreshToken with a taken hash succeeded")
		}
	})

	t.Run("unknown hash is not found", func(t *testing.T) {
		_, err := s.RefreshTokenByHash(ctx, "rt-unknown")
		wantKind(t, err, echogen.KindNotFound)
	})

	t.Run("mark used exactly once", func(t *testing.T) {
		u := newUser(t, s)
		_, rt := newSession(t, s, u.ID, t0())
		const racers = 20
		var (
			wg   sync.WaitGroup
			won  = make([]bool, racers)
			errs = make([]error, racers)
		)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				won[i], errs[i] = s.MarkRefreshTokenUsed(ctx, rt.ID, t0().Add(time.Duration(i+1)*time.Second))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("MarkRefreshTokenUsed: %v", errs[i])
			}
			if won[i] {
				if winner >= 0 {
					t.Fatalf("calls %d and %d both marked the token used", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("no call marked the token used")
		}
		got, err := s.RefreshTokenByHash(ctx, rt.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if want := t0().Add(time.Duration(winner+1) * time.Second); got.UsedAt == nil || !got.UsedAt.Equal(want) {
			t.Errorf("UsedAt = %v, want the winner's %v", got.UsedAt, want)
		}
		again, err := s.MarkRefreshTokenUsed(ctx, rt.ID, t0().Add(time.Hour))
		if err != nil || again {
			t.Errorf("marking a used token = %v, %v; want false, nil", again, err)
		}
	})

	t.Run("mark missing token", func(t *testing.T) {
		for _, id := range []string{echogen.NewID(), "not-a-uuid"} {
			ok, err := s.MarkRefreshTokenUsed(ctx, id, t0())
			if err != nil || ok {
				t.Errorf("MarkRefreshTokenUsed(%q) = %v, %v; want false, nil", id, ok, err)
			}
		}
	})
}
