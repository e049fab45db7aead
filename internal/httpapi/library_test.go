package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/storetest"
	"github.com/echogen/server/internal/testenv"
	"github.com/echogen/server/internal/vault"
)

// Small but real files of each kind, enough for the type sniffer.
var (
	mp3Bytes  = append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte{0xFF, 0xFB, 0x90, 0x64, 0x00}, 400)...)
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0}, 200)...)
	pdfBytes  = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	textBytes = []byte("Plain notes for an episode.\nSecond line.\n")
)

// upload sends a multipart upload the way an app would: kind, then file.
func (e *testEnv) upload(token, kind, filename string, data io.Reader) response {
	e.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("kind", kind)
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("file", filename); err == nil {
				_, err = io.Copy(part, data)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", e.srv.URL+"/api/v1/uploads", pr)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	pr.CloseWithError(io.ErrClosedPipe) // the server may answer before reading it all
	return response{status: res.StatusCode, header: res.Header, raw: raw}
}

func (e *testEnv) uploadPath(token, kind, filename string, data []byte) string {
	e.t.Helper()
	r := e.upload(token, kind, filename, bytes.NewReader(data))
	if r.status != http.StatusCreated {
		e.t.Fatalf("upload %s: %d %s", kind, r.status, r.raw)
	}
	return r.object(e.t)["storage_path"].(string)
}

func (e *testEnv) create(token, path, body string) map[string]any {
	e.t.Helper()
	r := e.do("POST", path, token, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("POST %s: %d %s", path, r.status, r.raw)
	}
	return r.object(e.t)
}

// library is one user's resources.
type library struct {
	key, content, script, podcast string
	audioPath, coverPath          string
}

func (e *testEnv) makeLibrary(s session) library {
	e.t.Helper()
	var l library
	l.key = e.create(s.access, "/api/v1/api-keys", `{"provider":"openai","key_alias":"Work","encrypted_key":"sk-good-0123456789abcdefghij"}`)["id"].(string)
	l.content = e.create(s.access, "/api/v1/content", `{"url":"https://example.com","title":"An article","markdown":"# An article\n\nText.","provider":"firecrawl"}`)["id"].(string)
	l.script = e.create(s.access, "/api/v1/scripts", `{"source_content_id":"`+l.content+`","prompt":"Make it fun","model":"gemini-2.5-flash","language":"en","segments":[{"speaker":"Alex","content":"Hello!"},{"speaker":"Sam","content":"Hi there."}]}`)["id"].(string)
	l.audioPath = e.uploadPath(s.access, "audio", "episode.mp3", mp3Bytes)
	l.coverPath = e.uploadPath(s.access, "image", "cover.png", pngBytes)
	l.podcast = e.create(s.access, "/api/v1/podcasts", `{"script_id":"`+l.script+`","audio_storage_path":"`+l.audioPath+`","cover_art_storage_path":"`+l.coverPath+`","duration_seconds":42}`)["id"].(string)
	return l
}

// TestLibraryContractRequestsReplayed sends the client's library requests
// (contract §2.2–§2.5) and reads the answers as its Dart models do.
func TestLibraryContractRequestsReplayed(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(...func(*envOptions)) *testEnv) {
		e := newEnv()
		ada := e.signUp("ada@example.com")
		e.secrets = append(e.secrets, "sk-live-abcdefghijklmnop1234")

		key := e.create(ada.access, "/api/v1/api-keys", `{"provider":"openai","key_alias":"Personal","encrypted_key":"sk-live-abcdefghijklmnop1234","metadata":{"org":"acme"}}`)
		requireKeys(t, "api key", key, "id", "provider", "key_alias", "metadata", "created_at", "updated_at", "key_hint", "status", "last_verified_at")
		if key["key_hint"] != "1234" || key["status"] != "unverified" || key["metadata"].(map[string]any)["org"] != "acme" {
			t.Errorf("api key: %v", key)
		}
		var keys []map[string]any
		decode(t, e.do("GET", "/api/v1/api-keys", ada.access, ""), &keys)
		if len(keys) != 1 || keys[0]["id"] != key["id"] {
			t.Errorf("api key list: %v", keys)
		}
		patched := e.do("PATCH", "/api/v1/api-keys/"+key["id"].(string), ada.access, `{"key_alias":"Renamed"}`)
		if patched.status != 200 || patched.object(t)["key_alias"] != "Renamed" {
			t.Errorf("api key PATCH: %d %s", patched.status, patched.raw)
		}
		if r := e.do("PATCH", "/api/v1/api-keys/"+key["id"].(string), ada.access, `{}`); r.status != http.StatusBadRequest {
			t.Errorf("empty api key PATCH: %d, want 400", r.status)
		}

		content := e.create(ada.access, "/api/v1/content", `{"url":"https://example.com","title":"Title","markdown":"# Title","provider":"firecrawl"}`)
		requireKeys(t, "content", content, "id", "user_id", "url", "title", "markdown", "provider", "metadata", "created_at", "updated_at")
		if content["url"] != "https://example.com/" {
			t.Errorf("url not normalised as the original did: %v", content["url"])
		}
		e.clock.Advance(time.Second) // lists are newest first
		e.create(ada.access, "/api/v1/content", `{"title":"Pasted","markdown":"Some text","provider":"text"}`)
		var list struct {
			Items []map[string]any `json:"items"`
			Total int              `json:"total"`
		}
		decode(t, e.do("GET", "/api/v1/content?limit=1&offset=0", ada.access, ""), &list)
		if len(list.Items) != 1 || list.Total != 2 || list.Items[0]["url"] != "" { // fixes M8; newest first
			t.Errorf("content list: %+v", list)
		}

		script := e.create(ada.access, "/api/v1/scripts", `{"source_content_id":"`+content["id"].(string)+`","prompt":"Summarise","model":"gemini-2.5-flash","language":"en","segments":[{"speaker":"Alex","content":"Welcome!","start_time":0,"end_time":1.5},{"speaker":"Sam","content":"Thanks."}]}`)
		requireKeys(t, "script", script, "id", "user_id", "source_content_id", "prompt", "model", "language", "segments", "metadata", "created_at", "updated_at")
		segs := script["segments"].([]any)
		second := segs[1].(map[string]any)
		if len(segs) != 2 || second["start_time"] != nil || second["end_time"] != nil {
			t.Errorf("segments: %v", segs)
		}
		if _, ok := second["start_time"]; !ok {
			t.Error("segments must carry start_time even when null")
		}
		var scripts []map[string]any
		decode(t, e.do("GET", "/api/v1/scripts?limit=20&offset=0", ada.access, ""), &scripts)
		if len(scripts) != 1 {
			t.Errorf("script list: %v", scripts)
		}

		audio := e.uploadPath(ada.access, "audio", "a.mp3", mp3Bytes)
		pod := e.create(ada.access, "/api/v1/podcasts", `{"script_id":"`+script["id"].(string)+`","audio_storage_path":"`+audio+`","duration_seconds":61}`)
		requireKeys(t, "podcast", pod, "id", "user_id", "script_id", "audio_url", "cover_art_url", "duration_seconds", "metadata", "created_at", "updated_at")
		if !strings.HasPrefix(pod["audio_url"].(string), e.signedURLPrefix()) || pod["cover_art_url"] != nil {
			t.Errorf("podcast URLs: %v", pod)
		}
		detail := e.do("GET", "/api/v1/podcasts/"+pod["id"].(string)+"/with-script", ada.access, "").object(t)
		if detail["script"].(map[string]any)["id"] != script["id"] {
			t.Errorf("with-script: %v", detail)
		}
		var pods []map[string]any
		decode(t, e.do("GET", "/api/v1/podcasts?limit=20&offset=0", ada.access, ""), &pods)
		if len(pods) != 1 {
			t.Errorf("podcast list: %v", pods)
		}
		for _, path := range []string{"/api/v1/podcasts/" + pod["id"].(string), "/api/v1/scripts/" + script["id"].(string), "/api/v1/content/" + content["id"].(string), "/api/v1/api-keys/" + key["id"].(string)} {
			if r := e.do("DELETE", path, ada.access, ""); r.status != http.StatusNoContent {
				t.Errorf("DELETE %s: %d %s", path, r.status, r.raw)
			}
			if r := e.do("DELETE", path, ada.access, ""); r.status != http.StatusNotFound {
				t.Errorf("second DELETE %s: %d", path, r.status)
			}
		}
		if _, err := e.blobs.Stat(context.Background(), testBuckets.Audio, audio); echogen.ErrorKind(err) != echogen.KindNotFound {
			t.Errorf("deleting the podcast left its audio: %v", err)
		}
		for _, bad := range []string{"0", "101"} {
			if r := e.do("GET", "/api/v1/scripts?limit="+bad, ada.access, ""); r.status != 422 {
				t.Errorf("limit=%s: %d", bad, r.status)
			}
		}
		if r := e.do("GET", "/api/v1/podcasts?offset=-1", ada.access, ""); r.status != 422 {
			t.Errorf("offset=-1: %d", r.status)
		}
		e.checkLogs()
	})
}

// TestOwnershipMatrix: another user's ids are not found, lists never show
// another user's rows, and nothing of theirs can be referenced.
func TestOwnershipMatrix(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(...func(*envOptions)) *testEnv) {
		e := newEnv()
		ada, bob := e.signUp("ada@example.com"), e.signUp("bob@example.com")
		a := e.makeLibrary(ada)
		bobScript := e.create(bob.access, "/api/v1/scripts", `{"prompt":"p","model":"m","segments":[{"speaker":"B","content":"Mine."}]}`)["id"].(string)
		bobAudio := e.uploadPath(bob.access, "audio", "b.mp3", mp3Bytes)

		type op struct{ method, path, body string }
		ops := []op{
			{"PATCH", "/api/v1/api-keys/" + a.key, `{"key_alias":"x"}`},
			{"DELETE", "/api/v1/api-keys/" + a.key, ""},
			{"POST", "/api/v1/api-keys/" + a.key + "/verify", ""},
			{"GET", "/api/v1/content/" + a.content, ""},
			{"PATCH", "/api/v1/content/" + a.content, `{"title":"x"}`},
			{"DELETE", "/api/v1/content/" + a.content, ""},
			{"GET", "/api/v1/scripts/" + a.script, ""},
			{"PATCH", "/api/v1/scripts/" + a.script, `{"title":"x"}`},
			{"DELETE", "/api/v1/scripts/" + a.script, ""},
			{"GET", "/api/v1/podcasts/" + a.podcast, ""},
			{"GET", "/api/v1/podcasts/" + a.podcast + "/with-script", ""},
			{"GET", "/api/v1/podcasts/" + a.podcast + "/audio", ""},
			{"GET", "/api/v1/podcasts/" + a.podcast + "/cover", ""},
			{"DELETE", "/api/v1/podcasts/" + a.podcast, ""},
			{"POST", "/api/v1/scripts", `{"source_content_id":"` + a.content + `","prompt":"p","model":"m","segments":[]}`},
			{"POST", "/api/v1/podcasts", `{"script_id":"` + a.script + `","audio_storage_path":"` + bobAudio + `"}`},
		}
		for _, o := range ops {
			if r := e.do(o.method, o.path, bob.access, o.body); r.status != http.StatusNotFound {
				t.Errorf("bob %s %s: %d, want 404: %s", o.method, o.path, r.status, r.raw)
			}
		}
		// Ada's objects cannot be claimed by Bob's podcast.
		for _, body := range []string{
			`{"script_id":"` + bobScript + `","audio_storage_path":"` + a.audioPath + `"}`,
			`{"script_id":"` + bobScript + `","audio_storage_path":"` + bobAudio + `","cover_art_storage_path":"` + a.coverPath + `"}`,
			`{"script_id":"` + bobScript + `","audio_storage_path":"` + bob.userID + `/../` + a.audioPath + `"}`,
			`{"script_id":"` + bobScript + `","audio_storage_path":"` + bob.userID + `/nothing.mp3"}`,
		} {
			if r := e.do("POST", "/api/v1/podcasts", bob.access, body); r.status != 422 {
				t.Errorf("bob claims %s: %d, want 422: %s", body, r.status, r.raw)
			}
		}
		// Bob's lists do not show Ada's rows.
		for _, path := range []string{"/api/v1/api-keys", "/api/v1/content", "/api/v1/scripts", "/api/v1/podcasts"} {
			raw := string(e.do("GET", path, bob.access, "").raw)
			for _, id := range []string{a.key, a.content, a.script, a.podcast} {
				if strings.Contains(raw, id) {
					t.Errorf("bob's %s shows ada's %s", path, id)
				}
			}
		}
		// Malformed ids are 404s, not 500s.
		for _, path := range []string{"/api/v1/content/not-a-uuid", "/api/v1/scripts/1", "/api/v1/podcasts/%27or%201=1", "/api/v1/api-keys/x/verify"} {
			method := "GET"
			if strings.HasSuffix(path, "/verify") {
				method = "POST"
			}
			if r := e.do(method, path, ada.access, ""); r.status != http.StatusNotFound {
				t.Errorf("%s %s: %d", method, path, r.status)
			}
		}
		// Everything of Ada's still works for Ada.
		for _, path := range []string{"/api/v1/content/" + a.content, "/api/v1/scripts/" + a.script, "/api/v1/podcasts/" + a.podcast} {
			if r := e.do("GET", path, ada.access, ""); r.status != 200 {
				t.Errorf("ada GET %s: %d", path, r.status)
			}
		}
		// A signed URL for one object cannot be bent to another.
		audioURL := e.do("GET", "/api/v1/podcasts/"+a.podcast, ada.access, "").object(t)["audio_url"].(string)
		// Our own URLs answer 403; Supabase Storage refuses with its 400
		// InvalidSignature.
		refused, expiry := http.StatusForbidden, strings.Replace(audioURL, "exp=", "exp=9", 1)
		if e.storage != nil {
			refused, expiry = http.StatusBadRequest, audioURL[:len(audioURL)-2]+"xx"
		}
		for _, bent := range []string{
			strings.Replace(audioURL, a.audioPath, bobAudio, 1),
			strings.Replace(audioURL, "/podcast-audio/", "/cover-art/", 1),
			expiry,
		} {
			if status := get(t, e, bent, nil).StatusCode; status != refused {
				t.Errorf("bent URL %s: %d, want %d", bent, status, refused)
			}
		}
		if status := get(t, e, audioURL, nil).StatusCode; status != http.StatusOK {
			t.Errorf("the signed URL itself: %d", status)
		}
		// Deleting the script takes its podcast and the podcast's media along.
		if r := e.do("DELETE", "/api/v1/scripts/"+a.script, ada.access, ""); r.status != http.StatusNoContent {
			t.Fatalf("delete script: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/podcasts/"+a.podcast, ada.access, ""); r.status != http.StatusNotFound {
			t.Errorf("podcast of a deleted script: %d", r.status)
		}
		for _, obj := range []struct{ bucket, key string }{{testBuckets.Audio, a.audioPath}, {testBuckets.Art, a.coverPath}} {
			if _, err := e.blobs.Stat(context.Background(), obj.bucket, obj.key); echogen.ErrorKind(err) != echogen.KindNotFound {
				t.Errorf("media of a deleted script's podcast survived: %s %v", obj.key, err)
			}
		}
	})
}

func get(t *testing.T, e *testEnv, url string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestMediaRedirectAndRange(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	ada := e.signUp("ada@example.com")
	l := e.makeLibrary(ada)
	for _, tc := range []struct {
		suffix string
		want   []byte
		ctype  string
	}{{"/audio", mp3Bytes, "audio/mpeg"}, {"/cover", pngBytes, "image/png"}} {
		res := get(t, e, e.srv.URL+"/api/v1/podcasts/"+l.podcast+tc.suffix, http.Header{"Authorization": {"Bearer " + ada.access}})
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.srv.URL+"/media/") {
			t.Fatalf("%s: %d %q", tc.suffix, res.StatusCode, loc)
		}
		req, _ := http.NewRequest("GET", loc, nil)
		req.Header.Set("Range", "bytes=10-19")
		r, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusPartialContent || !bytes.Equal(body, tc.want[10:20]) || r.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s range: %d %q %q", tc.suffix, r.StatusCode, r.Header.Get("Content-Type"), body)
		}
	}
}

func TestVaultKeepsSecretsSealed(t *testing.T) {
	const secret = "sk-good-0123456789abcdefghij"
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		e.secrets = append(e.secrets, secret)
		ada, bob := e.signUp("ada@example.com"), e.signUp("bob@example.com")
		key := e.create(ada.access, "/api/v1/api-keys", `{"provider":"openai","encrypted_key":"`+secret+`"}`)
		bad := e.create(ada.access, "/api/v1/api-keys", `{"provider":"openai","api_key":"sk-wrong-0000000000000000000"}`)
		e.secrets = append(e.secrets, "sk-wrong-0000000000000000000")

		// Verification opens the secret and asks the provider.
		verified := e.do("POST", "/api/v1/api-keys/"+key["id"].(string)+"/verify", ada.access, "").object(t)
		if verified["status"] != "valid" || verified["last_verified_at"] == nil {
			t.Errorf("verify a good key: %v", verified)
		}
		refused := e.do("POST", "/api/v1/api-keys/"+bad["id"].(string)+"/verify", ada.access, "").object(t)
		if refused["status"] != "invalid" || !strings.Contains(fmt.Sprint(refused["status_message"]), "Incorrect API key") {
			t.Errorf("verify a bad key: %v", refused)
		}

		// The stored value opens only with its own binding.
		ctx := context.Background()
		stored, err := e.store.APIKey(ctx, ada.userID, key["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored.Sealed, []byte(secret)) {
			t.Fatal("the sealed value contains the secret")
		}
		if _, _, err := e.library.OpenAPIKey(ctx, bob.userID, stored.ID); echogen.ErrorKind(err) != echogen.KindNotFound {
			t.Errorf("bob opened ada's key: %v", err)
		}
		if err := e.store.CreateAPIKey(ctx, &echogen.APIKey{UserID: bob.userID, Provider: echogen.ProviderOpenAI, Sealed: stored.Sealed, Status: echogen.KeyUnverified, Metadata: map[string]any{}, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		bobKeys, _ := e.store.ListAPIKeys(ctx, bob.userID)
		if _, _, err := e.library.OpenAPIKey(ctx, bob.userID, bobKeys[0].ID); err == nil {
			t.Error("a sealed secret copied to another user's record opened")
		}

		// The secret is nowhere in the database's files or dump.
		checkDatabaseHasNo(t, e.store, secret)
		e.checkLogs()
	})
}

// checkDatabaseHasNo looks for s in the SQLite files or a pg_dump of the
// test's PostgreSQL schema.
func checkDatabaseHasNo(t *testing.T, store echogen.Store, s string) {
	t.Helper()
	db, dialect := store.(storetest.RawDB).RawDB()
	if dialect.String() == "sqlite" {
		var file string
		if err := db.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{file, file + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains the secret", filepath.Base(f))
			}
		}
		return
	}
	var schema string
	if err := db.QueryRow("SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	pgDump := testenv.RequireTool(t, "pg_dump", "postgresql-client")
	out, err := exec.Command(pgDump, "--schema="+schema, "--data-only", testenv.PostgresURL(t)).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(out, []byte("user_api_keys")) {
		t.Fatal("the dump does not contain the keys table; the check would prove nothing")
	}
	if bytes.Contains(out, []byte(s)) {
		t.Error("the PostgreSQL dump contains the secret")
	}
}

func TestVaultRotation(t *testing.T) {
	const secret = "sk-good-0123456789abcdefghij"
	oldSpec, old := vaultSpec(t)
	store := storetest.NewSQLite(t)
	e := newTestEnv(t, func(*testing.T) echogen.Store { return store }, func(o *envOptions) { o.vault = old })
	e.secrets = append(e.secrets, secret)
	ada := e.signUp("ada@example.com")
	id := e.create(ada.access, "/api/v1/api-keys", `{"provider":"openai","encrypted_key":"`+secret+`"}`)["id"].(string)

	// The operator adds a new key in front of the old one and rotates.
	newSpec, _ := vaultSpec(t)
	rotatedRing := keyringFrom(t, newSpec+","+oldSpec)
	e2 := newTestEnv(t, func(*testing.T) echogen.Store { return store }, func(o *envOptions) { o.vault = rotatedRing })
	rotated, current, err := e2.library.RotateVault(context.Background())
	if err != nil || rotated != 1 || current != 0 {
		t.Fatalf("rotate: %d rotated, %d current, %v", rotated, current, err)
	}
	if rotated, current, err = e2.library.RotateVault(context.Background()); err != nil || rotated != 0 || current != 1 {
		t.Fatalf("rotate again: %d rotated, %d current, %v", rotated, current, err)
	}
	// Now the new key alone opens it.
	e3 := newTestEnv(t, func(*testing.T) echogen.Store { return store }, func(o *envOptions) { o.vault = keyringFrom(t, newSpec) })
	got, _, err := e3.library.OpenAPIKey(context.Background(), ada.userID, id)
	if err != nil || got != secret {
		t.Fatalf("open after rotation: %v", err)
	}
}

func TestUploads(t *testing.T) {
	e := newTestEnv(t, storeSQLite, func(o *envOptions) {
		o.uploads = echogen.UploadLimits{Audio: 100 << 20, Image: 1000, Document: 1 << 20}
	})
	ada := e.signUp("ada@example.com")
	tests := []struct {
		name, kind, file string
		data             []byte
		wantStatus       int
		wantType         string
	}{
		{"mp3", "audio", "a.mp3", mp3Bytes, 201, "audio/mpeg"},
		{"png", "image", "c.png", pngBytes, 201, "image/png"},
		{"pdf", "document", "d.pdf", pdfBytes, 201, "application/pdf"},
		{"markdown", "document", "notes.md", textBytes, 201, "text/markdown"},
		{"text", "document", "notes.txt", textBytes, 201, "text/plain"},
		{"png sent as audio", "audio", "a.mp3", pngBytes, 422, ""},
		{"text named .png", "image", "x.png", textBytes, 422, ""},
		{"empty file", "document", "e.txt", nil, 422, ""},
		{"unknown kind", "video", "v.mp4", mp3Bytes, 422, ""},
	}
	for _, tc := range tests {
		r := e.upload(ada.access, tc.kind, tc.file, bytes.NewReader(tc.data))
		if r.status != tc.wantStatus {
			t.Errorf("%s: %d, want %d: %s", tc.name, r.status, tc.wantStatus, r.raw)
			continue
		}
		if tc.wantStatus == 201 {
			obj := r.object(t)
			if obj["content_type"] != tc.wantType || obj["size"] != json.Number(fmt.Sprint(len(tc.data))) || !strings.HasPrefix(obj["storage_path"].(string), ada.userID+"/") {
				t.Errorf("%s: %v", tc.name, obj)
			}
		}
	}
	// The cap is exact: cap bytes pass, cap + 1 is 413 and leaves nothing.
	atCap := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, 1000-len(pngBytes))...)
	if r := e.upload(ada.access, "image", "c.png", bytes.NewReader(atCap)); r.status != 201 {
		t.Fatalf("image of exactly the cap: %d %s", r.status, r.raw)
	}
	before := countObjects(t, e, ada.userID)
	if r := e.upload(ada.access, "image", "c.png", bytes.NewReader(append(atCap, 0))); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("cap + 1: %d %s", r.status, r.raw)
	}
	if after := countObjects(t, e, ada.userID); after != before {
		t.Errorf("a refused upload left %d objects behind", after-before)
	}
	if r := e.do("POST", "/api/v1/uploads", ada.access, `{"kind":"audio"}`); r.status != 422 {
		t.Errorf("JSON instead of multipart: %d", r.status)
	}
}

func countObjects(t *testing.T, e *testEnv, userID string) int {
	t.Helper()
	n := 0
	if e.storage != nil {
		for _, b := range testBuckets.All() {
			for _, k := range e.storage.Keys(b) {
				if strings.HasPrefix(k, userID+"/") {
					n++
				}
			}
		}
		return n
	}
	for _, b := range testBuckets.All() {
		filepath.Walk(filepath.Join(e.mediaRoot, b, userID), func(_ string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && !strings.HasPrefix(info.Name(), ".") {
				n++
			}
			return nil
		})
	}
	return n
}

func requireKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if v, ok := m[k]; ok {
			checkTimestamp(t, what+"."+k, v, false)
		}
	}
}

func decode(t *testing.T, r response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if err := json.Unmarshal(r.raw, v); err != nil {
		t.Fatalf("%v: %s", err, r.raw)
	}
}

func vaultSpec(t *testing.T) (string, *vault.Keyring) {
	t.Helper()
	spec, err := vault.FormatKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return spec, keyringFrom(t, spec)
}

func keyringFrom(t *testing.T, spec string) *vault.Keyring {
	t.Helper()
	k, err := vault.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLibraryPatches(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		ada := e.signUp("ada@example.com")
		l := e.makeLibrary(ada)
		steps := []struct {
			name, path, body string
			wantStatus       int
			check            func(map[string]any) bool
		}{
			{"content title", "/api/v1/content/" + l.content, `{"title":"Renamed","metadata":{"lang":"en"}}`, 200,
				func(m map[string]any) bool {
					return m["title"] == "Renamed" && m["markdown"] != "" && m["metadata"].(map[string]any)["lang"] == "en"
				}},
			{"content url cleared", "/api/v1/content/" + l.content, `{"url":null}`, 200, func(m map[string]any) bool { return m["url"] == "" }},
			{"content bad url", "/api/v1/content/" + l.content, `{"url":"file:///etc/passwd"}`, 422, nil},
			{"script segments", "/api/v1/scripts/" + l.script, `{"title":"Episode 1","segments":[{"speaker":"Alex","content":"New line","tone":"cheerfully"}]}`, 200,
				func(m map[string]any) bool {
					segs := m["segments"].([]any)
					return m["title"] == "Episode 1" && len(segs) == 1 && segs[0].(map[string]any)["tone"] == "cheerfully"
				}},
			{"script empty speaker", "/api/v1/scripts/" + l.script, `{"segments":[{"speaker":"Alex","content":"ok"},{"speaker":" ","content":"x"}]}`, 422, nil},
			{"script null segments", "/api/v1/scripts/" + l.script, `{"segments":null}`, 422, nil},
			{"api key new secret", "/api/v1/api-keys/" + l.key, `{"encrypted_key":"sk-other-9999999999999999wxyz"}`, 200,
				func(m map[string]any) bool { return m["key_hint"] == "wxyz" && m["status"] == "unverified" }},
			{"api key unknown provider metadata", "/api/v1/api-keys/" + l.key, `{"metadata":["not","an","object"]}`, 422, nil},
		}
		e.secrets = append(e.secrets, "sk-other-9999999999999999wxyz")
		for _, st := range steps {
			r := e.do("PATCH", st.path, ada.access, st.body)
			if r.status != st.wantStatus {
				t.Errorf("%s: %d, want %d: %s", st.name, r.status, st.wantStatus, r.raw)
				continue
			}
			if st.check != nil && !st.check(r.object(t)) {
				t.Errorf("%s: %s", st.name, r.raw)
			}
		}
		// The failing segment is named by its index.
		r := e.do("PATCH", "/api/v1/scripts/"+l.script, ada.access, `{"segments":[{"speaker":"Alex","content":"ok"},{"speaker":" ","content":"x"}]}`)
		if loc := fmt.Sprint(r.object(t)["detail"].([]any)[0].(map[string]any)["loc"]); loc != "[body segments 1 speaker]" {
			t.Errorf("loc %s", loc)
		}
		// Unknown provider names the valid ones.
		r = e.do("POST", "/api/v1/api-keys", ada.access, `{"provider":"acme","encrypted_key":"k-123456789"}`)
		if r.status != 422 || !strings.Contains(string(r.raw), "openai_compatible") {
			t.Errorf("unknown provider: %d %s", r.status, r.raw)
		}
		r = e.do("POST", "/api/v1/api-keys", ada.access, `{"provider":"ollama","encrypted_key":"k-123456789"}`)
		if r.status != 422 || !strings.Contains(string(r.raw), "base_url") {
			t.Errorf("ollama without base_url: %d %s", r.status, r.raw)
		}
	})
}

// mp3Stream yields n bytes of an MP3-looking stream without holding them.
type mp3Stream struct{ left int64 }

func (m *mp3Stream) Read(p []byte) (int, error) {
	if m.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > m.left {
		n = m.left
	}
	for i := range p[:n] {
		p[i] = mp3Bytes[i%len(mp3Bytes)]
	}
	m.left -= n
	return int(n), nil
}

func TestLargeUploadStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 100 MB")
	}
	e := newTestEnv(t, storeSQLite)
	ada := e.signUp("ada@example.com")
	const size = 100 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak := make(chan uint64, 1)
	stop := make(chan struct{})
	go func() { // sample the heap while the upload runs
		var max uint64
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				peak <- max
				return
			default:
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > max {
				max = m.HeapInuse
			}
			runtime.Gosched()
		}
	}()
	r := e.upload(ada.access, "audio", "long.mp3", &mp3Stream{left: size})
	close(stop)
	maxHeap := <-peak
	runtime.ReadMemStats(&after)
	if r.status != 201 || r.object(t)["size"] != json.Number(fmt.Sprint(size)) {
		t.Fatalf("100 MB upload: %d %s", r.status, r.raw)
	}
	if grew := int64(maxHeap) - int64(before.HeapInuse); grew > 32<<20 {
		t.Errorf("heap grew by %d MiB during a 100 MB upload; it must stream", grew>>20)
	}
}
