package supabasetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen/echogentest"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recorder is a testing.TB that collects Errorf calls, so a test can check
// what the stand-in reports.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errors
	r.errors = nil
	return e
}

// do sends a request to the stand-in with the key in both headers unless
// header says otherwise, and returns the status and body.
func do(t *testing.T, s *Server, method, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("apikey", s.Key)
	req.Header.Set("Authorization", "Bearer "+s.Key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func put(t *testing.T, s *Server, bucket, key, content string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/storage/v1/object/"+bucket+"/"+key, strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("apikey", s.Key)
	req.Header.Set("Authorization", "Bearer "+s.Key)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("x-upsert", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload %s/%s: %d %s", bucket, key, resp.StatusCode, b)
	}
}

func TestStrictness(t *testing.T) {
	rec := &recorder{TB: t}
	s := New(rec, Options{})
	s.CreateBucket("media", false)
	tests := []struct {
		name       string
		method     string
		path, body string
		header     []string
		wantStatus int
		wantBody   string
	}{
		{"no apikey", http.MethodGet, "/storage/v1/bucket/media", "", []string{"apikey", ""}, 401, "No API key"},
		{"no bearer", http.MethodGet, "/storage/v1/bucket/media", "", []string{"Authorization", ""}, 401, "No API key"},
		{"unknown route", http.MethodGet, "/storage/v1/nothing", "", nil, 404, "Route GET:/storage/v1/nothing not found"},
		{"outside storage", http.MethodGet, "/rest/v1/x", "", nil, 404, "not found"},
		{"wrong method", http.MethodPut, "/storage/v1/bucket/media", "", nil, 404, "not found"},
		{"unknown field", http.MethodPost, "/storage/v1/object/list/media", `{"prefix":"","limt":3}`, nil, 400, "unknown field"},
		{"missing prefix", http.MethodPost, "/storage/v1/object/list/media", `{"limit":3}`, nil, 400, "prefix"},
		{"not JSON", http.MethodPost, "/storage/v1/object/list/media", `{"prefix":`, nil, 400, "not the JSON"},
		{"trailing data", http.MethodPost, "/storage/v1/object/list/media", `{"prefix":""} {}`, nil, 400, "after its JSON"},
		{"JSON as text", http.MethodPost, "/storage/v1/object/list/media", `{"prefix":""}`, []string{"Content-Type", "text/plain"}, 400, "must be JSON"},
		{"bad sort", http.MethodPost, "/storage/v1/object/list/media", `{"prefix":"","sortBy":{"column":"size"}}`, nil, 400, "sortBy/column"},
		{"empty delete", http.MethodDelete, "/storage/v1/object/media", `{"prefixes":[]}`, nil, 400, "fewer than 1"},
		{"sign without expiry", http.MethodPost, "/storage/v1/object/sign/media/a.txt", `{}`, nil, 400, "expiresIn"},
		{"upload without type", http.MethodPost, "/storage/v1/object/media/a.txt", "", []string{"Content-Type", ""}, 400, "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, s, tt.method, tt.path, tt.body, tt.header...)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("%s %s = %d %s, want %d with %q", tt.method, tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if errs := rec.take(); len(errs) != 1 {
				t.Errorf("reported %q, want one error", errs)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	rec := &recorder{TB: t}
	s := New(rec, Options{Key: "right"})
	s.CreateBucket("media", false)
	resp, body := do(t, s, http.MethodGet, "/storage/v1/bucket/media", "", "apikey", "wrong", "Authorization", "Bearer wrong")
	if resp.StatusCode != 401 || !strings.Contains(body, "Invalid API key") {
		t.Errorf("wrong apikey: %d %s, want the gateway's 401", resp.StatusCode, body)
	}
	resp, body = do(t, s, http.MethodGet, "/storage/v1/bucket/media", "", "Authorization", "Bearer wrong")
	if resp.StatusCode != 400 || !strings.Contains(body, `"statusCode":"403"`) || !strings.Contains(body, "AccessDenied") {
		t.Errorf("wrong bearer: %d %s, want Storage's 400 with statusCode 403", resp.StatusCode, body)
	}
	if errs := rec.take(); len(errs) != 0 {
		t.Errorf("a wrong key is no misuse, yet reported %q", errs)
	}
}

func TestBuckets(t *testing.T) {
	s := New(t, Options{})
	resp, body := do(t, s, http.MethodGet, "/storage/v1/bucket/media", "")
	if resp.StatusCode != 400 || !strings.Contains(body, `"statusCode":"404"`) || !strings.Contains(body, "Bucket not found") {
		t.Errorf("missing bucket: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, s, http.MethodPost, "/storage/v1/bucket", `{"id":"media","name":"media","public":false}`)
	if resp.StatusCode != 200 || body != `{"name":"media"}` {
		t.Errorf("create: %d %s", resp.StatusCode, body)
	}
	if b, ok := s.Bucket("media"); !ok || b.Public {
		t.Errorf("bucket: %+v %v", b, ok)
	}
	resp, body = do(t, s, http.MethodPost, "/storage/v1/bucket", `{"name":"media"}`)
	if resp.StatusCode != 400 || !strings.Contains(body, `"statusCode":"409"`) {
		t.Errorf("create again: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, s, http.MethodGet, "/storage/v1/bucket/media", "")
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 || got["public"] != false || got["id"] != "media" {
		t.Errorf("get: %d %s", resp.StatusCode, body)
	}
}

func TestTrueStatus(t *testing.T) {
	s := New(t, Options{TrueStatus: true})
	s.CreateBucket("media", false)
	resp, body := do(t, s, http.MethodGet, "/storage/v1/object/info/authenticated/media/none.txt", "")
	if resp.StatusCode != 404 || !strings.Contains(body, `"code":"NoSuchKey"`) {
		t.Errorf("missing object: %d %s, want 404 NoSuchKey", resp.StatusCode, body)
	}
}

func TestObjects(t *testing.T) {
	clock := echogentest.NewClock(start)
	s := New(t, Options{Clock: clock})
	s.CreateBucket("media", false)
	put(t, s, "media", "u1/a.txt", "hello")

	resp, body := do(t, s, http.MethodGet, "/storage/v1/object/authenticated/media/u1/a.txt", "")
	if resp.StatusCode != 200 || body != "hello" || resp.Header.Get("ETag") != `"5d41402abc4b2a76b9719d911017c592"` ||
		resp.Header.Get("Last-Modified") != start.Format(http.TimeFormat) || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do(t, s, http.MethodGet, "/storage/v1/object/info/authenticated/media/u1/a.txt", "")
	var info map[string]any
	if err := json.Unmarshal([]byte(body), &info); err != nil || info["size"] != 5.0 || info["content_type"] != "text/plain" {
		t.Errorf("info: %d %s", resp.StatusCode, body)
	}

	resp, body = do(t, s, http.MethodPost, "/storage/v1/object/media/u1/a.txt", "", "Content-Type", "text/plain", "x-upsert", "")
	if resp.StatusCode != 400 || !strings.Contains(body, `"statusCode":"409"`) {
		t.Errorf("upload over an object without x-upsert: %d %s, want a 409 in the body", resp.StatusCode, body)
	}
	resp, body = do(t, s, http.MethodPost, "/storage/v1/object/media/u1/../x.txt", "", "Content-Type", "text/plain", "x-upsert", "true")
	if resp.StatusCode == 200 {
		t.Errorf("upload to a key with ..: %d %s", resp.StatusCode, body)
	}

	resp, body = do(t, s, http.MethodDelete, "/storage/v1/object/media", `{"prefixes":["u1/a.txt","u1/none.txt"]}`)
	var removed []map[string]any
	if err := json.Unmarshal([]byte(body), &removed); err != nil || resp.StatusCode != 200 || len(removed) != 1 || removed[0]["name"] != "u1/a.txt" {
		t.Errorf("delete: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, s, http.MethodGet, "/storage/v1/object/authenticated/media/u1/a.txt", "")
	if resp.StatusCode != 400 || !strings.Contains(body, `"error":"not_found"`) {
		t.Errorf("GET after delete: %d %s", resp.StatusCode, body)
	}
}

// TestAbortedUpload sends half a chunked upload and closes its side: the
// stand-in must store nothing.
func TestAbortedUpload(t *testing.T) {
	s := New(t, Options{})
	s.CreateBucket("media", false)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /storage/v1/object/media/u1/half.bin HTTP/1.1\r\nHost: x\r\napikey: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/octet-stream\r\nx-upsert: true\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", s.Key, s.Key)
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Error("a half upload was accepted")
	}
	if keys := s.Keys("media"); len(keys) != 0 {
		t.Errorf("objects after a half upload: %v", keys)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || !reqs[0].Aborted || !reqs[0].Chunked || reqs[0].Uploaded != 5 {
		t.Errorf("recorded %+v, want one chunked upload aborted after 5 bytes", reqs)
	}
}

func TestList(t *testing.T) {
	s := New(t, Options{})
	s.CreateBucket("media", false)
	for _, k := range []string{"u1/b.txt", "u1/a.txt", "u1/sub/x.txt", "u1/sub/deeper/y.txt", "u1/All/z.txt", "U1/case.txt", "u2/c.txt", "top.txt"} {
		put(t, s, "media", k, "x")
	}
	list := func(body string) []string {
		t.Helper()
		resp, got := do(t, s, http.MethodPost, "/storage/v1/object/list/media", body)
		var entries []struct {
			Name string  `json:"name"`
			ID   *string `json:"id"`
		}
		if err := json.Unmarshal([]byte(got), &entries); err != nil || resp.StatusCode != 200 {
			t.Fatalf("list %s: %d %s", body, resp.StatusCode, got)
		}
		var names []string
		for _, e := range entries {
			if e.ID == nil {
				names = append(names, e.Name+"/")
			} else {
				names = append(names, e.Name)
			}
		}
		return names
	}
	tests := []struct {
		body string
		want []string
	}{
		{`{"prefix":""}`, []string{"U1/", "u1/", "u2/", "top.txt"}},
		{`{"prefix":"u1"}`, []string{"All/", "sub/", "a.txt", "b.txt", "case.txt"}}, // ILIKE: U1/case.txt too
		{`{"prefix":"u1/"}`, []string{"All/", "sub/", "a.txt", "b.txt", "case.txt"}},
		{`{"prefix":"u1","search":"a"}`, []string{"All/", "a.txt"}},
		{`{"prefix":"u1","limit":2,"offset":1,"sortBy":{"column":"name","order":"asc"}}`, []string{"sub/", "a.txt"}},
		{`{"prefix":"u1","sortBy":{"column":"name","order":"desc"}}`, []string{"sub/", "All/", "case.txt", "b.txt", "a.txt"}},
		{`{"prefix":"u1/sub"}`, []string{"deeper/", "x.txt"}},
		{`{"prefix":"nobody"}`, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, list(tt.body)); diff != "" {
			t.Errorf("list %s (-want +got):\n%s", tt.body, diff)
		}
	}
}

func TestSignedURLs(t *testing.T) {
	clock := echogentest.NewClock(start)
	s := New(t, Options{Clock: clock})
	s.CreateBucket("media", false)
	put(t, s, "media", "u1/my file.txt", "0123456789")

	resp, body := do(t, s, http.MethodPost, "/storage/v1/object/sign/media/u1/my%20file.txt", `{"expiresIn":60}`)
	var out struct {
		SignedURL string `json:"signedURL"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign: %d %s", resp.StatusCode, body)
	}
	prefix := "/object/sign/media/u1/my file.txt?token=" // unescaped, as Storage answers
	if !strings.HasPrefix(out.SignedURL, prefix) {
		t.Fatalf("signedURL %q, want it to start with %q", out.SignedURL, prefix)
	}
	u := s.URL + "/storage/v1/object/sign/media/u1/my%20file.txt?token=" + strings.TrimPrefix(out.SignedURL, prefix)

	get := func(url string, header ...string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get(u); resp.StatusCode != 200 || body != "0123456789" || resp.Header.Get("Expires") != start.Add(time.Minute).Format(http.TimeFormat) {
		t.Errorf("signed GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := get(u, "Range", "bytes=2-4"); resp.StatusCode != 206 || body != "234" {
		t.Errorf("signed range GET: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(u + "&download="); resp.Header.Get("Content-Disposition") != "attachment;" {
		t.Errorf("download: Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
	if resp, _ := get(u + "&download=a%20b.txt"); resp.Header.Get("Content-Disposition") != "attachment; filename=a%20b.txt; filename*=UTF-8''a%20b.txt;" {
		t.Errorf("download with a name: Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
	clock.Advance(time.Minute)
	if resp, body := get(u); resp.StatusCode != 400 || !strings.Contains(body, `"message":"jwt expired"`) {
		t.Errorf("expired: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, s, http.MethodPost, "/storage/v1/object/sign/media/u1/none.txt", `{"expiresIn":60}`)
	if resp.StatusCode != 400 || !strings.Contains(body, "Object not found") {
		t.Errorf("sign a missing object: %d %s", resp.StatusCode, body)
	}
}

func TestFailures(t *testing.T) {
	s := New(t, Options{})
	s.CreateBucket("media", false)
	s.Fail(Failure{Method: http.MethodGet, Path: "/bucket/", Status: 503, Body: `{"message":"down"}`, Times: 2})
	for i := range 3 {
		resp, body := do(t, s, http.MethodGet, "/storage/v1/bucket/media", "")
		if want := map[bool]int{true: 503, false: 200}[i < 2]; resp.StatusCode != want {
			t.Errorf("request %d: %d %s, want %d", i+1, resp.StatusCode, body, want)
		}
	}
	s.Fail(Failure{Status: 500, Body: `{}`})
	if resp, _ := do(t, s, http.MethodGet, "/storage/v1/bucket/media", ""); resp.StatusCode != 500 {
		t.Errorf("until cleared: %d", resp.StatusCode)
	}
	s.ClearFailures()
	if resp, _ := do(t, s, http.MethodGet, "/storage/v1/bucket/media", ""); resp.StatusCode != 200 {
		t.Errorf("after ClearFailures: %d", resp.StatusCode)
	}
}
