package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testScripts(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("create and read", func(t *testing.T) {
		tests := []struct {
			name string
			sc   func(userID, contentID string) *echogen.Script
		}{
			{"all fields", func(userID, contentID string) *echogen.Script {
				sc := sampleScript(userID, &contentID, t0())
				sc.Metadata, sc.UpdatedAt = nestedPreferences(), t0().Add(time.Second)
				return sc
			}},
			{"given id", func(userID, contentID string) *echogen.Script {
				sc := sampleScript(userID, &contentID, t0())
				sc.ID = echogen.NewID()
				return sc
			}},
			{"no source, title or segments", func(userID, _ string) *echogen.Script {
				return &echogen.Script{UserID: userID, Segments: []echogen.Segment{}, Metadata: map[string]any{}, CreatedAt: t0(), UpdatedAt: t0()}
			}},
			{"segments with and without times and tone", func(userID, _ string) *echogen.Script {
				sc := sampleScript(userID, nil, t0())
				sc.Segments = []echogen.Segment{
					{Speaker: "Alex", Content: "Both times.", StartTime: ptr(0.0), EndTime: ptr(1.25), Tone: "warm"},
					{Speaker: "Sam", Content: "Start only.", StartTime: ptr(1.25)},
					{Speaker: "Alex", Content: "End only.", EndTime: ptr(1e6 + 0.1)},
					{Speaker: "Sam", Content: "Neither, no tone."},
					{Speaker: "", Content: "", Tone: "🙂 \"quoted\""},
				}
				return sc
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				userID := echogen.NewID()
				c := create(t, s.CreateContent, sampleContent(userID, t0()))
				sc := tt.sc(userID, c.ID)
				givenID := sc.ID
				create(t, s.CreateScript, sc)
				if !echogen.IsID(sc.ID) || (givenID != "" && sc.ID != givenID) {
					t.Errorf("id = %q, want %q or a new UUID", sc.ID, givenID)
				}
				got, err := s.Script(ctx, userID, sc.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(sc, got); diff != "" {
					t.Errorf("Script (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("nil segments and metadata are stored empty", func(t *testing.T) {
		sc := sampleScript(echogen.NewID(), nil, t0())
		sc.Segments, sc.Metadata = nil, nil
		create(t, s.CreateScript, sc)
		got, err := s.Script(ctx, sc.UserID, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]any{"stored": got, "after create": sc} {
			x := v.(*echogen.Script)
			if x.Segments == nil || len(x.Segments) != 0 || x.Metadata == nil || len(x.Metadata) != 0 {
				t.Errorf("%s: segments %#v, metadata %#v; want both empty, not nil", name, x.Segments, x.Metadata)
			}
		}
	})

	t.Run("segments are one JSON array", func(t *testing.T) {
		r := rawDB(t, s)
		sc := sampleScript(echogen.NewID(), nil, t0())
		sc.Segments = []echogen.Segment{
			{Speaker: "Alex", Content: "Hi", StartTime: ptr(0.5), EndTime: ptr(1.0), Tone: "warm"},
			{Speaker: "Sam", Content: "Hello"},
		}
		create(t, s.CreateScript, sc)
		var stored []map[string]any
		if err := r.db.QueryRowContext(ctx, r.d.Rebind(`SELECT segments FROM podcast_scripts WHERE id = ?`), sc.ID).Scan(jsonDest{&stored}); err != nil {
			t.Fatal(err)
		}
		want := []map[string]any{
			{"speaker": "Alex", "content": "Hi", "start_time": 0.5, "end_time": 1.0, "tone": "warm"},
			{"speaker": "Sam", "content": "Hello", "start_time": nil, "end_time": nil}, // no tone key
		}
		if diff := cmp.Diff(want, stored); diff != "" {
			t.Errorf("stored segments (-want +got):\n%s", diff)
		}
	})

	t.Run("source content must be the user's", func(t *testing.T) {
		userID := echogen.NewID()
		theirs := create(t, s.CreateContent, sampleContent(echogen.NewID(), t0()))
		for name, id := range map[string]string{"another user's": theirs.ID, "missing": echogen.NewID(), "malformed": "not-a-uuid"} {
			t.Run(name, func(t *testing.T) {
				sc := sampleScript(userID, &id, t0())
				wantNotFound(t, "CreateScript", s.CreateScript(ctx, sc), "Content not found")
				if sc.ID != "" {
					_, err := s.Script(ctx, userID, sc.ID)
					wantNotFound(t, "Script", err, "Script not found")
				}
			})
		}
	})

	t.Run("update", func(t *testing.T) {
		at := t0().Add(time.Hour)
		userID := echogen.NewID()
		mine := create(t, s.CreateContent, sampleContent(userID, t0()))
		tests := []struct {
			name   string
			update func(sc *echogen.Script)
			want   func(sc *echogen.Script) // as stored, when it differs from update
		}{
			{name: "every field", update: func(sc *echogen.Script) {
				sc.SourceContentID, sc.Title, sc.Prompt, sc.Model, sc.Language = &mine.ID, "Renamed", "Shorter", "gemini-2.5", "fr"
				sc.Segments = []echogen.Segment{{Speaker: "Léa", Content: "Bonjour", StartTime: ptr(3.0), Tone: "calm"}}
				sc.Metadata = nestedPreferences()
			}},
			{name: "clear the source", update: func(sc *echogen.Script) { sc.SourceContentID = nil }},
			{name: "nil segments and metadata", update: func(sc *echogen.Script) { sc.Segments, sc.Metadata = nil, nil },
				want: func(sc *echogen.Script) { sc.Segments, sc.Metadata = []echogen.Segment{}, map[string]any{} }},
			{name: "id, owner and creation cannot move", update: func(sc *echogen.Script) {
				sc.ID, sc.UserID, sc.CreatedAt = echogen.NewID(), echogen.NewID(), t0().Add(day)
			}, want: func(*echogen.Script) {}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := create(t, s.CreateContent, sampleContent(userID, t0()))
				want := create(t, s.CreateScript, sampleScript(userID, &c.ID, t0()))
				other := create(t, s.CreateScript, sampleScript(userID, &c.ID, t0()))
				got, err := s.UpdateScript(ctx, userID, want.ID, at, func(sc *echogen.Script) error {
					if diff := cmp.Diff(want, sc); diff != "" {
						t.Errorf("update got (-stored +got):\n%s", diff)
					}
					tt.update(sc)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if tt.want == nil {
					tt.want = tt.update
				}
				tt.want(want)
				want.UpdatedAt = at
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("UpdateScript returned (-want +got):\n%s", diff)
				}
				for _, sc := range []*echogen.Script{want, other} {
					read, err := s.Script(ctx, userID, sc.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(sc, read); diff != "" {
						t.Errorf("Script %s after the update (-want +got):\n%s", sc.ID, diff)
					}
				}
			})
		}
	})

	t.Run("update fails and changes nothing", func(t *testing.T) {
		userID := echogen.NewID()
		theirs := create(t, s.CreateContent, sampleContent(echogen.NewID(), t0()))
		boom := errors.New("boom")
		tests := []struct {
			name   string
			update func(sc *echogen.Script) error
			check  func(t *testing.T, err error)
		}{
			{"callback error", func(sc *echogen.Script) error { sc.Title = "changed"; return boom },
				func(t *testing.T, err error) {
					if !errors.Is(err, boom) {
						t.Errorf("error = %v, want the callback's", err)
					}
				}},
			{"another user's content", func(sc *echogen.Script) error { sc.Title, sc.SourceContentID = "changed", &theirs.ID; return nil },
				func(t *testing.T, err error) { wantNotFound(t, "UpdateScript", err, "Content not found") }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sc := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
				_, err := s.UpdateScript(ctx, userID, sc.ID, t0().Add(time.Hour), tt.update)
				tt.check(t, err)
				got, err := s.Script(ctx, userID, sc.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(sc, got); diff != "" {
					t.Errorf("Script after a failed update (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("list pages newest first", func(t *testing.T) {
		userID := echogen.NewID()
		var scripts []echogen.Script
		for _, at := range []time.Time{t0(), t0().Add(time.Hour), t0().Add(time.Minute), t0().Add(time.Minute)} {
			scripts = append(scripts, *create(t, s.CreateScript, sampleScript(userID, nil, at)))
		}
		create(t, s.CreateScript, sampleScript(echogen.NewID(), nil, t0()))
		scripts = newestFirst(scripts, func(sc echogen.Script) (time.Time, string) { return sc.CreatedAt, sc.ID })
		for _, page := range []echogen.Page{{Limit: 3}, {Limit: 3, Offset: 3}, {Limit: 3, Offset: 4}, {Limit: 1, Offset: 10}, {}, {Offset: 1}} {
			got, err := s.ListScripts(ctx, userID, page)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(window(scripts, page), got); diff != "" {
				t.Errorf("ListScripts(%+v) (-want +got):\n%s", page, diff)
			}
		}
	})

	t.Run("delete takes the podcasts along", func(t *testing.T) {
		userID := echogen.NewID()
		sc := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
		kept := create(t, s.CreateScript, sampleScript(userID, nil, t0()))
		gone := []*echogen.Podcast{
			create(t, s.CreatePodcast, samplePodcast(userID, sc.ID, t0())),
			create(t, s.CreatePodcast, samplePodcast(userID, sc.ID, t0())),
		}
		keptPodcast := create(t, s.CreatePodcast, samplePodcast(userID, kept.ID, t0()))
		deleted, err := s.DeleteScript(ctx, userID, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(deleted) != len(gone) {
			t.Errorf("DeleteScript returned %d podcasts, want %d", len(deleted), len(gone))
		}
		_, err = s.Script(ctx, userID, sc.ID)
		wantNotFound(t, "Script after delete", err, "Script not found")
		_, err = s.DeleteScript(ctx, userID, sc.ID)
		wantNotFound(t, "second delete", err, "Script not found")
		for _, p := range gone {
			_, err := s.Podcast(ctx, userID, p.ID)
			wantNotFound(t, "podcast of the deleted script", err, "Podcast not found")
		}
		list, err := s.ListPodcasts(ctx, userID, echogen.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]echogen.Podcast{*keptPodcast}, list); diff != "" {
			t.Errorf("ListPodcasts (-want +got):\n%s", diff)
		}
	})
}
