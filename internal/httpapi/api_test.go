package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/storetest"
)

func storeSQLite(t *testing.T) echogen.Store { return storetest.NewSQLite(t) }

func encodeSegment(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeSegment(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func signHS256(t *testing.T, signingInput, secret string) string {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signingInput))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestErrorShapes(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	ada := e.signUp("ada@example.com")
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       string
		wantStatus int
		wantDetail any
	}{
		{"unknown route", "GET", "/api/v1/nope", "", "", 404, "Not Found"},
		{"root", "GET", "/", "", "", 404, "Not Found"},
		{"wrong method", "PUT", "/api/v1/auth/signin", "", "", 405, "Method Not Allowed"},
		{"validation list", "POST", "/api/v1/auth/signup", "", `{"method":"email","email":"ada2@example.com","password":"short"}`, 422,
			[]any{map[string]any{"loc": []any{"body", "password"}, "msg": "password must be at least 8 characters", "type": "string_too_short"}}},
		{"missing required field", "POST", "/api/v1/auth/refresh", "", `{}`, 422,
			[]any{map[string]any{"loc": []any{"body", "refresh_token"}, "msg": "Field required", "type": "missing"}}},
		{"nested location", "POST", "/api/v1/auth/onboarding", ada.access, `{"responses":[{"questionId":"q","question":5,"answer":"a"}]}`, 422,
			[]any{map[string]any{"loc": []any{"body", "responses", 0, "question"}, "msg": "expected string", "type": "value_error"}}},
	}
	for _, tc := range tests {
		r := e.do(tc.method, tc.path, tc.token, tc.body)
		if r.status != tc.wantStatus {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.status, tc.wantStatus, r.raw)
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: content type %q", tc.name, ct)
		}
		got := r.object(t)["detail"]
		if diff := cmp.Diff(normalizeNumbers(tc.wantDetail), normalizeNumbers(got)); diff != "" {
			t.Errorf("%s: detail (-want +got):\n%s", tc.name, diff)
		}
	}

	// Bodies over 1 MiB are refused before they are read whole.
	big := `{"email":"` + strings.Repeat("a", 1<<20) + `"}`
	if r := e.do("POST", "/api/v1/auth/password/forgot", "", big); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB body: %d", r.status)
	}
	// The caller's request id is echoed when it is sane, replaced when not.
	for _, tc := range []struct{ sent, want string }{{"abc-123", "abc-123"}, {"bad id with spaces", ""}} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/health", nil)
		req.Header.Set("X-Request-ID", tc.sent)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("X-Request-ID")
		if (tc.want != "" && got != tc.want) || (tc.want == "" && (got == tc.sent || !echogen.IsID(got))) {
			t.Errorf("sent request id %q, got %q", tc.sent, got)
		}
	}
}

// normalizeNumbers turns json.Number and ints into float64 for comparison.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalizeNumbers(x[i])
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			out[k] = normalizeNumbers(val)
		}
		return out
	case int:
		return float64(x)
	case interface{ Float64() (float64, error) }:
		f, _ := x.Float64()
		return f
	}
	return v
}

func TestHealthReadyDocs(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	health := e.do("GET", "/health", "", "")
	want := map[string]any{"status": "healthy", "service": "EchoGen.ai API", "version": "0.1.0", "environment": "test"}
	if diff := cmp.Diff(want, health.object(t)); diff != "" || health.status != 200 {
		t.Errorf("health %d (-want +got):\n%s", health.status, diff)
	}
	ready := e.do("GET", "/ready", "", "")
	if ready.status != 200 || ready.object(t)["status"] != "ready" {
		t.Errorf("ready: %d %s", ready.status, ready.raw)
	}
	docs := e.do("GET", "/docs", "", "")
	if docs.status != 200 || !strings.Contains(string(docs.raw), "swagger") {
		t.Errorf("docs: %d", docs.status)
	}
	spec := e.do("GET", "/openapi.json", "", "")
	if spec.status != 200 {
		t.Fatalf("openapi: %d", spec.status)
	}
	paths := spec.object(t)["paths"].(map[string]any)
	for _, p := range []string{"/health", "/api/v1/auth/signup", "/api/v1/auth/signin", "/api/v1/auth/me", "/api/v1/auth/users/{user_id}", "/api/v1/auth/profile", "/api/v1/auth/onboarding", "/api/v1/auth/account", "/api/v1/auth/account/cancel", "/api/v1/auth/signout", "/api/v1/auth/refresh", "/api/v1/auth/sessions"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
	if strings.Contains(string(spec.raw), `"$schema"`) {
		t.Error("responses must not carry $schema links")
	}
}

func TestReadyReportsAFailingDependency(t *testing.T) {
	e := newTestEnv(t, func(t *testing.T) echogen.Store {
		s := storetest.NewSQLite(t)
		return failingPing{s}
	})
	r := e.do("GET", "/ready", "", "")
	if r.status != http.StatusServiceUnavailable || r.object(t)["checks"].(map[string]any)["database"] != "unavailable" {
		t.Fatalf("ready with a failing database: %d %s", r.status, r.raw)
	}
}

type failingPing struct{ echogen.Store }

func (failingPing) Ping(context.Context) error { return errors.New("database is down") }

func TestRateLimits(t *testing.T) {
	e := newTestEnv(t, storeSQLite, func(o *envOptions) {
		o.opts.AuthRateLimitPerMinute = 5
		o.opts.AuthAccountRateLimitPerMinute = 3
		o.opts.APIRateLimitPerMinute = 4
	})
	signin := `{"method":"email","email":"nobody@example.com","password":"wrong-password"}`
	var statuses []int
	var last response
	for range 4 {
		last = e.do("POST", "/api/v1/auth/signin", "", signin)
		statuses = append(statuses, last.status)
	}
	if diff := cmp.Diff([]int{401, 401, 401, 429}, statuses); diff != "" {
		t.Fatalf("per-account sign-in limit (-want +got):\n%s", diff)
	}
	retry, err := strconv.Atoi(last.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 || last.object(t)["code"] != "rate_limited" {
		t.Fatalf("429 answer: Retry-After %q, %s", last.header.Get("Retry-After"), last.raw)
	}
	// Another account from the same IP hits the per-IP limit next.
	r := e.do("POST", "/api/v1/auth/signin", "", `{"method":"email","email":"other@example.com","password":"wrong-password"}`)
	if r.status != 401 {
		t.Fatalf("fifth sign-in from the IP: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/auth/signin", "", `{"method":"email","email":"third@example.com","password":"wrong-password"}`); r.status != 429 {
		t.Fatalf("sixth sign-in from the IP: %d", r.status)
	}
	// Time passing refills the buckets.
	e.clock.Advance(time.Minute)
	if r := e.do("POST", "/api/v1/auth/signin", "", signin); r.status != 401 {
		t.Fatalf("after a minute: %d", r.status)
	}

	// The per-user API limit.
	e.clock.Advance(time.Minute)
	ada := e.signUp("ada@example.com")
	statuses = nil
	for range 5 {
		statuses = append(statuses, e.do("GET", "/api/v1/auth/me", ada.access, "").status)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 200, 429}, statuses); diff != "" {
		t.Fatalf("per-user API limit (-want +got):\n%s", diff)
	}
}

// flakyObjects fails its first call, like a crash in the middle of a purge.
type flakyObjects struct {
	echogen.UserObjects
	failed bool
}

func (f *flakyObjects) DeleteUserObjects(ctx context.Context, userID string) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("storage went away")
	}
	return f.UserObjects.DeleteUserObjects(ctx, userID)
}

func TestDeletionWindowAndPurge(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(...func(*envOptions)) *testEnv) {
		e := newEnv(func(o *envOptions) {
			o.wrapObjects = func(next echogen.UserObjects) echogen.UserObjects { return &flakyObjects{UserObjects: next} }
		})
		ctx := context.Background()
		ada := e.signUp("ada@example.com")
		bob := e.signUp("bob@example.com")
		e.makeLibrary(ada)
		e.uploadPath(bob.access, "audio", "b.mp3", mp3Bytes)

		// Schedule, then signing in cancels it.
		checkDeletionStatus(t, e.do("DELETE", "/api/v1/auth/account", ada.access, ""))
		ada = e.signIn(ada.email, ada.password)
		if p := e.do("GET", "/api/v1/auth/me", ada.access, "").object(t); p["pendingAccountDeletion"] != nil {
			t.Fatalf("sign-in did not cancel the deletion: %v", p)
		}

		// Schedule again; nothing happens before the window ends.
		d := checkDeletionStatus(t, e.do("DELETE", "/api/v1/auth/account", ada.access, ""))
		scheduled, _ := time.Parse(time.RFC3339Nano, d["scheduled_for"].(string))
		request, err := e.store.ActiveDeletion(ctx, ada.userID)
		if err != nil || request == nil {
			t.Fatalf("active deletion: %v %v", request, err)
		}
		if got := scheduled.Sub(e.clock.Now()); got < 30*24*time.Hour-time.Second || got > 30*24*time.Hour {
			t.Fatalf("scheduled %v after now, want 30 days", got)
		}
		e.clock.Advance(29 * 24 * time.Hour)
		if n, err := e.accounts.PurgeDueAccounts(ctx, 100); err != nil || n != 0 {
			t.Fatalf("purge before the window: %d, %v", n, err)
		}

		// After the window: the first purge is cut short, the second finishes.
		e.clock.Advance(2 * 24 * time.Hour)
		if _, err := e.accounts.PurgeDueAccounts(ctx, 100); err == nil {
			t.Fatal("the interrupted purge should report its failure")
		}
		if !e.identityExists(ada.userID) {
			t.Fatal("the interrupted purge must not delete the account before its objects")
		}
		if n, err := e.accounts.PurgeDueAccounts(ctx, 100); err != nil || n != 1 {
			t.Fatalf("purge after the window: %d, %v", n, err)
		}
		if n, err := e.accounts.PurgeDueAccounts(ctx, 100); err != nil || n != 0 {
			t.Fatalf("purge run again: %d, %v", n, err)
		}
		if e.identityExists(ada.userID) {
			t.Fatal("ada's account survived the purge")
		}
		if _, err := e.store.Profile(ctx, ada.userID); echogen.ErrorKind(err) != echogen.KindNotFound {
			t.Fatalf("ada's profile survived the purge: %v", err)
		}
		if r := e.do("POST", "/api/v1/auth/signin", "", `{"method":"email","email":"ada@example.com","password":"`+ada.password+`"}`); r.status != http.StatusUnauthorized {
			t.Fatalf("purged account can still sign in: %d", r.status)
		}
		if n := countObjects(t, e, ada.userID); n != 0 {
			t.Errorf("%d of ada's objects survived the purge", n)
		}
		if n := countObjects(t, e, bob.userID); n != 1 {
			t.Errorf("bob has %d objects after ada's purge, want 1", n)
		}
		audit, err := e.store.DeletionAudit(ctx, request.ID)
		if err != nil || audit.CompletedAt == nil || audit.ObjectsDeleted != 2 {
			t.Errorf("audit %+v, %v: want completed with 2 objects deleted", audit, err)
		}
		if _, err := e.store.Profile(ctx, bob.userID); err != nil {
			t.Fatalf("bob's profile went with ada's purge: %v", err)
		}
		e.signIn(bob.email, bob.password)
	})
}

func TestCORSAndRequestLogs(t *testing.T) {
	e := newTestEnv(t, storeSQLite, func(o *envOptions) { o.opts.CORSOrigins = []string{"https://app.example.com"} })
	ada := e.signUp("ada@example.com")

	req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/api/v1/auth/me", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight from an allowed origin: %d %v", res.StatusCode, res.Header)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/api/v1/auth/me", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Authorization", "Bearer "+ada.access)
	res, err = e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	exposed := res.Header.Get("Access-Control-Expose-Headers")
	if !strings.Contains(exposed, "X-Request-Id") || !strings.Contains(exposed, "X-Job-Id") {
		t.Errorf("exposed headers %q", exposed)
	}
	req.Header.Set("Origin", "https://evil.example.com")
	res, err = e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unlisted origin was allowed")
	}

	// One JSON log line per request with method, route, status, latency
	// and the caller's id.
	var found bool
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "request" {
			continue
		}
		if entry["route"] == "/api/v1/auth/me" && entry["method"] == "GET" && entry["status"] == float64(200) && entry["user_id"] == ada.userID {
			if _, ok := entry["latency_ms"].(float64); ok && entry["request_id"] != "" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no request log line for GET /api/v1/auth/me by %s:\n%s", ada.userID, e.logs.String())
	}
	e.checkLogs()
}
