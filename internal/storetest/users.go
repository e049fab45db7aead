package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testUsers(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("create and look up", func(t *testing.T) {
		u := newUser(t, s)
		lookups := []struct {
			name string
			get  func() (*echogen.User, error)
		}{
			{"by id", func() (*echogen.User, error) { return s.UserByID(ctx, u.ID) }},
			{"by email", func() (*echogen.User, error) { return s.UserByEmail(ctx, u.Email) }},
			{"by phone", func() (*echogen.User, error) { return s.UserByPhone(ctx, u.Phone) }},
		}
		for _, l := range lookups {
			got, err := l.get()
			if err != nil {
				t.Fatalf("%s: %v", l.name, err)
			}
			if diff := cmp.Diff(u, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", l.name, diff)
			}
		}
	})

	t.Run("phone account has no email", func(t *testing.T) {
		// Two accounts without an email: NULLs never clash.
		for range 2 {
			u := &echogen.User{Phone: "+4420" + echogen.RandomString(8, "0123456789"), PasswordHash: "h", CreatedAt: t0(), UpdatedAt: t0()}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if !echogen.IsID(u.ID) || u.Role != "authenticated" {
				t.Errorf("CreateUser filled id %q and role %q, want a UUID and authenticated", u.ID, u.Role)
			}
			got, err := s.UserByPhone(ctx, u.Phone)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(u, got); diff != "" {
				t.Errorf("UserByPhone (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("taken email or phone is a conflict", func(t *testing.T) {
		taken := newUser(t, s)
		tests := []struct {
			name  string
			email string
			phone string
		}{
			{"email", taken.Email, ""},
			{"phone", "", taken.Phone},
			{"both", taken.Email, taken.Phone},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.CreateUser(ctx, &echogen.User{Email: tt.email, Phone: tt.phone, PasswordHash: "h", CreatedAt: t0(), UpdatedAt: t0()})
				wantKind(t, err, echogen.KindConflict)
				if code := echogen.ErrorCode(err); code != "user_exists" {
					t.Errorf("code = %q, want user_exists", code)
				}
			})
		}
	})

	t.Run("missing user is not found", func(t *testing.T) {
		tests := []struct {
			name string
			call func() error
		}{
			{"by id", func() error { _, err := s.UserByID(ctx, echogen.NewID()); return err }},
			{"by malformed id", func() error { _, err := s.UserByID(ctx, "not-a-uuid"); return err }},
			{"by email", func() error { _, err := s.UserByEmail(ctx, "nobody@example.com"); return err }},
			{"by empty email", func() error { _, err := s.UserByEmail(ctx, ""); return err }},
			{"by phone", func() error { _, err := s.UserByPhone(ctx, "+10000000000"); return err }},
			{"by empty phone", func() error { _, err := s.UserByPhone(ctx, ""); return err }},
			{"record sign-in", func() error { return s.RecordSignIn(ctx, echogen.NewID(), t0()) }},
			{"set password", func() error { return s.SetPasswordHash(ctx, echogen.NewID(), "h", t0()) }},
			{"confirm email", func() error { return s.ConfirmEmail(ctx, echogen.NewID(), t0()) }},
			{"confirm email of malformed id", func() error { return s.ConfirmEmail(ctx, "x", t0()) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.call(), echogen.KindNotFound) })
		}
	})

	t.Run("updates", func(t *testing.T) {
		t1, t2 := t0().Add(time.Minute), t0().Add(2*time.Minute)
		tests := []struct {
			name   string
			update func(id string) error
			want   func(u *echogen.User)
		}{
			{
				name:   "record sign-in",
				update: func(id string) error { return s.RecordSignIn(ctx, id, t1) },
				want:   func(u *echogen.User) { u.LastSignInAt = &t1 },
			},
			{
				name:   "set password hash",
				update: func(id string) error { return s.SetPasswordHash(ctx, id, "new-hash", t1) },
				want:   func(u *echogen.User) { u.PasswordHash, u.UpdatedAt = "new-hash", t1 },
			},
			{
				name:   "confirm email",
				update: func(id string) error { return s.ConfirmEmail(ctx, id, t1) },
				want:   func(u *echogen.User) { u.EmailConfirmedAt, u.UpdatedAt = &t1, t1 },
			},
			{
				name: "confirm email twice keeps the first time",
				update: func(id string) error {
					if err := s.ConfirmEmail(ctx, id, t1); err != nil {
						return err
					}
					return s.ConfirmEmail(ctx, id, t2)
				},
				want: func(u *echogen.User) { u.EmailConfirmedAt, u.UpdatedAt = &t1, t2 },
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u := newUser(t, s)
				other := newUser(t, s)
				if err := tt.update(u.ID); err != nil {
					t.Fatal(err)
				}
				tt.want(u)
				got, err := s.UserByID(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(u, got); diff != "" {
					t.Errorf("user (-want +got):\n%s", diff)
				}
				gotOther, err := s.UserByID(ctx, other.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(other, gotOther); diff != "" {
					t.Errorf("another user changed (-want +got):\n%s", diff)
				}
			})
		}
	})
}
