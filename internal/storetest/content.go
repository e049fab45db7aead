package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testContent(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("create and read", func(t *testing.T) {
		tests := []struct {
			name string
			c    func(userID string) *echogen.Content
		}{
			{"all fields", func(userID string) *echogen.Content {
				c := sampleContent(userID, t0())
				c.Metadata, c.UpdatedAt = nestedPreferences(), t0().Add(time.Second)
				return c
			}},
			{"given id", func(userID string) *echogen.Content {
				c := sampleContent(userID, t0())
				c.ID = echogen.NewID()
				return c
			}},
			{"pasted text has no URL", func(userID string) *echogen.Content {
				return &echogen.Content{UserID: userID, Title: "Notes", Markdown: "just text", Metadata: map[string]any{}, CreatedAt: t0(), UpdatedAt: t0()}
			}},
			{"nothing but the owner", func(userID string) *echogen.Content {
				return &echogen.Content{UserID: userID, Metadata: map[string]any{}, CreatedAt: t0(), UpdatedAt: t0()}
			}},
			{"unicode and quotes", func(userID string) *echogen.Content {
				c := sampleContent(userID, t0())
				c.Title, c.Markdown = `Ünïcødé "quoted" \ 🎙️`, "line\n'single' \"double\"\ttab"
				return c
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := tt.c(echogen.NewID())
				givenID := c.ID
				create(t, s.CreateContent, c)
				if !echogen.IsID(c.ID) || (givenID != "" && c.ID != givenID) {
					t.Errorf("id = %q, want %q or a new UUID", c.ID, givenID)
				}
				got, err := s.Content(ctx, c.UserID, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c, got); diff != "" {
					t.Errorf("Content (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("nil metadata is an empty object", func(t *testing.T) {
		c := sampleContent(echogen.NewID(), t0())
		c.Metadata = nil
		create(t, s.CreateContent, c)
		got, err := s.Content(ctx, c.UserID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Metadata == nil || len(got.Metadata) != 0 || c.Metadata == nil {
			t.Errorf("metadata = %#v stored, %#v after create; want empty maps", got.Metadata, c.Metadata)
		}
	})

	t.Run("update", func(t *testing.T) {
		at := t0().Add(time.Hour)
		tests := []struct {
			name   string
			update func(c *echogen.Content)
			want   func(c *echogen.Content) // as stored, when it differs from update
		}{
			{name: "every field", update: func(c *echogen.Content) {
				c.URL, c.Title, c.Markdown, c.Provider, c.Metadata = "https://example.org/new", "New", "# New", "hyperbrowser", nestedPreferences()
			}},
			{name: "clear the URL", update: func(c *echogen.Content) { c.URL = "" }},
			{name: "nil metadata", update: func(c *echogen.Content) { c.Metadata = nil },
				want: func(c *echogen.Content) { c.Metadata = map[string]any{} }},
			{name: "id, owner and creation cannot move", update: func(c *echogen.Content) {
				c.ID, c.UserID, c.CreatedAt = echogen.NewID(), echogen.NewID(), t0().Add(day)
			}, want: func(*echogen.Content) {}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := create(t, s.CreateContent, sampleContent(echogen.NewID(), t0()))
				other := create(t, s.CreateContent, sampleContent(want.UserID, t0()))
				got, err := s.UpdateContent(ctx, want.UserID, want.ID, at, func(c *echogen.Content) error {
					if diff := cmp.Diff(want, c); diff != "" {
						t.Errorf("update got (-stored +got):\n%s", diff)
					}
					tt.update(c)
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
					t.Errorf("UpdateContent returned (-want +got):\n%s", diff)
				}
				for _, c := range []*echogen.Content{want, other} {
					read, err := s.Content(ctx, c.UserID, c.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(c, read); diff != "" {
						t.Errorf("Content %s after the update (-want +got):\n%s", c.ID, diff)
					}
				}
			})
		}
	})

	t.Run("update error rolls back", func(t *testing.T) {
		c := create(t, s.CreateContent, sampleContent(echogen.NewID(), t0()))
		boom := echogen.Invalid([]string{"body", "metadata"}, "too_long", "too long")
		_, err := s.UpdateContent(ctx, c.UserID, c.ID, t0().Add(time.Hour), func(c *echogen.Content) error {
			c.Title = "changed"
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("UpdateContent error = %v, want the callback's", err)
		}
		got, err := s.Content(ctx, c.UserID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("Content after a failed update (-want +got):\n%s", diff)
		}
	})

	t.Run("list pages newest first", func(t *testing.T) {
		userID := echogen.NewID()
		var items []echogen.Content
		for _, at := range []time.Time{t0(), t0().Add(time.Hour), t0().Add(time.Minute), t0().Add(time.Minute), t0().Add(-time.Hour)} {
			items = append(items, *create(t, s.CreateContent, sampleContent(userID, at)))
		}
		create(t, s.CreateContent, sampleContent(echogen.NewID(), t0().Add(time.Minute)))
		items = newestFirst(items, func(c echogen.Content) (time.Time, string) { return c.CreatedAt, c.ID })
		tests := []struct {
			name string
			page echogen.Page
		}{
			{"first page", echogen.Page{Limit: 2}},
			{"second page", echogen.Page{Limit: 2, Offset: 2}},
			{"short last page", echogen.Page{Limit: 2, Offset: 4}},
			{"offset at the end", echogen.Page{Limit: 2, Offset: 5}},
			{"offset beyond the end", echogen.Page{Limit: 2, Offset: 50}},
			{"no limit", echogen.Page{}},
			{"no limit, offset", echogen.Page{Offset: 3}},
			{"no limit, offset beyond the end", echogen.Page{Offset: 9}},
			{"negative offset is zero", echogen.Page{Limit: 1, Offset: -3}},
			{"limit beyond the end", echogen.Page{Limit: 100}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := s.ListContent(ctx, userID, tt.page)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(window(items, echogen.Page{Limit: tt.page.Limit, Offset: max(tt.page.Offset, 0)}), got); diff != "" {
					t.Errorf("ListContent(%+v) (-want +got):\n%s", tt.page, diff)
				}
				if total != len(items) {
					t.Errorf("ListContent(%+v) total = %d, want %d", tt.page, total, len(items))
				}
			})
		}
		for _, page := range []echogen.Page{{}, {Limit: 5, Offset: 5}} {
			got, total, err := s.ListContent(ctx, echogen.NewID(), page)
			if err != nil || got == nil || len(got) != 0 || total != 0 {
				t.Errorf("ListContent(%+v) of a user without content = %#v, %d, %v; want an empty list, 0", page, got, total, err)
			}
		}
	})

	t.Run("search", func(t *testing.T) {
		userID := echogen.NewID()
		add := func(title, url string, at time.Duration) echogen.Content {
			c := sampleContent(userID, t0().Add(at))
			c.Title, c.URL = title, url
			return *create(t, s.CreateContent, c)
		}
		goTalk := add("Go Concurrency Patterns", "https://talks.example.com/1", 0)
		goDev := add("A blog", "https://GO.dev/blog", time.Second)
		percent := add("100% pure", "https://example.com/pure", 2*time.Second)
		thousand := add("1000 words", "https://example.com/words", 3*time.Second) // what 100% as a pattern would match
		underscore := add("snake", "https://example.com/a_b", 4*time.Second)
		add("axb", "https://example.com/axb", 5*time.Second) // what a_b as a pattern would match
		backslash := add(`C:\Temp`, "", 6*time.Second)
		pasted := add("Pasted notes", "", 7*time.Second)
		// Another user's match never shows.
		stranger := sampleContent(echogen.NewID(), t0())
		stranger.Title = "Go go go"
		create(t, s.CreateContent, stranger)

		tests := []struct {
			name  string
			page  echogen.Page
			want  []echogen.Content // newest first
			total int
		}{
			{"title or URL, any case", echogen.Page{Query: "gO"}, []echogen.Content{goDev, goTalk}, 2},
			{"URL only", echogen.Page{Query: "go.DEV/"}, []echogen.Content{goDev}, 1},
			{"percent is literal", echogen.Page{Query: "100%"}, []echogen.Content{percent}, 1},
			{"underscore is literal", echogen.Page{Query: "a_b"}, []echogen.Content{underscore}, 1},
			{"backslash is literal", echogen.Page{Query: `:\t`}, []echogen.Content{backslash}, 1},
			{"a lone wildcard matches itself only", echogen.Page{Query: "_"}, []echogen.Content{underscore}, 1},
			{"title only", echogen.Page{Query: "notes"}, []echogen.Content{pasted}, 1},
			{"no match", echogen.Page{Query: "zebra"}, []echogen.Content{}, 0},
			{"paged, total counts all matches", echogen.Page{Query: "example.com", Limit: 2, Offset: 1}, []echogen.Content{underscore, thousand}, 5},
			{"paged beyond the matches", echogen.Page{Query: "example.com", Limit: 2, Offset: 5}, []echogen.Content{}, 5},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := s.ListContent(ctx, userID, tt.page)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ListContent(%+v) (-want +got):\n%s", tt.page, diff)
				}
				if total != tt.total {
					t.Errorf("ListContent(%+v) total = %d, want %d", tt.page, total, tt.total)
				}
			})
		}
	})

	t.Run("delete clears the source of scripts", func(t *testing.T) {
		userID := echogen.NewID()
		c := create(t, s.CreateContent, sampleContent(userID, t0()))
		kept := create(t, s.CreateContent, sampleContent(userID, t0()))
		fromC := create(t, s.CreateScript, sampleScript(userID, &c.ID, t0()))
		fromKept := create(t, s.CreateScript, sampleScript(userID, &kept.ID, t0()))
		if err := s.DeleteContent(ctx, userID, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.Content(ctx, userID, c.ID)
		wantNotFound(t, "Content after delete", err, "Content not found")
		wantNotFound(t, "second delete", s.DeleteContent(ctx, userID, c.ID), "Content not found")

		fromC.SourceContentID = nil // and nothing else changes, updated_at included
		for _, want := range []*echogen.Script{fromC, fromKept} {
			got, err := s.Script(ctx, userID, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Script %s (-want +got):\n%s", want.ID, diff)
			}
		}
	})
}
