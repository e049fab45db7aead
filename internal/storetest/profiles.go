package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// nestedPreferences has every JSON type, nested, as decoded from JSON.
func nestedPreferences() map[string]any {
	return map[string]any{
		"theme":  "dark",
		"volume": 0.75,
		"count":  float64(3),
		"beta":   true,
		"none":   nil,
		"voices": map[string]any{"host": "Alex", "guest": map[string]any{"name": "Sam", "speed": 1.25}},
		"langs":  []any{"en", "fr", []any{}, map[string]any{}},
		"émoji":  "🎙️ \"quoted\" \\ back",
	}
}

func testProfiles(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("create and read", func(t *testing.T) {
		tests := []struct {
			name string
			p    echogen.Profile
		}{
			{"all fields", echogen.Profile{FullName: ptr("Ada"), AvatarURL: ptr("https://example.com/a.png"), Bio: ptr("Hi"),
				Preferences: nestedPreferences(), OnboardingCompleted: true, CreatedAt: t0(), UpdatedAt: t0().Add(time.Second)}},
			{"empty", echogen.Profile{CreatedAt: t0(), UpdatedAt: t0()}},
			{"empty strings and preferences", echogen.Profile{FullName: ptr(""), Bio: ptr(""), Preferences: map[string]any{}, CreatedAt: t0(), UpdatedAt: t0()}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := tt.p
				p.UserID = echogen.NewID()
				if err := s.CreateProfile(ctx, &p); err != nil {
					t.Fatal(err)
				}
				got, err := s.Profile(ctx, p.UserID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(&p, got); diff != "" {
					t.Errorf("Profile (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("create is idempotent", func(t *testing.T) {
		first := newProfile(t, s, echogen.NewID())
		second := &echogen.Profile{UserID: first.UserID, FullName: ptr("Someone Else"), CreatedAt: t0().Add(time.Hour), UpdatedAt: t0().Add(time.Hour)}
		if err := s.CreateProfile(ctx, second); err != nil {
			t.Fatalf("second CreateProfile: %v", err)
		}
		got, err := s.Profile(ctx, first.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("Profile (-want +got):\n%s", diff)
		}
	})

	t.Run("missing profile is not found", func(t *testing.T) {
		for _, id := range []string{echogen.NewID(), "not-a-uuid"} {
			_, err := s.Profile(ctx, id)
			wantKind(t, err, echogen.KindNotFound)
			_, err = s.UpdateProfile(ctx, id, t0(), func(*echogen.Profile) error {
				t.Error("update called for a missing profile")
				return nil
			})
			wantKind(t, err, echogen.KindNotFound)
		}
	})

	t.Run("update", func(t *testing.T) {
		at := t0().Add(time.Hour)
		tests := []struct {
			name   string
			update func(p *echogen.Profile)
		}{
			{"set fields", func(p *echogen.Profile) {
				p.FullName, p.AvatarURL, p.Bio = ptr("Grace"), ptr("https://example.com/g.png"), ptr("Admiral")
			}},
			{"clear fields", func(p *echogen.Profile) { p.FullName, p.Preferences = nil, nil }},
			{"nested preferences", func(p *echogen.Profile) { p.Preferences = nestedPreferences() }},
			{"onboarding flag", func(p *echogen.Profile) { p.OnboardingCompleted = true }},
			{"user id cannot move", func(p *echogen.Profile) { p.UserID = echogen.NewID() }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := newProfile(t, s, echogen.NewID())
				other := newProfile(t, s, echogen.NewID())
				got, err := s.UpdateProfile(ctx, want.UserID, at, func(p *echogen.Profile) error {
					if diff := cmp.Diff(want, p); diff != "" {
						t.Errorf("update got (-stored +got):\n%s", diff)
					}
					tt.update(p)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				userID := want.UserID
				tt.update(want)
				want.UserID, want.UpdatedAt = userID, at
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("UpdateProfile returned (-want +got):\n%s", diff)
				}
				read, err := s.Profile(ctx, userID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, read); diff != "" {
					t.Errorf("Profile after update (-want +got):\n%s", diff)
				}
				readOther, err := s.Profile(ctx, other.UserID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(other, readOther); diff != "" {
					t.Errorf("another profile changed (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("update error rolls back", func(t *testing.T) {
		p := newProfile(t, s, echogen.NewID())
		boom := echogen.Invalid([]string{"body", "bio"}, "too_long", "too long")
		_, err := s.UpdateProfile(ctx, p.UserID, t0().Add(time.Hour), func(p *echogen.Profile) error {
			p.Bio = ptr("changed")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("UpdateProfile error = %v, want the callback's", err)
		}
		got, err := s.Profile(ctx, p.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("Profile after a failed update (-want +got):\n%s", diff)
		}
	})

	t.Run("profile and deletion in one read", func(t *testing.T) {
		p := &echogen.Profile{UserID: echogen.NewID(), FullName: ptr("Ada"), CreatedAt: t0(), UpdatedAt: t0()}
		other := echogen.NewID()
		if err := s.CreateProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ScheduleDeletion(ctx, other, t0(), t0().Add(30*day)); err != nil {
			t.Fatal(err)
		}
		check := func(step string, wantDeletion bool) {
			t.Helper()
			gotP, gotD, err := s.ProfileAndDeletion(ctx, p.UserID)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if diff := cmp.Diff(p, gotP); diff != "" {
				t.Errorf("%s: profile (-want +got):\n%s", step, diff)
			}
			active, err := s.ActiveDeletion(ctx, p.UserID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(active, gotD); diff != "" || (gotD != nil) != wantDeletion {
				t.Errorf("%s: deletion (-ActiveDeletion +got):\n%s", step, diff)
			}
		}
		check("none scheduled (another user's is not shown)", false)
		if _, err := s.ScheduleDeletion(ctx, p.UserID, t0(), t0().Add(30*day)); err != nil {
			t.Fatal(err)
		}
		check("scheduled", true)
		if _, err := s.CancelDeletion(ctx, p.UserID, t0().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		check("cancelled", false)
		for _, id := range []string{echogen.NewID(), "not-a-uuid"} {
			if _, _, err := s.ProfileAndDeletion(ctx, id); echogen.ErrorKind(err) != echogen.KindNotFound {
				t.Errorf("ProfileAndDeletion(%q) error = %v, want NotFound", id, err)
			}
		}
	})
}

func testOnboarding(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	completed := t0().Add(time.Hour)
	answers := []echogen.OnboardingAnswer{
		{QuestionID: "goal", Question: "What brings you here?", Answer: "learning"},
		{QuestionID: "topics", Question: "Topics?", Answer: []any{"science", "history"}},
		{QuestionID: "minutes", Question: "How long?", Answer: 15.0},
	}
	markDone := func(p *echogen.Profile) error {
		p.OnboardingCompleted = true
		p.Preferences = map[string]any{"onboarding": map[string]any{"questions": 3.0}}
		return nil
	}

	// storedAnswers returns the answers stored for userID, oldest first.
	storedAnswers := func(t *testing.T, userID string) [][]echogen.OnboardingAnswer {
		t.Helper()
		r := rawDB(t, s)
		rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT responses FROM onboarding_responses WHERE user_id = ? ORDER BY created_at`), userID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out [][]echogen.OnboardingAnswer
		for rows.Next() {
			var a []echogen.OnboardingAnswer
			if err := rows.Scan(jsonDest{&a}); err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("answers and profile together", func(t *testing.T) {
		p := newProfile(t, s, echogen.NewID())
		got, err := s.SaveOnboarding(ctx, p.UserID, answers, completed, markDone)
		if err != nil {
			t.Fatal(err)
		}
		if err := markDone(p); err != nil {
			t.Fatal(err)
		}
		p.UpdatedAt = completed
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("SaveOnboarding returned (-want +got):\n%s", diff)
		}
		read, err := s.Profile(ctx, p.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, read); diff != "" {
			t.Errorf("Profile (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([][]echogen.OnboardingAnswer{answers}, storedAnswers(t, p.UserID)); diff != "" {
			t.Errorf("stored answers (-want +got):\n%s", diff)
		}
	})

	t.Run("nothing stored on failure", func(t *testing.T) {
		boom := errors.New("boom")
		tests := []struct {
			name    string
			profile bool
			update  func(*echogen.Profile) error
			check   func(t *testing.T, err error)
		}{
			{"update fails", true, func(p *echogen.Profile) error { p.OnboardingCompleted = true; return boom },
				func(t *testing.T, err error) {
					if !errors.Is(err, boom) {
						t.Errorf("error = %v, want the callback's", err)
					}
				}},
			{"no profile", false, markDone, func(t *testing.T, err error) { wantKind(t, err, echogen.KindNotFound) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				userID := echogen.NewID()
				var p *echogen.Profile
				if tt.profile {
					p = newProfile(t, s, userID)
				}
				_, err := s.SaveOnboarding(ctx, userID, answers, completed, tt.update)
				tt.check(t, err)
				if got := storedAnswers(t, userID); len(got) != 0 {
					t.Errorf("stored answers = %v, want none", got)
				}
				if p == nil {
					return
				}
				read, err := s.Profile(ctx, userID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(p, read); diff != "" {
					t.Errorf("Profile changed (-want +got):\n%s", diff)
				}
			})
		}
	})
}
