package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/auth"
	"github.com/echogen/server/internal/blob"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
	"github.com/echogen/server/internal/httpapi"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/vault"
)

// fuzzAPI is the API for fuzz targets: built once per fuzzing process (a
// fuzz target has no *testing.T for newTestEnv), on SQLite and local media,
// served in-process without sockets, and without job queue, providers or
// rate limits. It has one signed-in user with a content item, a script and
// a key.
type fuzzAPI struct {
	handler              http.Handler
	blobs                echogen.BlobStore
	userID, token        string
	content, script, key string
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	f.Helper()
	ctx := context.Background()
	must := func(err error) {
		f.Helper()
		if err != nil {
			f.Fatal(err)
		}
	}
	clock := echogentest.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "echogen.db"))
	must(err)
	f.Cleanup(func() { db.Close() })
	must(db.Migrate(ctx))
	store := db.Store()
	log := slog.New(slog.DiscardHandler) // a panic or an internal error is a 500, which the targets catch
	hasher, err := auth.NewPasswordHasher(auth.Params{Memory: 8192, Time: 1, Threads: 1}, 4)
	must(err)
	signer, err := auth.NewTokenSigner(auth.SignerConfig{Algorithm: "HS256", Secret: []byte(testJWTSecret), TTL: 15 * time.Minute}, clock)
	must(err)
	authn, err := auth.NewService(auth.Config{SessionTTL: 30 * 24 * time.Hour, RefreshReuseGrace: 10 * time.Second, AppName: "EchoGen", Logger: log},
		store, store, store, &echogentest.Mailbox{}, hasher, signer, clock)
	must(err)
	mediaSigner, err := blob.NewSigner(testMediaKeys, clock)
	must(err)
	media, err := blob.NewLocal(f.TempDir(), mediaSigner, testBuckets.All()...)
	must(err)
	spec, err := vault.FormatKey(vault.GenerateKey())
	must(err)
	keys, err := vault.ParseKeyring(spec)
	must(err)
	library := echogen.NewLibraryService(store, media, keys, nil, clock, log, echogen.LibraryOptions{Buckets: testBuckets})
	accounts := echogen.NewAccountService(authn, store, echogen.BucketObjects{Blobs: media, Buckets: testBuckets}, clock, 0, log)
	a := &fuzzAPI{
		handler: httpapi.NewServer(httpapi.Deps{Accounts: accounts, Library: library, Media: media.Handler(), Clock: clock, Log: log},
			httpapi.Options{ProjectName: "EchoGen.ai API", Environment: "test", APIPrefix: "/api/v1"}),
		blobs: media,
	}

	create := func(path, body string) map[string]any {
		f.Helper()
		r := a.do("POST", path, "application/json", []byte(body))
		if r.status >= 300 {
			f.Fatalf("POST %s: %d %s", path, r.status, r.raw)
		}
		var m map[string]any
		must(json.Unmarshal(r.raw, &m))
		return m
	}
	signup := create("/api/v1/auth/signup", `{"method":"email","email":"fuzz@example.com","password":"correct horse battery","fullName":"Fuzz"}`)
	a.userID = signup["user"].(map[string]any)["id"].(string)
	a.token = signup["session"].(map[string]any)["access_token"].(string)
	a.content = create("/api/v1/content", `{"title":"Tides","markdown":"# Tides","provider":"text"}`)["id"].(string)
	a.script = create("/api/v1/scripts", `{"source_content_id":"`+a.content+`","prompt":"p","model":"m","segments":[{"speaker":"A","content":"Hi."}]}`)["id"].(string)
	a.key = create("/api/v1/api-keys", `{"provider":"openai","key_alias":"Work","encrypted_key":"sk-test-0123456789abcdefghij"}`)["id"].(string)
	return a
}

// do serves one request as the user.
func (a *fuzzAPI) do(method, path, contentType string, body []byte) response {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header["Content-Type"] = []string{contentType}
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
}

// check fails on a 5xx, on an error not in the API's shape, and on a
// success that is not JSON.
func check(t *testing.T, what string, r response) {
	t.Helper()
	switch {
	case r.status >= 500:
		t.Fatalf("%s: %d %s", what, r.status, r.raw)
	case r.status >= 400:
		if err := checkErrorShape(r, true); err != nil {
			t.Fatalf("%s: %d: %v: %s", what, r.status, err, r.raw)
		}
	case r.status != http.StatusNoContent && !json.Valid(r.raw):
		t.Fatalf("%s: %d with a body that is not JSON: %q", what, r.status, r.raw)
	}
}

// FuzzJSONBodies sends arbitrary bytes as the JSON body of the API's
// create and update endpoints, through the real handler and store. Whatever
// the bytes, the answer is never a 5xx, and errors have the API's shape.
func FuzzJSONBodies(f *testing.F) {
	a := newFuzzAPI(f)
	targets := []struct{ method, path, example string }{
		{"POST", "/api/v1/content", `{"url":"https://example.com/a","title":"T","markdown":"# T","provider":"firecrawl","metadata":{"k":[1,2]}}`},
		{"PATCH", "/api/v1/content/" + a.content, `{"url":null,"title":"New","metadata":{"lang":"en"}}`},
		{"POST", "/api/v1/scripts", `{"prompt":"p","model":"m","language":"en","segments":[{"speaker":"A","content":"Hi.","start_time":0,"end_time":1.5,"tone":"warm"}]}`},
		{"PATCH", "/api/v1/scripts/" + a.script, `{"title":"Ep 1","segments":[{"speaker":"B","content":"Bye."}],"metadata":null}`},
		{"POST", "/api/v1/podcasts", `{"script_id":"` + a.script + `","audio_storage_path":"` + a.userID + `/x.mp3","duration_seconds":61}`},
		{"POST", "/api/v1/api-keys", `{"provider":"ollama","api_key":"sk-abcdefghijklmnop","metadata":{"base_url":"http://127.0.0.1:11434"}}`},
		{"PATCH", "/api/v1/api-keys/" + a.key, `{"key_alias":"Home","metadata":{}}`},
		{"PATCH", "/api/v1/auth/profile", `{"fullName":"Ada","avatarUrl":"https://example.com/a.png","preferences":{"theme":"dark","voices":{"a":null}}}`},
		{"POST", "/api/v1/auth/onboarding", `{"responses":[{"questionId":"q1","question":"Why?","answer":["a",1,{"b":true}]}],"completed_at":"2026-11-27T12:00:00Z"}`},
		{"POST", "/api/v1/auth/refresh", `{"refresh_token":"not-a-token"}`},
		{"POST", "/api/v1/auth/password/reset", `{"token":"abc","password":"a new password"}`},
	}
	for i, tg := range targets {
		for _, body := range []string{
			tg.example, "", "{", "[]", "null", `{"zz":1}`, `{"title":1e400}`, `{"segments":[{"speaker":"A","content":"x","start_time":1e308}]}`,
			`{"metadata":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, `{"title":"a\u0000b"}`, "\xff\xfe{}", `{"title":"\ud800"}`,
		} {
			f.Add(uint8(i), []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		tg := targets[int(target)%len(targets)]
		check(t, fmt.Sprintf("%s %s %q", tg.method, tg.path, body), a.do(tg.method, tg.path, "application/json", body))
	})
}

// FuzzMultipartUpload sends arbitrary bodies and boundaries to POST
// /uploads. It never answers 5xx; what it accepts is stored whole, under
// the user's own prefix, with the size and SHA-256 it reports.
func FuzzMultipartUpload(f *testing.F) {
	a := newFuzzAPI(f)
	kinds := []string{"", "audio", "image", "document", "video"}
	form := func(boundary string, parts ...[3]string) []byte { // name, filename, content
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		if err := mw.SetBoundary(boundary); err != nil {
			f.Fatal(err)
		}
		for _, p := range parts {
			var w io.Writer
			var err error
			if p[1] == "" {
				w, err = mw.CreateFormField(p[0])
			} else {
				w, err = mw.CreateFormFile(p[0], p[1])
			}
			if err != nil {
				f.Fatal(err)
			}
			io.WriteString(w, p[2])
		}
		mw.Close()
		return buf.Bytes()
	}
	const b = "fuzzboundary"
	audio := form(b, [3]string{"kind", "", "audio"}, [3]string{"file", "a.mp3", string(mp3Bytes)})
	for _, s := range []struct {
		kind     uint8
		boundary string
		body     []byte
	}{
		{0, b, audio},
		{2, b, form(b, [3]string{"file", "cover.png", string(pngBytes)})},
		{3, b, form(b, [3]string{"file", "doc.pdf", string(pdfBytes)})},
		{0, b, form(b, [3]string{"kind", "", "document"}, [3]string{"file", "notes.txt", string(textBytes)})},
		{0, b, audio[:len(audio)/2]},                                  // cut in the middle of the file
		{0, b, audio[:len(audio)-len(b)-4]},                           // no closing boundary
		{0, b, form(b, [3]string{"file", "a.mp3", string(mp3Bytes)})}, // no kind
		{0, b, form(b, [3]string{"kind", "", strings.Repeat("a", 100)})},
		{1, b, form(b, [3]string{"file", "", ""})},
		{1, b, form(b, [3]string{"file", "../../../etc/passwd\x00.mp3", string(mp3Bytes)})},
		{4, b, audio},
		{1, "", []byte("--\r\n\r\n--")},
		{1, "x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%ff%00.mp3\r\n\r\nID3\r\n--x--\r\n")},
		{1, strings.Repeat("b", 71), []byte("--" + strings.Repeat("b", 71) + "--")},
		{1, "a\"b", []byte{}},
	} {
		f.Add(s.kind, s.boundary, s.body)
	}
	f.Fuzz(func(t *testing.T, kind uint8, boundary string, body []byte) {
		path := "/api/v1/uploads"
		if k := kinds[int(kind)%len(kinds)]; k != "" {
			path += "?kind=" + k
		}
		r := a.do("POST", path, "multipart/form-data; boundary="+boundary, body)
		check(t, fmt.Sprintf("upload %s boundary %q body %q", path, boundary, body), r)
		if r.status != http.StatusCreated {
			return
		}
		var up struct {
			StoragePath string `json:"storage_path"`
			Bucket      string `json:"bucket"`
			Size        int64  `json:"size"`
			SHA256      string `json:"sha256"`
		}
		if err := json.Unmarshal(r.raw, &up); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(up.StoragePath, a.userID+"/") || strings.Contains(up.StoragePath, "..") {
			t.Fatalf("stored at %q, outside the user's prefix", up.StoragePath)
		}
		rc, info, err := a.blobs.Open(context.Background(), up.Bucket, up.StoragePath)
		if err != nil {
			t.Fatalf("open the upload: %v", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != up.Size || info.Size != up.Size || hex.EncodeToString(h.Sum(nil)) != up.SHA256 {
			t.Fatalf("stored %d bytes (%v), reported %+v", n, err, up)
		}
		if err := a.blobs.Delete(context.Background(), up.Bucket, up.StoragePath); err != nil {
			t.Fatal(err)
		}
	})
}
