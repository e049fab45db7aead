package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

func TestUsage(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		ada, bob := e.signUp("ada@example.com"), e.signUp("bob@example.com")
		now := e.clock.Now()
		for _, ev := range []echogen.UsageEvent{
			{UserID: ada.userID, EventType: "script_generation", Provider: "openai", InputTokens: 1200, OutputTokens: 300, CostUSD: 0.01, CreatedAt: now.Add(-time.Hour)},
			{UserID: ada.userID, EventType: "tts_render", Provider: "elevenlabs", Characters: 5000, CostUSD: 0.9, CreatedAt: now.Add(-2 * time.Hour)},
			{UserID: bob.userID, EventType: "script_generation", Provider: "openai", InputTokens: 1, CreatedAt: now.Add(-time.Hour)},
		} {
			if err := e.store.RecordUsage(context.Background(), &ev); err != nil {
				t.Fatal(err)
			}
		}
		var got struct {
			GroupBy string           `json:"group_by"`
			Totals  []map[string]any `json:"totals"`
		}
		decode(t, e.do("GET", "/api/v1/usage?group_by=provider", ada.access, ""), &got)
		want := []map[string]any{
			{"key": "elevenlabs", "events": float64(1), "input_tokens": float64(0), "output_tokens": float64(0), "characters": float64(5000), "cost_usd": 0.9},
			{"key": "openai", "events": float64(1), "input_tokens": float64(1200), "output_tokens": float64(300), "characters": float64(0), "cost_usd": 0.01},
		}
		if diff := cmp.Diff(want, got.Totals); diff != "" || got.GroupBy != "provider" {
			t.Errorf("usage by provider (-want +got):\n%s", diff)
		}
		decode(t, e.do("GET", "/api/v1/usage?group_by=day", ada.access, ""), &got)
		if len(got.Totals) != 1 || got.Totals[0]["key"] != now.Format("2006-01-02") || got.Totals[0]["events"] != float64(2) {
			t.Errorf("usage by day: %v", got.Totals)
		}
		for _, q := range []string{"?group_by=week", "?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z"} {
			if r := e.do("GET", "/api/v1/usage"+q, ada.access, ""); r.status != http.StatusUnprocessableEntity {
				t.Errorf("GET /usage%s: %d", q, r.status)
			}
		}
	})
}

func TestProviderCatalogue(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	ada := e.signUp("ada@example.com")
	list := func() map[string]map[string]any {
		var got []map[string]any
		decode(t, e.do("GET", "/api/v1/providers", ada.access, ""), &got)
		byID := map[string]map[string]any{}
		for _, p := range got {
			byID[p["id"].(string)] = p
		}
		return byID
	}
	before := list()
	if len(before) != 12 || before["openai"]["has_key"] != false || before["openai"]["models_source"] != "builtin" || before["local"]["has_key"] != true {
		t.Fatalf("catalogue without keys: %v", before["openai"])
	}
	if voices := before["gemini"]["voices"].([]any); len(voices) != 30 {
		t.Errorf("gemini voices: %d", len(voices))
	}
	e.create(ada.access, "/api/v1/api-keys", `{"provider":"openai","encrypted_key":"sk-good-0123456789abcdefghij"}`)
	e.secrets = append(e.secrets, "sk-good-0123456789abcdefghij")
	after := list()["openai"]
	if after["has_key"] != true || after["key_source"] != "user" || after["models_source"] != "live" || fmt.Sprint(after["models"]) != "[gpt-4o-mini]" {
		t.Errorf("catalogue with a key: %v", after)
	}
	// The offline voices are espeak-ng's own list, asked live.
	testenv.RequireTool(t, "espeak-ng", "apt-get install espeak-ng")
	if voices := before["local"]["voices"].([]any); len(voices) < 20 || !strings.Contains(fmt.Sprint(voices), "id:fr") {
		t.Errorf("local voices: %d %.200v", len(voices), voices)
	}
}
