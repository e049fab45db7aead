package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testPodcasts(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("create and read", func(t *testing.T) {
		tests := []struct {
			name string
			p    func(userID, scriptID string) *echogen.Podcast
		}{
			{"all fields", func(userID, scriptID string) *echogen.Podcast {
				p := samplePodcast(userID, scriptID, t0())
				p.Metadata, p.UpdatedAt = nestedPreferences(), t0().Add(time.Second)
				return p
			}},
			{"given id", func(userID, scriptID string) *echogen.Podcast {
				p := samplePodcast(userID, scriptID, t0())
				p.ID = echogen.NewID()
				return p
			}},
			{"no cover, no duration", func(userID, scriptID string) *echogen.Podcast {
				return &echogen.Podcast{UserID: userID, ScriptID: scriptID, AudioPath: userID + "/a.mp3", Metadata: map[string]any{}, CreatedAt: t0(), UpdatedAt: t0()}
			}},
			{"zero duration", func(userID, scriptID string) *echogen.Podcast {
				p := samplePodcast(userID, scriptID, t0())
				p.DurationSeconds = ptr(0)
				return p
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				userID := echogen.NewID()
				sc := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
				p := tt.p(userID, sc.ID)
				givenID := p.ID
				create(t, s.CreatePodcast, p)
				if !echogen.IsID(p.ID) || (givenID != "" && p.ID != givenID) {
					t.Errorf("id = %q, want %q or a new UUID", p.ID, givenID)
				}
				got, err := s.Podcast(ctx, userID, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(p, got); diff != "" {
					t.Errorf("Podcast (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("nil metadata is an empty object", func(t *testing.T) {
		userID := echogen.NewID()
		sc := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
		p := samplePodcast(userID, sc.ID, t0())
		p.Metadata = nil
		create(t, s.CreatePodcast, p)
		got, err := s.Podcast(ctx, userID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Metadata == nil || len(got.Metadata) != 0 || p.Metadata == nil {
			t.Errorf("metadata = %#v stored, %#v after create; want empty maps", got.Metadata, p.Metadata)
		}
	})

	t.Run("script must be the user's", func(t *testing.T) {
		userID := echogen.NewID()
		theirs := create(t, s.CreateScript, sampleScript(echogen.NewID(), nil, t0()))
		for name, scriptID := range map[string]string{"another user's": theirs.ID, "missing": echogen.NewID(), "malformed": "not-a-uuid", "none": ""} {
			t.Run(name, func(t *testing.T) {
				p := samplePodcast(userID, scriptID, t0())
				wantNotFound(t, "CreatePodcast", s.CreatePodcast(ctx, p), "Script not found")
				_, err := s.Podcast(ctx, userID, p.ID)
				wantNotFound(t, "Podcast", err, "Podcast not found")
			})
		}
	})

	t.Run("list pages newest first", func(t *testing.T) {
		userID := echogen.NewID()
		sc := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
		var pods []echogen.Podcast
		for _, at := range []time.Time{t0(), t0().Add(time.Hour), t0().Add(time.Minute), t0().Add(time.Minute)} {
			pods = append(pods, *create(t, s.CreatePodcast, samplePodcast(userID, sc.ID, at)))
		}
		theirs := create(t, s.CreateScript, sampleScript(echogen.NewID(), nil, t0()))
		create(t, s.CreatePodcast, samplePodcast(theirs.UserID, theirs.ID, t0()))
		pods = newestFirst(pods, func(p echogen.Podcast) (time.Time, string) { return p.CreatedAt, p.ID })
		for _, page := range []echogen.Page{{Limit: 3}, {Limit: 3, Offset: 3}, {Limit: 3, Offset: 4}, {Limit: 1, Offset: 10}, {}, {Offset: 2}} {
			got, err := s.ListPodcasts(ctx, userID, page)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(window(pods, page), got); diff != "" {
				t.Errorf("ListPodcasts(%+v) (-want +got):\n%s", page, diff)
			}
		}
	})

	t.Run("update", func(t *testing.T) {
		userID := echogen.NewID()
		sc := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
		p := create(t, s.CreatePodcast, samplePodcast(userID, sc.ID, t0()))
		at := t0().Add(time.Hour)
		cover := userID + "/new-cover.png"
		got, err := s.UpdatePodcast(ctx, userID, p.ID, at, func(p *echogen.Podcast) error {
			p.AudioPath, p.CoverArtPath, p.DurationSeconds = userID+"/new.mp3", &cover, ptr(1800)
			p.Metadata = map[string]any{"format": "mp3", "loudness": -16.0}
			p.ID, p.UserID, p.ScriptID, p.CreatedAt = "x", "y", "z", at // ignored
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := *p
		want.AudioPath, want.CoverArtPath, want.DurationSeconds, want.UpdatedAt = userID+"/new.mp3", &cover, ptr(1800), at
		want.Metadata = map[string]any{"format": "mp3", "loudness": -16.0}
		read, err := s.Podcast(ctx, userID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for name, g := range map[string]*echogen.Podcast{"returned": got, "read back": read} {
			if diff := cmp.Diff(&want, g); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		}
		sentinel := echogen.Errorf(echogen.KindConflict, "x", "refused")
		if _, err := s.UpdatePodcast(ctx, userID, p.ID, at.Add(time.Hour), func(*echogen.Podcast) error { return sentinel }); err != sentinel {
			t.Errorf("an update that fails: %v", err)
		}
	})

	t.Run("delete returns the row", func(t *testing.T) {
		userID := echogen.NewID()
		sc := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
		p := create(t, s.CreatePodcast, samplePodcast(userID, sc.ID, t0()))
		kept := create(t, s.CreatePodcast, samplePodcast(userID, sc.ID, t0()))
		got, err := s.DeletePodcast(ctx, userID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("DeletePodcast returned (-want +got):\n%s", diff)
		}
		_, err = s.Podcast(ctx, userID, p.ID)
		wantNotFound(t, "Podcast after delete", err, "Podcast not found")
		got, err = s.DeletePodcast(ctx, userID, p.ID)
		wantNotFound(t, "second delete", err, "Podcast not found")
		if got != nil {
			t.Errorf("second DeletePodcast returned %v, want nil", got)
		}
		if _, err := s.Podcast(ctx, userID, kept.ID); err != nil {
			t.Errorf("the other podcast: %v", err)
		}
		if _, err := s.Script(ctx, userID, sc.ID); err != nil {
			t.Errorf("the script: %v", err)
		}
	})
}
