package storetest

import (
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// testTimes checks that times come back in UTC, equal to what went in at
// microsecond precision, whatever zone they went in with.
func testTimes(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	zones := []*time.Location{
		time.UTC,
		time.FixedZone("UTC+05:30", 5*3600+30*60),
		time.FixedZone("UTC-08:00", -8*3600),
	}
	for _, zone := range zones {
		t.Run(zone.String(), func(t *testing.T) {
			// Nanoseconds beyond the microsecond are dropped, not rounded.
			in := time.Date(2031, 7, 8, 23, 59, 59, 999999999, time.UTC).In(zone)
			want := time.Date(2031, 7, 8, 23, 59, 59, 999999000, time.UTC)

			u := &echogen.User{Email: echogen.NewID() + "@example.com", PasswordHash: "h", CreatedAt: in, UpdatedAt: in, LastSignInAt: &in}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			got, err := s.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			for name, tm := range map[string]time.Time{"created_at": got.CreatedAt, "updated_at": got.UpdatedAt, "last_sign_in_at": *got.LastSignInAt} {
				if tm.Location() != time.UTC || !tm.Equal(want) || tm.Nanosecond() != want.Nanosecond() {
					t.Errorf("%s = %v (%v), want %v in UTC", name, tm, tm.Location(), want)
				}
			}

			// Comparisons happen on the instant, not the text of the zone.
			x, _ := newSession(t, s, u.ID, in.Add(-time.Hour)) // expires at in
			for _, at := range []time.Time{in.Add(-time.Microsecond), in.Add(-time.Microsecond).In(time.FixedZone("UTC+14", 14*3600))} {
				list, err := s.ListSessions(ctx, u.ID, at)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != 1 || list[0].ID != x.ID {
					t.Errorf("ListSessions a microsecond before expiry, at %v = %v, want the session", at, list)
				}
			}
			list, err := s.ListSessions(ctx, u.ID, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 0 {
				t.Errorf("ListSessions at expiry = %v, want none", list)
			}
		})
	}
}
