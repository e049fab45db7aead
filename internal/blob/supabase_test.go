package blob

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/blob/supabasetest"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
)

// testServiceKey is the service-role key of the stand-in projects; tests
// check that it never shows in an error.
const testServiceKey = "sb-test-service-role-key-0123456789abcdef"

// newTestSupabase returns a store on a fresh stand-in holding the buckets
// audio and art, the stand-in and its clock.
func newTestSupabase(t *testing.T, opts supabasetest.Options, tweak ...func(*SupabaseOptions)) (*SupabaseStorage, *supabasetest.Server, *echogentest.Clock) {
	t.Helper()
	clock := echogentest.NewClock(testStart)
	if opts.Clock == nil {
		opts.Clock = clock
	}
	if opts.Key == "" {
		opts.Key = testServiceKey
	}
	srv := supabasetest.New(t, opts)
	o := SupabaseOptions{URL: srv.URL, ServiceRoleKey: srv.Key}
	for _, f := range tweak {
		f(&o)
	}
	s, err := NewSupabase(t.Context(), o, audio, art)
	if err != nil {
		t.Fatal(err)
	}
	return s, srv, clock
}

func TestSupabaseConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) storeUnderTest {
		s, _, clock := newTestSupabase(t, supabasetest.Options{})
		return storeUnderTest{
			store:      s,
			realBucket: func(b string) string { return b },
			fetchURL:   func(u string) string { return u },
			advance:    clock.Advance,
			// Storage refuses a URL as a bad request, saying why.
			tampered: refusal{status: http.StatusBadRequest, body: `"InvalidSignature"`},
			expired:  refusal{status: http.StatusBadRequest, body: `"jwt expired"`},
		}
	})
}

// noKey fails the test if err shows the service-role key.
func noKey(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), testServiceKey) || strings.Contains(fmt.Sprintf("%+v", err), testServiceKey)) {
		t.Errorf("error shows the service-role key: %v", err)
	}
}

func TestNewSupabaseOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    SupabaseOptions
		buckets []string
		wantErr string
	}{
		{"no URL", SupabaseOptions{ServiceRoleKey: testServiceKey}, []string{audio}, "want http(s)"},
		{"ftp", SupabaseOptions{URL: "ftp://abc.supabase.co", ServiceRoleKey: testServiceKey}, []string{audio}, "want http(s)"},
		{"no host", SupabaseOptions{URL: "https://", ServiceRoleKey: testServiceKey}, []string{audio}, "want http(s)"},
		{"credentials in URL", SupabaseOptions{URL: "https://u:p@abc.supabase.co", ServiceRoleKey: testServiceKey}, []string{audio}, "want http(s)"},
		{"query", SupabaseOptions{URL: "https://abc.supabase.co/?x=1", ServiceRoleKey: testServiceKey}, []string{audio}, "want http(s)"},
		{"no key", SupabaseOptions{URL: "https://abc.supabase.co"}, []string{audio}, "key is required"},
		{"key with a newline", SupabaseOptions{URL: "https://abc.supabase.co", ServiceRoleKey: testServiceKey + "\nX-Evil: 1"}, []string{audio}, "header cannot carry"},
		{"no buckets", SupabaseOptions{URL: "https://abc.supabase.co", ServiceRoleKey: testServiceKey}, nil, "no buckets"},
		{"bad bucket", SupabaseOptions{URL: "https://abc.supabase.co", ServiceRoleKey: testServiceKey}, []string{"Bad_Name"}, "invalid bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSupabase(t.Context(), tt.opts, tt.buckets...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewSupabase = %v, want %q", err, tt.wantErr)
			}
			noKey(t, err)
		})
	}
}

func TestSupabaseBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://abc.supabase.co":             "https://abc.supabase.co/storage/v1",
		"https://abc.supabase.co/":            "https://abc.supabase.co/storage/v1",
		"https://abc.supabase.co/storage/v1/": "https://abc.supabase.co/storage/v1",
		"http://127.0.0.1:54321":              "http://127.0.0.1:54321/storage/v1",
		"https://proxy.example/supabase":      "https://proxy.example/supabase/storage/v1",
	} {
		if got, err := supabaseBase(in); err != nil || got != want {
			t.Errorf("supabaseBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// requestsTo returns the recorded requests whose path starts with prefix.
func requestsTo(srv *supabasetest.Server, method, prefix string) []supabasetest.Request {
	var out []supabasetest.Request
	for _, r := range srv.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// jsonOf decodes a recorded JSON body for comparison.
func jsonOf(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return v
}

func TestSupabaseBuckets(t *testing.T) {
	t.Run("created private when missing", func(t *testing.T) {
		_, srv, _ := newTestSupabase(t, supabasetest.Options{})
		for _, b := range []string{audio, art} {
			info, ok := srv.Bucket(b)
			if !ok || info.Public {
				t.Errorf("bucket %s: %+v, exists: %v; want a private bucket", b, info, ok)
			}
		}
		creates := requestsTo(srv, http.MethodPost, "/storage/v1/bucket")
		if len(creates) != 2 {
			t.Fatalf("%d bucket creations, want 2", len(creates))
		}
		want := map[string]any{"id": audio, "name": audio, "public": false}
		if diff := cmp.Diff(want, jsonOf(t, creates[0].Body)); diff != "" {
			t.Errorf("create bucket body (-want +got):\n%s", diff)
		}
		if got := len(requestsTo(srv, http.MethodGet, "/storage/v1/bucket/"+audio)); got != 1 {
			t.Errorf("%d checks of %s, want 1", got, audio)
		}
	})

	t.Run("existing buckets are left alone", func(t *testing.T) {
		srv := supabasetest.New(t, supabasetest.Options{Key: testServiceKey})
		srv.CreateBucket(audio, false)
		srv.CreateBucket(art, false)
		if _, err := NewSupabase(t.Context(), SupabaseOptions{URL: srv.URL, ServiceRoleKey: testServiceKey}, audio, art); err != nil {
			t.Fatal(err)
		}
		if n := len(requestsTo(srv, http.MethodPost, "/storage/v1/bucket")); n != 0 {
			t.Errorf("%d bucket creations, want none", n)
		}
	})

	t.Run("a public bucket is refused", func(t *testing.T) {
		srv := supabasetest.New(t, supabasetest.Options{Key: testServiceKey})
		srv.CreateBucket(art, true)
		_, err := NewSupabase(t.Context(), SupabaseOptions{URL: srv.URL, ServiceRoleKey: testServiceKey}, audio, art)
		if err == nil || !strings.Contains(err.Error(), "public") {
			t.Fatalf("NewSupabase with a public bucket = %v, want an error", err)
		}
		if info, _ := srv.Bucket(art); !info.Public {
			t.Error("the public bucket was changed")
		}
	})

	t.Run("created meanwhile", func(t *testing.T) {
		srv := supabasetest.New(t, supabasetest.Options{Key: testServiceKey})
		srv.Fail(supabasetest.Failure{Method: http.MethodPost, Path: "/bucket", Status: 400,
			Body: `{"statusCode":"409","code":"BucketAlreadyExists","error":"Duplicate","message":"The resource already exists"}`})
		if _, err := NewSupabase(t.Context(), SupabaseOptions{URL: srv.URL, ServiceRoleKey: testServiceKey}, audio); err != nil {
			t.Fatalf("NewSupabase when another instance created the bucket first: %v", err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		srv := supabasetest.New(t, supabasetest.Options{Key: "the-real-key"})
		_, err := NewSupabase(t.Context(), SupabaseOptions{URL: srv.URL, ServiceRoleKey: testServiceKey}, audio)
		if echogen.ErrorCode(err) != "storage_key_refused" || echogen.ErrorKind(err) != echogen.KindUnavailable {
			t.Fatalf("NewSupabase with a wrong key = %v, want KindUnavailable storage_key_refused", err)
		}
		if !strings.Contains(err.Error(), "SUPABASE_SERVICE_ROLE_KEY") {
			t.Errorf("error %q does not say which setting is wrong", err)
		}
		noKey(t, err)
	})
}

func TestSupabaseRequestShapes(t *testing.T) {
	s, srv, _ := newTestSupabase(t, supabasetest.Options{})
	ctx := t.Context()
	const key = "u1/Épisode 1 #2.mp3"
	const escaped = "u1/%C3%89pisode%201%20%232.mp3"
	srv.ResetRequests()

	put(t, s, audio, key, "content", "audio/mpeg")
	if _, err := s.Stat(ctx, audio, key); err != nil {
		t.Fatal(err)
	}
	got, _ := read(t, s, audio, key)
	if got != "content" {
		t.Fatalf("read %q", got)
	}
	if _, err := s.SignedURL(ctx, audio, key, 90*time.Second+time.Millisecond, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeletePrefix(ctx, audio, "u1/Ép"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, audio, "u1/gone.mp3"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	type shape struct {
		Method, Path string
		Headers      map[string]string
		Body         any
	}
	want := []shape{
		{http.MethodPost, "/storage/v1/object/" + audio + "/" + escaped,
			map[string]string{"Content-Type": "audio/mpeg", "Cache-Control": "no-cache", "X-Upsert": "true"}, nil},
		{http.MethodGet, "/storage/v1/object/info/authenticated/" + audio + "/" + escaped, nil, nil},
		{http.MethodGet, "/storage/v1/object/authenticated/" + audio + "/" + escaped,
			map[string]string{"Accept-Encoding": "identity"}, nil},
		{http.MethodPost, "/storage/v1/object/sign/" + audio + "/" + escaped,
			map[string]string{"Content-Type": "application/json"}, map[string]any{"expiresIn": 91.0}},
		{http.MethodPost, "/storage/v1/object/list/" + audio, map[string]string{"Content-Type": "application/json"},
			map[string]any{"prefix": "u1", "search": "Ép", "limit": 1000.0, "offset": 0.0,
				"sortBy": map[string]any{"column": "name", "order": "asc"}}},
		{http.MethodDelete, "/storage/v1/object/" + audio, map[string]string{"Content-Type": "application/json"},
			map[string]any{"prefixes": []any{key}}},
		{http.MethodDelete, "/storage/v1/object/" + audio, map[string]string{"Content-Type": "application/json"},
			map[string]any{"prefixes": []any{"u1/gone.mp3"}}},
		{http.MethodGet, "/storage/v1/bucket/" + audio, nil, nil},
		{http.MethodGet, "/storage/v1/bucket/" + art, nil, nil},
	}
	reqs := srv.Requests()
	if len(reqs) != len(want) {
		for _, r := range reqs {
			t.Logf("%s %s", r.Method, r.Path)
		}
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		r := reqs[i]
		if r.Method != w.Method || r.Path != w.Path {
			t.Errorf("request %d: %s %s, want %s %s", i, r.Method, r.Path, w.Method, w.Path)
			continue
		}
		if r.Header.Get("Authorization") != "Bearer "+testServiceKey || r.Header.Get("apikey") != testServiceKey {
			t.Errorf("%s %s: Authorization and apikey do not both carry the service-role key", r.Method, r.Path)
		}
		for h, v := range w.Headers {
			if got := r.Header.Get(h); got != v {
				t.Errorf("%s %s: %s = %q, want %q", r.Method, r.Path, h, got, v)
			}
		}
		if w.Body != nil {
			if diff := cmp.Diff(w.Body, jsonOf(t, r.Body)); diff != "" {
				t.Errorf("%s %s body (-want +got):\n%s", r.Method, r.Path, diff)
			}
		}
	}
	if up := reqs[0]; !up.Chunked || up.ContentLength != -1 || up.Uploaded != int64(len("content")) {
		t.Errorf("upload: chunked %v, Content-Length %d, %d bytes; want a chunked stream of unknown length",
			up.Chunked, up.ContentLength, up.Uploaded)
	}
}

func TestSupabaseSignedURL(t *testing.T) {
	s, srv, clock := newTestSupabase(t, supabasetest.Options{})
	ctx := t.Context()
	const key = "u1/Épisode 1 (final).mp3"
	put(t, s, audio, key, "audio bytes", "audio/mpeg")
	put(t, s, audio, "u1/other.mp3", "other", "audio/mpeg")

	u, err := s.SignedURL(ctx, audio, key, time.Minute, false)
	if err != nil {
		t.Fatal(err)
	}
	prefix := srv.URL + "/storage/v1/object/sign/" + audio + "/u1/%C3%89pisode%201%20%28final%29.mp3?token="
	if !strings.HasPrefix(u, prefix) {
		t.Fatalf("signed URL %s, want it to start with %s", u, prefix)
	}
	token := strings.TrimPrefix(u, prefix)

	dl, err := s.SignedURL(ctx, audio, key, time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	if parsed, err := url.Parse(dl); err != nil || parsed.Query().Get("download") != "Épisode 1 (final).mp3" {
		t.Errorf("download URL %s: download = %q, %v", dl, parsed.Query().Get("download"), err)
	}

	sign := func(k string, exp time.Time) string {
		return srv.URL + "/storage/v1/object/sign/" + audio + "/" + k + "?token=" + srv.Token(audio, k, exp)
	}
	tampered := []byte(token) // one character of the signature changed
	if tampered[len(tampered)-3] == 'A' {
		tampered[len(tampered)-3] = 'B'
	} else {
		tampered[len(tampered)-3] = 'A'
	}
	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantBody   string
		wantCD     string
	}{
		{"valid", u, http.StatusOK, "audio bytes", ""},
		{"download", dl, http.StatusOK, "audio bytes", `attachment; filename=%C3%89pisode%201%20(final).mp3; filename*=UTF-8''%C3%89pisode%201%20(final).mp3;`},
		{"token changed", prefix + string(tampered), http.StatusBadRequest, `"invalid signature"`, ""},
		{"no token", strings.TrimSuffix(prefix, "?token="), http.StatusBadRequest, "token", ""},
		{"another object's token", srv.URL + "/storage/v1/object/sign/" + audio + "/u1/other.mp3?token=" + token, http.StatusBadRequest, `"InvalidSignature"`, ""},
		{"token for a key, kept valid", sign("u1/other.mp3", testStart.Add(time.Hour)), http.StatusOK, "other", ""},
		{"token already expired", sign("u1/other.mp3", testStart), http.StatusBadRequest, `"jwt expired"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := fetch(t, tt.url)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("GET %s = %d %q, want %d with %q", tt.url, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != tt.wantCD {
				t.Errorf("Content-Disposition = %q, want %q", cd, tt.wantCD)
			}
		})
	}

	clock.Advance(time.Minute)
	if resp, body := fetch(t, u); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"jwt expired"`) {
		t.Errorf("after a minute: %d %s, want 400 jwt expired", resp.StatusCode, body)
	}

	if _, err := s.SignedURL(ctx, audio, "u1/missing.mp3", time.Minute, false); echogen.ErrorKind(err) != echogen.KindNotFound {
		t.Errorf("SignedURL of a missing object = %v, want KindNotFound", err)
	}
	for _, ttl := range []time.Duration{0, -time.Second, MaxSignedURLTTL + time.Second} {
		if _, err := s.SignedURL(ctx, audio, key, ttl, false); err == nil {
			t.Errorf("SignedURL with lifetime %v: no error", ttl)
		}
	}
}

func TestSupabaseMissingObject(t *testing.T) {
	for _, trueStatus := range []bool{false, true} {
		t.Run(fmt.Sprintf("true status %v", trueStatus), func(t *testing.T) {
			s, srv, _ := newTestSupabase(t, supabasetest.Options{TrueStatus: trueStatus})
			ctx := t.Context()
			wantNotFound(t, s, audio, "u1/none.mp3")
			if err := s.Delete(ctx, audio, "u1/none.mp3"); err != nil {
				t.Errorf("Delete of a missing object: %v", err)
			}
			status := http.StatusBadRequest
			if trueStatus {
				status = http.StatusNotFound
			}
			// The renderer's own answer for content missing in the backend.
			srv.Fail(supabasetest.Failure{Path: "/object/authenticated/", Status: status,
				Body: `{"error":"Not found","message":"The resource was not found","statusCode":"404"}`})
			put(t, s, audio, "u1/a.mp3", "x", "audio/mpeg")
			if _, _, err := s.Open(ctx, audio, "u1/a.mp3"); echogen.ErrorKind(err) != echogen.KindNotFound {
				t.Errorf("Open with the renderer's not-found answer = %v, want KindNotFound", err)
			}
			srv.ClearFailures()

			srv.DeleteBucket(art)
			if _, err := s.Stat(ctx, art, "u1/a.mp3"); echogen.ErrorCode(err) != "bucket_missing" || echogen.ErrorKind(err) != echogen.KindUnavailable {
				t.Errorf("Stat in a deleted bucket = %v, want KindUnavailable bucket_missing", err)
			}
		})
	}
}

func TestSupabaseErrorMapping(t *testing.T) {
	s, srv, _ := newTestSupabase(t, supabasetest.Options{})
	put(t, s, audio, "u1/a.mp3", "x", "audio/mpeg")
	tests := []struct {
		name     string
		status   int
		body     string
		wantKind echogen.Kind
		wantCode string
	}{
		{"gateway refuses the key", 401, `{"message":"Invalid API key","hint":"Double check your Supabase key."}`, echogen.KindUnavailable, "storage_key_refused"},
		{"gateway forbids", 403, `{"message":"forbidden"}`, echogen.KindUnavailable, "storage_key_refused"},
		{"storage refuses the token", 400, `{"statusCode":"403","code":"AccessDenied","error":"Unauthorized","message":"invalid signature"}`, echogen.KindUnavailable, "storage_key_refused"},
		{"storage finds the token invalid", 400, `{"statusCode":"400","code":"InvalidJWT","error":"InvalidJWT","message":"jwt malformed"}`, echogen.KindUnavailable, "storage_key_refused"},
		{"internal error", 500, `{"statusCode":"500","code":"InternalError","error":"Internal","message":"Internal Server Error"}`, echogen.KindUnavailable, "storage_unavailable"},
		{"bad gateway, not JSON", 502, `<html>Bad Gateway</html>`, echogen.KindUnavailable, "storage_unavailable"},
		{"database timeout", 544, `{"statusCode":"544","code":"DatabaseTimeout","message":"The connection to the database timed out"}`, echogen.KindUnavailable, "storage_unavailable"},
		{"too many connections", 429, `{"statusCode":"429","error":"too_many_connections","code":"SlowDown","message":"Too many connections issued to the database"}`, echogen.KindUnavailable, "storage_unavailable"},
		{"an old Storage without the route", 404, `{"statusCode":404,"error":"Not Found","message":"Route GET:/storage/v1/object/info/authenticated/x not found"}`, echogen.KindUnavailable, "storage_unexpected_answer"},
		{"not Storage at all", 404, `<html>404 page not found</html>`, echogen.KindUnavailable, "storage_unexpected_answer"},
		{"numeric statusCode", 400, `{"statusCode":404,"error":"not_found","message":"Object not found"}`, echogen.KindNotFound, "not_found"},
		{"something else", 400, `{"statusCode":"400","code":"InvalidRequest","error":"InvalidRequest","message":"odd"}`, echogen.KindInternal, "internal_error"},
		{"an echo of the key", 400, `{"statusCode":"400","code":"InvalidRequest","message":"bad header ` + testServiceKey + `"}`, echogen.KindInternal, "internal_error"},
		{"an echo of the key, refused", 401, `{"message":"Invalid API key ` + testServiceKey + `"}`, echogen.KindUnavailable, "storage_key_refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Fail(supabasetest.Failure{Status: tt.status, Body: tt.body, Times: 1})
			_, err := s.Stat(t.Context(), audio, "u1/a.mp3")
			if echogen.ErrorKind(err) != tt.wantKind || echogen.ErrorCode(err) != tt.wantCode {
				t.Errorf("Stat = %v (kind %d, code %s), want kind %d, code %s", err, echogen.ErrorKind(err), echogen.ErrorCode(err), tt.wantKind, tt.wantCode)
			}
			noKey(t, err)
		})
	}

	putTests := []struct {
		name     string
		body     string
		wantKind echogen.Kind
		wantCode string
	}{
		{"too large", `{"statusCode":"413","code":"EntityTooLarge","error":"Payload too large","message":"The object exceeded the maximum allowed size"}`, echogen.KindTooLarge, "object_too_large"},
		{"key refused", `{"statusCode":"400","code":"InvalidKey","error":"InvalidKey","message":"Invalid key: u1/a#b"}`, echogen.KindInvalid, "invalid_key"},
		{"type refused", `{"statusCode":"415","code":"InvalidMimeType","error":"invalid_mime_type","message":"mime type audio/x is not supported"}`, echogen.KindInvalid, "invalid_content_type"},
	}
	for _, tt := range putTests {
		t.Run("put, "+tt.name, func(t *testing.T) {
			srv.Fail(supabasetest.Failure{Method: http.MethodPost, Path: "/object/" + audio + "/", Status: 400, Body: tt.body, Times: 1})
			_, err := s.Put(t.Context(), audio, "u1/b.mp3", strings.NewReader("x"), "audio/mpeg")
			if echogen.ErrorKind(err) != tt.wantKind || echogen.ErrorCode(err) != tt.wantCode {
				t.Errorf("Put = %v, want kind %d, code %s", err, tt.wantKind, tt.wantCode)
			}
			noKey(t, err)
		})
	}
}

func TestSupabaseUnreachable(t *testing.T) {
	s, srv, _ := newTestSupabase(t, supabasetest.Options{})
	srv.Close()
	ctx := t.Context()
	checks := map[string]error{
		"Ping": s.Ping(ctx),
		"Put": func() error {
			_, err := s.Put(ctx, audio, "u1/a.mp3", strings.NewReader("x"), "")
			return err
		}(),
		"Open": func() error {
			_, _, err := s.Open(ctx, audio, "u1/a.mp3")
			return err
		}(),
		"DeletePrefix": func() error {
			_, err := s.DeletePrefix(ctx, audio, "u1/")
			return err
		}(),
	}
	for name, err := range checks {
		if echogen.ErrorKind(err) != echogen.KindUnavailable || echogen.ErrorCode(err) != "storage_unavailable" {
			t.Errorf("%s with Storage down = %v, want KindUnavailable storage_unavailable", name, err)
		}
		noKey(t, err)
	}
}

func TestSupabaseTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	s, srv, _ := newTestSupabase(t, supabasetest.Options{}, func(o *SupabaseOptions) { o.Timeout = timeout })
	put(t, s, audio, "u1/a.mp3", "x", "audio/mpeg")
	ctx := t.Context()
	wantTimeout := func(op string, err error) {
		t.Helper()
		if echogen.ErrorKind(err) != echogen.KindUnavailable || !strings.Contains(err.Error(), "in time") {
			t.Errorf("%s against a Storage that does not answer = %v, want a KindUnavailable timeout", op, err)
		}
	}

	srv.Fail(supabasetest.Failure{Path: "/object/info/", Hang: true})
	_, err := s.Stat(ctx, audio, "u1/a.mp3")
	wantTimeout("Stat", err)

	srv.Fail(supabasetest.Failure{Path: "/object/authenticated/", Hang: true})
	_, _, err = s.Open(ctx, audio, "u1/a.mp3")
	wantTimeout("Open", err)

	srv.Fail(supabasetest.Failure{Method: http.MethodPost, Path: "/object/" + audio + "/", Hang: true})
	_, err = s.Put(ctx, audio, "u1/b.mp3", strings.NewReader("small enough to be sent in full"), "")
	wantTimeout("Put", err)
	srv.ClearFailures()
	if got := srv.Keys(audio); len(got) != 1 {
		t.Errorf("objects after the timeouts: %v", got)
	}
}

// failAfter reads from r, then fails with err after n bytes.
type failAfter struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failAfter) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	b = b[:min(int64(len(b)), f.n)]
	k, err := f.r.Read(b)
	f.n -= int64(k)
	return k, err
}

func TestSupabasePutSourceFails(t *testing.T) {
	s, srv, _ := newTestSupabase(t, supabasetest.Options{})
	put(t, s, audio, "u1/kept.mp3", "old content", "audio/mpeg")
	srv.ResetRequests()
	errBoom := errors.New("boom")
	for _, key := range []string{"u1/new.mp3", "u1/kept.mp3"} {
		_, err := s.Put(t.Context(), audio, key, &failAfter{r: newPattern(4 << 20), n: 1 << 20, err: errBoom}, "audio/mpeg")
		if !errors.Is(err, errBoom) {
			t.Fatalf("Put(%s) with a failing source = %v, want the source's error", key, err)
		}
	}
	if diff := cmp.Diff([]string{"u1/kept.mp3"}, srv.Keys(audio)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if got, _ := read(t, s, audio, "u1/kept.mp3"); got != "old content" {
		t.Errorf("the old object changed: %.20q", got)
	}
	// The aborted uploads may reach the stand-in late, or (the connection
	// being reset) not at all; none may arrive whole.
	srv.Wait()
	for _, r := range requestsTo(srv, http.MethodPost, "/storage/v1/object/"+audio+"/") {
		if !r.Aborted && r.Uploaded > 0 {
			t.Errorf("upload %s arrived whole (%d bytes), want it aborted", r.Path, r.Uploaded)
		}
	}
}

func TestSupabasePutRefusesFormUploads(t *testing.T) {
	s, _, _ := newTestSupabase(t, supabasetest.Options{})
	_, err := s.Put(t.Context(), audio, "u1/a", strings.NewReader("x"), "multipart/form-data; boundary=x")
	if echogen.ErrorKind(err) != echogen.KindInvalid {
		t.Errorf("Put as multipart/form-data = %v, want KindInvalid", err)
	}
}

func TestSupabaseDeletePrefixPages(t *testing.T) {
	s, srv, _ := newTestSupabase(t, supabasetest.Options{})
	s.listLimit, s.deleteBatch = 3, 2
	ctx := t.Context()
	var gone, kept []string
	for i := range 5 {
		gone = append(gone, fmt.Sprintf("u1/top%d.mp3", i))
	}
	for i := range 4 {
		gone = append(gone, fmt.Sprintf("u1/sub/s%d.mp3", i))
	}
	for i := range 3 {
		gone = append(gone, fmt.Sprintf("u1/sub/deeper/d%d.mp3", i))
	}
	gone = append(gone, "u1/sub2/z.mp3", "u1/sub/deeper/deepest/x.mp3")
	// Neighbours: a longer name, another case (Storage's listing ignores
	// case), another user, and the prefix's folder as an object of its own.
	kept = append(kept, "u1x/other.mp3", "U1/case.mp3", "U1/sub/case.mp3", "u2/keep.mp3", "u1")
	for _, k := range append(append([]string{}, gone...), kept...) {
		put(t, s, audio, k, "x", "audio/mpeg")
	}
	srv.ResetRequests()
	n, err := s.DeletePrefix(ctx, audio, "u1/")
	if err != nil || n != len(gone) {
		t.Fatalf("DeletePrefix = %d, %v; want %d", n, err, len(gone))
	}
	want := append([]string{}, kept...)
	if diff := cmp.Diff(sortedCopy(want), srv.Keys(audio)); diff != "" {
		t.Errorf("objects left (-want +got):\n%s", diff)
	}

	var pagedPast, deepest bool
	for _, r := range requestsTo(srv, http.MethodPost, "/storage/v1/object/list/") {
		var in struct {
			Prefix string
			Offset int
			Limit  int
		}
		if err := json.Unmarshal(r.Body, &in); err != nil {
			t.Fatal(err)
		}
		pagedPast = pagedPast || in.Offset > 0
		deepest = deepest || in.Prefix == "u1/sub/deeper/deepest"
		if in.Limit != 3 {
			t.Errorf("listing with limit %d, want 3", in.Limit)
		}
	}
	if !pagedPast || !deepest {
		t.Errorf("listings: paged past the first page %v, reached the deepest folder %v", pagedPast, deepest)
	}
	for _, r := range requestsTo(srv, http.MethodDelete, "/storage/v1/object/") {
		var in struct{ Prefixes []string }
		if err := json.Unmarshal(r.Body, &in); err != nil || len(in.Prefixes) > 2 {
			t.Errorf("delete of %d keys (%v), want batches of at most 2", len(in.Prefixes), err)
		}
	}

	// A prefix that ends inside a name takes the longer names too.
	n, err = s.DeletePrefix(ctx, audio, "u1")
	if err != nil || n != 2 { // "u1x/other.mp3" and the object "u1"
		t.Errorf("DeletePrefix(u1) = %d, %v; want 2", n, err)
	}
	if diff := cmp.Diff([]string{"U1/case.mp3", "U1/sub/case.mp3", "u2/keep.mp3"}, srv.Keys(audio)); diff != "" {
		t.Errorf("objects left (-want +got):\n%s", diff)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestSupabasePing(t *testing.T) {
	s, srv, _ := newTestSupabase(t, supabasetest.Options{})
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	srv.DeleteBucket(art)
	if err := s.Ping(t.Context()); echogen.ErrorCode(err) != "bucket_missing" {
		t.Errorf("Ping with a bucket gone = %v, want bucket_missing", err)
	}
	srv.CreateBucket(art, false)
	srv.Fail(supabasetest.Failure{Status: 401, Body: `{"message":"Invalid API key"}`})
	err := s.Ping(t.Context())
	if echogen.ErrorCode(err) != "storage_key_refused" {
		t.Errorf("Ping with the key refused = %v, want storage_key_refused", err)
	}
	noKey(t, err)
}

// TestSupabaseNoRedirects checks that a redirect is never followed, so the
// key's headers never reach another host.
func TestSupabaseNoRedirects(t *testing.T) {
	var stolen atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(other.Close)
	s, srv, _ := newTestSupabase(t, supabasetest.Options{})
	srv.Fail(supabasetest.Failure{Status: http.StatusTemporaryRedirect, Header: http.Header{"Location": {other.URL + "/elsewhere"}}})
	if _, err := s.Stat(t.Context(), audio, "u1/a.mp3"); err == nil {
		t.Error("Stat answered by a redirect: no error")
	}
	if _, err := s.Put(t.Context(), audio, "u1/a.mp3", strings.NewReader("x"), ""); err == nil {
		t.Error("Put answered by a redirect: no error")
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("%d requests followed the redirect to another host", n)
	}
}

func TestSupabaseInfoAgreesWithOpen(t *testing.T) {
	s, _, clock := newTestSupabase(t, supabasetest.Options{})
	clock.Advance(1500 * time.Millisecond)
	put(t, s, audio, "u1/a.txt", "hello", "text/plain; charset=utf-8")
	st, err := s.Stat(t.Context(), audio, "u1/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := &echogen.BlobInfo{Size: 5, ContentType: "text/plain; charset=utf-8", ModTime: testStart.Add(time.Second),
		ETag: `"5d41402abc4b2a76b9719d911017c592"`} // md5("hello")
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Stat (-want +got):\n%s", diff)
	}
	_, info := read(t, s, audio, "u1/a.txt")
	if diff := cmp.Diff(st, info); diff != "" {
		t.Errorf("Open's info differs from Stat's (-stat +open):\n%s", diff)
	}
}
