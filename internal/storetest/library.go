package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// The library's fixtures. Library rows need no users row: the schema has no
// foreign key to users.

func sampleAPIKey(userID string, at time.Time) *echogen.APIKey {
	return &echogen.APIKey{
		UserID:         userID,
		Provider:       echogen.ProviderOpenAI,
		Alias:          ptr("main"),
		Sealed:         append([]byte{0x00, 0x01, 0xfe, 0xff}, echogen.NewID()...), // binary, and unique
		Hint:           "abcd",
		Status:         echogen.KeyValid,
		LastVerifiedAt: ptr(at.Add(time.Minute)),
		Metadata:       map[string]any{"org": "acme"},
		CreatedAt:      at,
		UpdatedAt:      at,
	}
}

func sampleContent(userID string, at time.Time) *echogen.Content {
	return &echogen.Content{
		UserID:    userID,
		URL:       "https://example.com/article",
		Title:     "An article",
		Markdown:  "# An article\n\nText.",
		Provider:  "firecrawl",
		Metadata:  map[string]any{"words": 2.0},
		CreatedAt: at,
		UpdatedAt: at,
	}
}

func sampleScript(userID string, contentID *string, at time.Time) *echogen.Script {
	return &echogen.Script{
		UserID:          userID,
		SourceContentID: contentID,
		Title:           "Episode one",
		Prompt:          "Summarise it",
		Model:           "gpt-4o",
		Language:        "en",
		Segments: []echogen.Segment{
			{Speaker: "Alex", Content: "Welcome!", StartTime: ptr(0.0), EndTime: ptr(2.5), Tone: "cheerful"},
			{Speaker: "Sam", Content: "Thanks."},
		},
		Metadata:  map[string]any{"voices": map[string]any{"Alex": "nova"}},
		CreatedAt: at,
		UpdatedAt: at,
	}
}

func samplePodcast(userID, scriptID string, at time.Time) *echogen.Podcast {
	return &echogen.Podcast{
		UserID:          userID,
		ScriptID:        scriptID,
		AudioPath:       userID + "/" + echogen.NewID() + ".mp3",
		CoverArtPath:    ptr(userID + "/cover.png"),
		DurationSeconds: ptr(312),
		Metadata:        map[string]any{"format": "mp3"},
		CreatedAt:       at,
		UpdatedAt:       at,
	}
}

// create stores v with a Store's Create method and returns it.
func create[T any](t *testing.T, fn func(context.Context, *T) error, v *T) *T {
	t.Helper()
	if err := fn(t.Context(), v); err != nil {
		t.Fatalf("create %T: %v", v, err)
	}
	return v
}

// newestFirst sorts rows as the lists do: created_at descending, then id
// descending.
func newestFirst[T any](rows []T, key func(T) (time.Time, string)) []T {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return strings.Compare(ib, ia)
	})
	return out
}

// window is the part of rows a page selects.
func window[T any](rows []T, p echogen.Page) []T {
	lo := min(p.Offset, len(rows))
	hi := len(rows)
	if p.Limit > 0 {
		hi = min(lo+p.Limit, hi)
	}
	return slices.Clone(rows[lo:hi])
}

// seedLibrary gives a user a row in each library table through the Store,
// with every column set, and a row left to the schema's defaults in each
// table 00002 changed. It returns the content's id.
func seedLibrary(t *testing.T, s echogen.Store, r raw, userID string) string {
	t.Helper()
	create(t, s.CreateAPIKey, sampleAPIKey(userID, t0()))
	c := create(t, s.CreateContent, sampleContent(userID, t0()))
	sc := create(t, s.CreateScript, sampleScript(userID, &c.ID, t0()))
	create(t, s.CreatePodcast, samplePodcast(userID, sc.ID, t0()))
	r.exec(t, `INSERT INTO user_api_keys (id, user_id, provider, sealed_key) VALUES (?, ?, ?, ?)`,
		echogen.NewID(), userID, "groq", []byte("sealed"))
	r.exec(t, `INSERT INTO podcast_scripts (id, user_id) VALUES (?, ?)`, echogen.NewID(), userID)
	return c.ID
}

// testLibraryDefaults reads, through the Store, rows written with plain SQL
// that leave every optional column to the schema: rows of older code, or
// of the original app.
func testLibraryDefaults(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	r := rawDB(t, s)
	userID := echogen.NewID()
	keyID, contentID, scriptID, podcastID := echogen.NewID(), echogen.NewID(), echogen.NewID(), echogen.NewID()
	r.exec(t, `INSERT INTO user_api_keys (id, user_id, provider, sealed_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		keyID, userID, "gemini", []byte{1, 2, 3}, t0(), t0())
	r.exec(t, `INSERT INTO scraped_content (id, user_id, url, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		contentID, userID, "", t0(), t0())
	r.exec(t, `INSERT INTO podcast_scripts (id, user_id, created_at, updated_at) VALUES (?, ?, ?, ?)`, scriptID, userID, t0(), t0())
	r.exec(t, `INSERT INTO generated_podcasts (id, user_id, script_id, duration_seconds, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		podcastID, userID, scriptID, 312.5, t0(), t0())

	empty := map[string]any{}
	tests := []struct {
		name string
		get  func() (any, error)
		want any
	}{
		{"API key", func() (any, error) { return s.APIKey(ctx, userID, keyID) },
			&echogen.APIKey{ID: keyID, UserID: userID, Provider: echogen.ProviderGemini, Sealed: []byte{1, 2, 3}, Status: echogen.KeyUnverified,
				Metadata: empty, CreatedAt: t0(), UpdatedAt: t0()}},
		{"content", func() (any, error) { return s.Content(ctx, userID, contentID) },
			&echogen.Content{ID: contentID, UserID: userID, Metadata: empty, CreatedAt: t0(), UpdatedAt: t0()}},
		{"script", func() (any, error) { return s.Script(ctx, userID, scriptID) },
			&echogen.Script{ID: scriptID, UserID: userID, Segments: []echogen.Segment{}, Metadata: empty, CreatedAt: t0(), UpdatedAt: t0()}},
		{"podcast, duration rounded", func() (any, error) { return s.Podcast(ctx, userID, podcastID) },
			&echogen.Podcast{ID: podcastID, UserID: userID, ScriptID: scriptID, DurationSeconds: ptr(313), Metadata: empty, CreatedAt: t0(), UpdatedAt: t0()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// testLibraryScoping checks every library resource the same way: another
// user's, a missing and a malformed id are all NotFound, with the
// resource's message, and change nothing.
func testLibraryScoping(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	owner, stranger := echogen.NewID(), echogen.NewID()
	at := t0().Add(time.Hour)

	// Every resource of the owner, and one of the stranger's so that lists
	// are not trivially empty.
	key := create(t, s.CreateAPIKey, sampleAPIKey(owner, t0()))
	content := create(t, s.CreateContent, sampleContent(owner, t0()))
	script := create(t, s.CreateScript, sampleScript(owner, &content.ID, t0()))
	podcast := create(t, s.CreatePodcast, samplePodcast(owner, script.ID, t0()))
	strangerContent := create(t, s.CreateContent, sampleContent(stranger, t0()))
	strangerScript := create(t, s.CreateScript, sampleScript(stranger, &strangerContent.ID, t0()))
	create(t, s.CreateAPIKey, sampleAPIKey(stranger, t0()))
	create(t, s.CreatePodcast, samplePodcast(stranger, strangerScript.ID, t0()))

	notCalled := func() error { t.Error("update called for a row the user cannot see"); return nil }
	resources := []struct {
		name    string
		id      string
		message string
		get     func(userID, id string) (any, error)
		update  func(userID, id string) error // nil: the resource has none
		delete  func(userID, id string) error
		list    func(userID string) ([]string, error) // ids
	}{
		{
			name: "API key", id: key.ID, message: "API key not found",
			get: func(userID, id string) (any, error) { return s.APIKey(ctx, userID, id) },
			update: func(userID, id string) error {
				_, err := s.UpdateAPIKey(ctx, userID, id, at, func(*echogen.APIKey) error { return notCalled() })
				return err
			},
			delete: func(userID, id string) error { return s.DeleteAPIKey(ctx, userID, id) },
			list: func(userID string) ([]string, error) {
				l, err := s.ListAPIKeys(ctx, userID)
				return idsOf(l, func(k echogen.APIKey) string { return k.ID }), err
			},
		},
		{
			name: "content", id: content.ID, message: "Content not found",
			get: func(userID, id string) (any, error) { return s.Content(ctx, userID, id) },
			update: func(userID, id string) error {
				_, err := s.UpdateContent(ctx, userID, id, at, func(*echogen.Content) error { return notCalled() })
				return err
			},
			delete: func(userID, id string) error { return s.DeleteContent(ctx, userID, id) },
			list: func(userID string) ([]string, error) {
				l, n, err := s.ListContent(ctx, userID, echogen.Page{})
				if err == nil && n != len(l) {
					t.Errorf("ListContent total = %d, want %d", n, len(l))
				}
				return idsOf(l, func(c echogen.Content) string { return c.ID }), err
			},
		},
		{
			name: "script", id: script.ID, message: "Script not found",
			get: func(userID, id string) (any, error) { return s.Script(ctx, userID, id) },
			update: func(userID, id string) error {
				_, err := s.UpdateScript(ctx, userID, id, at, func(*echogen.Script) error { return notCalled() })
				return err
			},
			delete: func(userID, id string) error { _, err := s.DeleteScript(ctx, userID, id); return err },
			list: func(userID string) ([]string, error) {
				l, err := s.ListScripts(ctx, userID, echogen.Page{})
				return idsOf(l, func(sc echogen.Script) string { return sc.ID }), err
			},
		},
		{
			name: "podcast", id: podcast.ID, message: "Podcast not found",
			get: func(userID, id string) (any, error) { return s.Podcast(ctx, userID, id) },
			update: func(userID, id string) error {
				_, err := s.UpdatePodcast(ctx, userID, id, at, func(*echogen.Podcast) error { return notCalled() })
				return err
			},
			delete: func(userID, id string) error {
				_, err := s.DeletePodcast(ctx, userID, id)
				return err
			},
			list: func(userID string) ([]string, error) {
				l, err := s.ListPodcasts(ctx, userID, echogen.Page{})
				return idsOf(l, func(p echogen.Podcast) string { return p.ID }), err
			},
		},
	}
	cases := []struct {
		name   string
		userID string
		id     func(own string) string
	}{
		{"another user's id", stranger, func(own string) string { return own }},
		{"missing id", owner, func(string) string { return echogen.NewID() }},
		{"malformed id", owner, func(string) string { return "not-a-uuid" }},
		{"empty id", owner, func(string) string { return "" }},
		{"malformed user id", "not-a-uuid", func(own string) string { return own }},
	}
	for _, res := range resources {
		t.Run(res.name, func(t *testing.T) {
			before, err := res.get(owner, res.id)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					id := c.id(res.id)
					_, err := res.get(c.userID, id)
					wantNotFound(t, "get", err, res.message)
					if res.update != nil {
						wantNotFound(t, "update", res.update(c.userID, id), res.message)
					}
					wantNotFound(t, "delete", res.delete(c.userID, id), res.message)
					if c.userID == owner {
						return
					}
					ids, err := res.list(c.userID)
					if err != nil {
						t.Fatalf("list: %v", err)
					}
					if slices.Contains(ids, res.id) {
						t.Errorf("list of user %s shows the owner's row", c.userID)
					}
				})
			}
			after, err := res.get(owner, res.id)
			if err != nil {
				t.Fatalf("the owner's row after the attempts: %v", err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("the owner's row changed (-before +after):\n%s", diff)
			}
			if ids, err := res.list(owner); err != nil || !slices.Contains(ids, res.id) {
				t.Errorf("the owner's list = %v, %v; want it to hold %s", ids, err, res.id)
			}
		})
	}
}

// wantNotFound fails the test unless err is KindNotFound with message.
func wantNotFound(t *testing.T, op string, err error, message string) {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) || e.Kind != echogen.KindNotFound || e.Message != message {
		t.Errorf("%s: error = %v, want KindNotFound %q", op, err, message)
	}
}

func idsOf[T any](rows []T, id func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = id(r)
	}
	return out
}
