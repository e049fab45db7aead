package storetest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testAPIKeys(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("create and read", func(t *testing.T) {
		tests := []struct {
			name string
			k    func(userID string) *echogen.APIKey
		}{
			{"all fields", func(userID string) *echogen.APIKey {
				k := sampleAPIKey(userID, t0())
				k.Provider, k.Status, k.StatusMessage = echogen.ProviderOllama, echogen.KeyInvalid, "401: \"bad key\" ✗"
				k.Metadata, k.UpdatedAt = map[string]any{"base_url": "http://localhost:11434", "nested": nestedPreferences()}, t0().Add(time.Second)
				return k
			}},
			{"given id", func(userID string) *echogen.APIKey {
				k := sampleAPIKey(userID, t0())
				k.ID = echogen.NewID()
				return k
			}},
			{"nothing optional", func(userID string) *echogen.APIKey {
				return &echogen.APIKey{UserID: userID, Provider: echogen.ProviderGroq, Sealed: []byte("s"), Status: echogen.KeyUnverified,
					Metadata: map[string]any{}, CreatedAt: t0(), UpdatedAt: t0()}
			}},
			{"empty alias", func(userID string) *echogen.APIKey {
				k := sampleAPIKey(userID, t0())
				k.Alias = ptr("")
				return k
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k := tt.k(echogen.NewID())
				givenID := k.ID
				if err := s.CreateAPIKey(ctx, k); err != nil {
					t.Fatal(err)
				}
				if !echogen.IsID(k.ID) || (givenID != "" && k.ID != givenID) {
					t.Errorf("id = %q, want %q or a new UUID", k.ID, givenID)
				}
				got, err := s.APIKey(ctx, k.UserID, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(k, got); diff != "" {
					t.Errorf("APIKey (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("create fills status and metadata", func(t *testing.T) {
		k := &echogen.APIKey{UserID: echogen.NewID(), Provider: echogen.ProviderGroq, Sealed: []byte("s"), CreatedAt: t0(), UpdatedAt: t0()}
		create(t, s.CreateAPIKey, k)
		want := &echogen.APIKey{ID: k.ID, UserID: k.UserID, Provider: echogen.ProviderGroq, Sealed: []byte("s"), Status: echogen.KeyUnverified,
			Metadata: map[string]any{}, CreatedAt: t0(), UpdatedAt: t0()}
		if diff := cmp.Diff(want, k); diff != "" {
			t.Errorf("key after CreateAPIKey (-want +got):\n%s", diff)
		}
		got, err := s.APIKey(ctx, k.UserID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("APIKey (-want +got):\n%s", diff)
		}
	})

	t.Run("a status outside the schema's is refused", func(t *testing.T) {
		k := sampleAPIKey(echogen.NewID(), t0())
		k.Status = "maybe"
		if err := s.CreateAPIKey(ctx, k); err == nil {
			t.Error("CreateAPIKey with status \"maybe\" succeeded")
		}
	})

	t.Run("list newest first", func(t *testing.T) {
		userID := echogen.NewID()
		var keys []echogen.APIKey
		for _, at := range []time.Time{t0(), t0().Add(time.Hour), t0().Add(time.Minute), t0().Add(time.Minute)} { // a tie: id decides
			keys = append(keys, *create(t, s.CreateAPIKey, sampleAPIKey(userID, at)))
		}
		create(t, s.CreateAPIKey, sampleAPIKey(echogen.NewID(), t0().Add(time.Minute)))
		got, err := s.ListAPIKeys(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		want := newestFirst(keys, func(k echogen.APIKey) (time.Time, string) { return k.CreatedAt, k.ID })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListAPIKeys (-want +got):\n%s", diff)
		}
		if got, err := s.ListAPIKeys(ctx, echogen.NewID()); err != nil || got == nil || len(got) != 0 {
			t.Errorf("ListAPIKeys of a user without keys = %#v, %v; want an empty list", got, err)
		}
	})

	t.Run("update", func(t *testing.T) {
		at := t0().Add(time.Hour).In(time.FixedZone("UTC+2", 2*3600))
		verified := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC-3", -3*3600))
		tests := []struct {
			name   string
			update func(k *echogen.APIKey)
			want   func(k *echogen.APIKey) // the change as stored, when it differs from update
		}{
			{name: "verification", update: func(k *echogen.APIKey) {
				k.Status, k.StatusMessage, k.LastVerifiedAt = echogen.KeyInvalid, "Incorrect API key provided", &verified
			}, want: func(k *echogen.APIKey) {
				k.Status, k.StatusMessage, k.LastVerifiedAt = echogen.KeyInvalid, "Incorrect API key provided", ptr(verified.UTC().Truncate(time.Microsecond))
			}},
			{name: "new secret", update: func(k *echogen.APIKey) {
				k.Sealed, k.Hint, k.Status, k.StatusMessage, k.LastVerifiedAt = []byte{9, 8, 7}, "wxyz", echogen.KeyUnverified, "", nil
			}},
			{name: "alias and metadata", update: func(k *echogen.APIKey) {
				k.Alias, k.Metadata = ptr("backup"), nestedPreferences()
			}},
			{name: "clear alias and metadata", update: func(k *echogen.APIKey) { k.Alias, k.Metadata = nil, nil },
				want: func(k *echogen.APIKey) { k.Alias, k.Metadata = nil, map[string]any{} }},
			{name: "metadata comes back as JSON", update: func(k *echogen.APIKey) { k.Metadata = map[string]any{"n": 3, "list": []string{"a"}} },
				want: func(k *echogen.APIKey) { k.Metadata = map[string]any{"n": 3.0, "list": []any{"a"}} }},
			{name: "id, owner, provider and creation cannot move", update: func(k *echogen.APIKey) {
				k.ID, k.UserID, k.Provider, k.CreatedAt = echogen.NewID(), echogen.NewID(), echogen.ProviderGemini, t0().Add(day)
			}, want: func(*echogen.APIKey) {}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := create(t, s.CreateAPIKey, sampleAPIKey(echogen.NewID(), t0()))
				other := create(t, s.CreateAPIKey, sampleAPIKey(want.UserID, t0()))
				got, err := s.UpdateAPIKey(ctx, want.UserID, want.ID, at, func(k *echogen.APIKey) error {
					if diff := cmp.Diff(want, k); diff != "" {
						t.Errorf("update got (-stored +got):\n%s", diff)
					}
					tt.update(k)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if tt.want == nil {
					tt.want = tt.update
				}
				tt.want(want)
				want.UpdatedAt = at.UTC()
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("UpdateAPIKey returned (-want +got):\n%s", diff)
				}
				for _, k := range []*echogen.APIKey{want, other} {
					read, err := s.APIKey(ctx, k.UserID, k.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(k, read); diff != "" {
						t.Errorf("APIKey %s after the update (-want +got):\n%s", k.ID, diff)
					}
				}
			})
		}
	})

	t.Run("update error rolls back", func(t *testing.T) {
		k := create(t, s.CreateAPIKey, sampleAPIKey(echogen.NewID(), t0()))
		boom := errors.New("boom")
		_, err := s.UpdateAPIKey(ctx, k.UserID, k.ID, t0().Add(time.Hour), func(k *echogen.APIKey) error {
			k.Status, k.Sealed = echogen.KeyInvalid, []byte("changed")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("UpdateAPIKey error = %v, want the callback's", err)
		}
		got, err := s.APIKey(ctx, k.UserID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(k, got); diff != "" {
			t.Errorf("APIKey after a failed update (-want +got):\n%s", diff)
		}
	})

	t.Run("delete", func(t *testing.T) {
		k := create(t, s.CreateAPIKey, sampleAPIKey(echogen.NewID(), t0()))
		kept := create(t, s.CreateAPIKey, sampleAPIKey(k.UserID, t0()))
		if err := s.DeleteAPIKey(ctx, k.UserID, k.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.APIKey(ctx, k.UserID, k.ID)
		wantNotFound(t, "APIKey after delete", err, "API key not found")
		wantNotFound(t, "second delete", s.DeleteAPIKey(ctx, k.UserID, k.ID), "API key not found")
		if _, err := s.APIKey(ctx, kept.UserID, kept.ID); err != nil {
			t.Errorf("the user's other key: %v", err)
		}
	})
}

// testAPIKeyRotation has a store of its own: APIKeysAfter sees every
// user's keys.
func testAPIKeyRotation(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	var all []echogen.APIKey
	for _, userID := range []string{echogen.NewID(), echogen.NewID(), echogen.NewID()} {
		for i := range 3 {
			all = append(all, *create(t, s.CreateAPIKey, sampleAPIKey(userID, t0().Add(time.Duration(i)*time.Minute))))
		}
	}
	slices.SortFunc(all, func(a, b echogen.APIKey) int { return strings.Compare(a.ID, b.ID) })

	t.Run("pages across users in id order", func(t *testing.T) {
		var got []echogen.APIKey
		after := ""
		for range len(all) + 1 { // one page more than needed would loop
			page, err := s.APIKeysAfter(ctx, after, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 4 {
				t.Fatalf("page of %d keys, limit 4", len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].ID
		}
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("every page together (-want +got):\n%s", diff)
		}
	})

	t.Run("bounds", func(t *testing.T) {
		unstored := echogen.NewID() // rotation may resume after a deleted key
		tests := []struct {
			name  string
			after string
			limit int
			want  []echogen.APIKey
		}{
			{"from the start", "", 2, all[:2]},
			{"from the middle", all[3].ID, 2, all[4:6]},
			{"last page is short", all[6].ID, 5, all[7:]},
			{"after the last", all[len(all)-1].ID, 5, []echogen.APIKey{}},
			{"limit zero", "", 0, []echogen.APIKey{}},
			{"after an id that is not stored", unstored, len(all),
				slices.DeleteFunc(slices.Clone(all), func(k echogen.APIKey) bool { return k.ID <= unstored })},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.APIKeysAfter(ctx, tt.after, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("APIKeysAfter(%q, %d) (-want +got):\n%s", tt.after, tt.limit, diff)
				}
			})
		}
	})

	t.Run("malformed cursor is invalid", func(t *testing.T) {
		_, err := s.APIKeysAfter(ctx, "not-a-uuid", 5)
		wantKind(t, err, echogen.KindInvalid)
	})

	t.Run("replace secret", func(t *testing.T) {
		k := all[0]
		other := all[1]
		rotated := []byte("rotated:" + k.ID)
		tests := []struct {
			name   string
			id     string
			old    []byte
			new    []byte
			want   bool
			stored []byte // the key's secret afterwards
		}{
			{"current secret swaps", k.ID, k.Sealed, rotated, true, rotated},
			{"stale secret is refused", k.ID, k.Sealed, []byte("lost race"), false, rotated},
			{"another key's secret is refused", k.ID, other.Sealed, []byte("wrong key"), false, rotated},
			{"missing key", echogen.NewID(), rotated, []byte("x"), false, rotated},
			{"malformed id", "not-a-uuid", rotated, []byte("x"), false, rotated},
			{"swap again from the new value", k.ID, rotated, k.Sealed, true, k.Sealed},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ok, err := s.ReplaceAPIKeySecret(ctx, tt.id, tt.old, tt.new)
				if err != nil {
					t.Fatal(err)
				}
				if ok != tt.want {
					t.Errorf("ReplaceAPIKeySecret = %v, want %v", ok, tt.want)
				}
				got, err := s.APIKey(ctx, k.UserID, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Sealed, tt.stored) {
					t.Errorf("sealed = %q, want %q", got.Sealed, tt.stored)
				}
				want := k // nothing but the secret changes, updated_at included
				want.Sealed = got.Sealed
				if diff := cmp.Diff(&want, got); diff != "" {
					t.Errorf("APIKey (-want +got):\n%s", diff)
				}
				if o, err := s.APIKey(ctx, other.UserID, other.ID); err != nil || !bytes.Equal(o.Sealed, other.Sealed) {
					t.Errorf("another key = %v, %v; want it unchanged", o, err)
				}
			})
		}
	})
}
