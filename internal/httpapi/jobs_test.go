package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// readEvents follows GET /jobs/{id}/events until the server ends the
// stream, and returns every event.
func (e *testEnv) readEvents(t *testing.T, token, jobID, lastEventID string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/jobs/"+jobID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var events []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" || cur.data != nil {
				events = append(events, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("event data: %v: %s", err, line)
			}
		}
	}
	return events
}

func (e *testEnv) waitJob(t *testing.T, token, jobID string) map[string]any {
	t.Helper()
	e.readEvents(t, token, jobID, "") // returns when the job is finished
	return e.do("GET", "/api/v1/jobs/"+jobID, token, "").object(t)
}

func TestJobsAPI(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		ada, bob := e.signUp("ada@example.com"), e.signUp("bob@example.com")

		r := e.do("POST", "/api/v1/jobs", ada.access, `{"job_type":"content_ingest","payload":{"text":"# Notes\n\nThe tide comes in twice a day, pulled by the moon.","title":"Tides"}}`)
		if r.status != http.StatusAccepted {
			t.Fatalf("enqueue: %d %s", r.status, r.raw)
		}
		job := r.object(t)
		id := job["id"].(string)
		requireKeys(t, "job", job, "id", "job_type", "status", "payload", "result", "error", "created_at", "updated_at", "started_at", "finished_at", "progress", "attempt", "max_attempts")
		if r.header.Get("X-Job-ID") != id || !strings.HasPrefix(id, "content_ingest_") || job["status"] != "queued" {
			t.Errorf("enqueue answer: %v, X-Job-ID %q", job, r.header.Get("X-Job-ID"))
		}

		events := e.readEvents(t, ada.access, id, "")
		if len(events) < 2 || events[len(events)-1].data["status"] != "succeeded" {
			t.Fatalf("events: %+v", events)
		}
		var kinds []string
		for _, ev := range events {
			kinds = append(kinds, ev.event)
		}
		if !strings.Contains(strings.Join(kinds, ","), "progress") || !strings.Contains(strings.Join(kinds, ","), "status") {
			t.Errorf("event kinds %v", kinds)
		}
		// Reconnecting after the last event sends nothing new.
		if again := e.readEvents(t, ada.access, id, events[len(events)-1].id); len(again) != 0 {
			t.Errorf("resume after the last event sent %d events", len(again))
		}

		done := e.do("GET", "/api/v1/jobs/"+id, ada.access, "").object(t)
		contentID, _ := done["result"].(map[string]any)["content_id"].(string)
		content := e.do("GET", "/api/v1/content/"+contentID, ada.access, "").object(t)
		if content["title"] != "Tides" || !strings.Contains(content["markdown"].(string), "pulled by the moon") {
			t.Errorf("ingested content: %v", content)
		}
		if md := content["metadata"].(map[string]any); md["job_id"] != id || md["word_count"] == nil {
			t.Errorf("content metadata: %v", md)
		}

		// Lists, filters, and other users.
		var list []map[string]any
		decode(t, e.do("GET", "/api/v1/jobs?status=succeeded&job_type=content_ingest", ada.access, ""), &list)
		if len(list) != 1 || list[0]["id"] != id {
			t.Errorf("filtered list: %v", list)
		}
		decode(t, e.do("GET", "/api/v1/jobs?status=failed", ada.access, ""), &list)
		if len(list) != 0 {
			t.Errorf("failed jobs: %v", list)
		}
		for _, path := range []string{"/api/v1/jobs/" + id, "/api/v1/jobs/" + id + "/events"} {
			if r := e.do("GET", path, bob.access, ""); r.status != http.StatusNotFound {
				t.Errorf("bob GET %s: %d", path, r.status)
			}
		}
		if r := e.do("POST", "/api/v1/jobs/"+id+"/cancel", bob.access, ""); r.status != http.StatusNotFound {
			t.Errorf("bob cancels ada's job: %d", r.status)
		}

		// Unknown types and bad payloads are refused before anything is queued.
		r = e.do("POST", "/api/v1/jobs", ada.access, `{"job_type":"video_render","payload":{}}`)
		if r.status != 400 || !strings.Contains(string(r.raw), "content_ingest") || !strings.Contains(string(r.raw), "podcast_generation") {
			t.Errorf("unknown type: %d %s", r.status, r.raw)
		}
		r = e.do("POST", "/api/v1/jobs", ada.access, `{"job_type":"content_ingest","payload":{"url":"ftp://x","text":"y"}}`)
		if r.status != 422 {
			t.Errorf("two sources: %d %s", r.status, r.raw)
		}
		r = e.do("POST", "/api/v1/content/ingest", ada.access, `{"url":"https://example.com","provider":"carrier-pigeon"}`)
		if r.status != 422 || !strings.Contains(string(r.raw), `"payload","provider"`) {
			t.Errorf("bad provider: %d %s", r.status, r.raw)
		}
		decode(t, e.do("GET", "/api/v1/jobs", ada.access, ""), &list)
		if len(list) != 1 {
			t.Errorf("refused jobs were stored: %d jobs", len(list))
		}
	})
}

func TestIngestURLAndCancel(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	ada := e.signUp("ada@example.com")
	release := make(chan struct{})
	hit := make(chan struct{}, 4)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			hit <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html lang="en"><head><title>Why the sea is salty | Ocean Notes</title>
<meta property="og:site_name" content="Ocean Notes"></head><body>
<nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<article><h1>Why the sea is salty</h1>
<p>Rain falling on land is slightly acidic, and over millions of years it has dissolved minerals out of rocks and carried them to the ocean.</p>
<p>Rivers deliver these dissolved salts, mostly sodium and chloride, and when seawater evaporates the salts stay behind, which is why the ocean grew saltier over time.</p>
<p>Hydrothermal vents on the sea floor add more minerals, and the balance between inputs and the salts that settle into sediments keeps salinity near thirty-five parts per thousand.</p>
</article><footer>Copyright Ocean Notes. Subscribe to our newsletter.</footer></body></html>`))
	}))
	defer site.Close()
	defer close(release)

	content := e.ingestURL(t, ada.access, site.URL+"/article")
	md := content["markdown"].(string)
	if !strings.Contains(md, "dissolved salts") || strings.Contains(md, "About us") || strings.Contains(md, "newsletter") {
		t.Errorf("extracted markdown:\n%s", md)
	}
	if !strings.HasPrefix(content["url"].(string), site.URL) || !strings.Contains(content["title"].(string), "salty") {
		t.Errorf("content: url %v title %v", content["url"], content["title"])
	}

	// Cancelling a running ingest stops its fetch.
	r := e.do("POST", "/api/v1/content/ingest", ada.access, `{"url":"`+site.URL+`/slow"}`)
	id := r.object(t)["id"].(string)
	select {
	case <-hit:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow page was never fetched")
	}
	c := e.do("POST", "/api/v1/jobs/"+id+"/cancel", ada.access, "")
	if c.status != 200 || c.object(t)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", c.status, c.raw)
	}
	if got := e.waitJob(t, ada.access, id); got["status"] != "cancelled" {
		t.Errorf("after cancel: %v", got)
	}
}

// TestIngestRetriesATransientFailure: a site that answers 503 twice and
// then the page makes a job that succeeds on its third attempt.
func TestIngestRetriesATransientFailure(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	ada := e.signUp("ada@example.com")
	var hits int
	var mu sync.Mutex
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		n := hits
		mu.Unlock()
		if n <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("Field notes\n\nThe heron waited in the shallows for a long time before it struck at a passing fish."))
	}))
	defer site.Close()
	r := e.do("POST", "/api/v1/content/ingest", ada.access, `{"url":"`+site.URL+`/notes.txt"}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", r.status, r.raw)
	}
	job := e.waitJob(t, ada.access, r.object(t)["id"].(string))
	if job["status"] != "succeeded" || job["attempt"] != json.Number("3") {
		t.Fatalf("job: status %v attempt %v error %v", job["status"], job["attempt"], job["error"])
	}
}

func TestScriptGenerationJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		ada, bob := e.signUp("ada@example.com"), e.signUp("bob@example.com")
		const key = "sk-script-0123456789abcdefgh"
		e.secrets = append(e.secrets, key)
		e.create(ada.access, "/api/v1/api-keys", `{"provider":"openai","encrypted_key":"`+key+`"}`)
		content := e.create(ada.access, "/api/v1/content", `{"title":"Tides","markdown":"The tide comes in twice a day, pulled by the moon. Spring tides come at new and full moon, when the sun and moon line up. Neap tides come in between, when they pull at right angles. The Bay of Fundy has the highest tides on Earth, over sixteen metres.","provider":"manual"}`)

		for _, tc := range []struct{ name, payload string }{
			{"offline", `{"content_id":"` + content["id"].(string) + `","target_minutes":1,"speakers":[{"name":"Ada"},{"name":"Bob","persona":"a sailor"}]}`},
			{"openai", `{"content_id":"` + content["id"].(string) + `","provider":"openai","model":"gpt-4o-mini","target_minutes":3,"language":"fr"}`},
		} {
			r := e.do("POST", "/api/v1/jobs", ada.access, `{"job_type":"script_generation","payload":`+tc.payload+`}`)
			if r.status != http.StatusAccepted {
				t.Fatalf("%s: enqueue: %d %s", tc.name, r.status, r.raw)
			}
			job := e.waitJob(t, ada.access, r.object(t)["id"].(string))
			if job["status"] != "succeeded" {
				t.Fatalf("%s: job %v", tc.name, job)
			}
			scriptID := job["result"].(map[string]any)["script_id"].(string)
			script := e.do("GET", "/api/v1/scripts/"+scriptID, ada.access, "").object(t)
			if script["source_content_id"] != content["id"] || len(script["segments"].([]any)) == 0 {
				t.Errorf("%s: script %v", tc.name, script)
			}
			for _, seg := range script["segments"].([]any) {
				s := seg.(map[string]any)
				if s["content"] == "" || (tc.name == "offline" && s["speaker"] != "Ada" && s["speaker"] != "Bob") {
					t.Errorf("%s: segment %v", tc.name, s)
				}
			}
			if r := e.do("GET", "/api/v1/scripts/"+scriptID, bob.access, ""); r.status != http.StatusNotFound {
				t.Errorf("%s: another user read the script: %d", tc.name, r.status)
			}
		}
		if reqs := e.model.Requests(); len(reqs) == 0 || reqs[0].APIKey != key || !strings.Contains(reqs[0].System, "French") {
			t.Errorf("model requests: %d", len(reqs))
		}
		var usage struct {
			Totals []map[string]any `json:"totals"`
		}
		e.clock.Advance(time.Second) // usage runs up to now, exclusive
		decode(t, e.do("GET", "/api/v1/usage?group_by=provider", ada.access, ""), &usage)
		if len(usage.Totals) != 1 || usage.Totals[0]["key"] != "openai" || usage.Totals[0]["events"] != float64(len(e.model.Requests())) || usage.Totals[0]["cost_usd"].(float64) <= 0 {
			t.Errorf("usage %v after %d model calls", usage.Totals, len(e.model.Requests()))
		}
		// Without a key the job fails at once, saying which key to add.
		r := e.do("POST", "/api/v1/jobs", bob.access, `{"job_type":"script_generation","payload":{"topic":"tides","provider":"openai"}}`)
		job := e.waitJob(t, bob.access, r.object(t)["id"].(string))
		if job["status"] != "failed" || !strings.Contains(job["error"].(string), "no openai API key") || job["attempt"] != json.Number("1") {
			t.Errorf("job without a key: %v", job)
		}
		// All of it is counted for Prometheus.
		metrics := string(e.do("GET", "/metrics", "", "").raw)
		for _, want := range []string{
			`echogen_http_requests_total{method="POST",route="/api/v1/jobs",status="202"} 3`,
			`echogen_job_attempts_total{job_type="script_generation",outcome="succeeded"} 2`,
			`echogen_job_attempts_total{job_type="script_generation",outcome="failed"} 1`,
			fmt.Sprintf(`echogen_provider_calls_total{outcome="ok",provider="openai"} %d`, len(e.model.Requests())),
			`echogen_event_streams_open 0`,
			`echogen_http_request_duration_seconds_bucket{method="GET",route="/api/v1/scripts/{script_id}",le="+Inf"}`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		e.checkLogs()
	})
}

// TestPodcastFromURLOffline makes a podcast from a web page with the
// offline engines only: extractive writer, espeak-ng, the cover painter.
func TestPodcastFromURLOffline(t *testing.T) {
	testenv.RequireTool(t, "espeak-ng", "apt-get install espeak-ng")
	testenv.RequireTool(t, "ffmpeg", "apt-get install ffmpeg")
	e := newTestEnv(t, storeSQLite)
	ada, bob := e.signUp("ada@example.com"), e.signUp("bob@example.com")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><head><title>The Tides</title></head><body><article><h1>The Tides</h1>
<p>The tide comes in twice a day, pulled by the moon and, less strongly, by the sun.</p>
<p>Spring tides come at new and full moon, when the sun and the moon line up and their pulls add together.</p>
<p>Neap tides come in between, when the two pull at right angles and partly cancel each other out.</p>
<p>The Bay of Fundy in Canada has the highest tides on Earth, rising more than sixteen metres.</p>
<p>Tidal power stations turn this daily rise and fall into electricity without burning anything.</p></article></body></html>`)
	}))
	t.Cleanup(site.Close)

	payload := `{"url":"` + site.URL + `/tides","target_minutes":1,"speakers":["Ada","Bob"],"gap_ms":250}`
	var est map[string]any
	decode(t, e.do("POST", "/api/v1/estimates", ada.access, payload), &est)
	if est["total_cost_usd"] != float64(0) || est["within_budget"] != true || est["words"] != float64(150) {
		t.Errorf("estimate %v", est)
	}
	for _, bad := range []string{`{"url":"` + site.URL + `","target_minutes":99}`, `{"topic":"tides","voices":{"Alex":{"provider":"elevenlabs"}}}`} {
		if r := e.do("POST", "/api/v1/estimates", ada.access, bad); r.status != http.StatusUnprocessableEntity {
			t.Errorf("estimate of %s: %d %s", bad, r.status, r.raw)
		}
	}
	decode(t, e.do("POST", "/api/v1/estimates", ada.access, `{"text":"The tide comes in.","provider":"openai","model":"gpt-4o-mini","target_minutes":10}`), &est)
	if items := est["items"].([]any); est["total_cost_usd"].(float64) <= 0 || len(items) != 3 || items[0].(map[string]any)["input_tokens"].(float64) <= 0 {
		t.Errorf("paid estimate %v", est)
	}
	r := e.do("POST", "/api/v1/jobs", ada.access, `{"job_type":"podcast_generation","payload":`+payload+`}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("enqueue: %d %s", r.status, r.raw)
	}
	job := e.waitJob(t, ada.access, r.object(t)["id"].(string))
	if job["status"] != "succeeded" {
		t.Fatalf("job %v", job)
	}
	result := job["result"].(map[string]any)
	for _, k := range []string{"content_id", "script_id", "podcast_id", "audio_storage_path", "cover_art_storage_path"} {
		if s, _ := result[k].(string); s == "" {
			t.Errorf("result lacks %s: %v", k, result)
		}
	}
	id := result["podcast_id"].(string)
	pod := e.do("GET", "/api/v1/podcasts/"+id+"/with-script", ada.access, "").object(t)
	if pod["cover_art_url"] == nil || pod["duration_seconds"] == nil || pod["metadata"].(map[string]any)["format"] != "mp3" {
		t.Errorf("podcast %v", pod)
	}
	for _, seg := range pod["script"].(map[string]any)["segments"].([]any) {
		if s := seg.(map[string]any); s["start_time"] == nil || (s["speaker"] != "Ada" && s["speaker"] != "Bob") {
			t.Errorf("segment %v", s)
		}
	}
	for path, wantType := range map[string]string{"/audio": "audio/mpeg", "/cover": "image/png", "/transcript?format=vtt": "text/vtt"} {
		res, err := e.srv.Client().Do(mustRequest(t, "GET", e.srv.URL+"/api/v1/podcasts/"+id+path, ada.access))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), wantType) || len(body) == 0 {
			t.Errorf("GET %s (followed): %d %s, %d bytes", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
	}
	if r := e.do("GET", "/api/v1/podcasts/"+id+"/transcript", bob.access, ""); r.status != http.StatusNotFound {
		t.Errorf("another user's transcript: %d", r.status)
	}
	// Rerender with a longer gap: every turn comes from the cache.
	r = e.do("POST", "/api/v1/podcasts/"+id+"/rerender", ada.access, `{"gap_ms":600}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("rerender: %d %s", r.status, r.raw)
	}
	if job := e.waitJob(t, ada.access, r.object(t)["id"].(string)); job["status"] != "succeeded" {
		t.Fatalf("rerender job %v", job)
	}
	md := e.do("GET", "/api/v1/podcasts/"+id, ada.access, "").object(t)["metadata"].(map[string]any)
	if md["turns_synthesized"] != json.Number("0") || md["gap_ms"] != json.Number("600") {
		t.Errorf("after rerender: synthesized %v, gap %v", md["turns_synthesized"], md["gap_ms"])
	}
	e.checkLogs()
}

func mustRequest(t *testing.T, method, url, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// ingestURL ingests a page through the API, waits for the job to succeed
// and returns the content it saved.
func (e *testEnv) ingestURL(t *testing.T, token, url string) map[string]any {
	t.Helper()
	r := e.do("POST", "/api/v1/content/ingest", token, `{"url":"`+url+`"}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", r.status, r.raw)
	}
	job := e.waitJob(t, token, r.object(t)["id"].(string))
	if job["status"] != "succeeded" {
		t.Fatalf("ingest job: %v", job)
	}
	return e.do("GET", "/api/v1/content/"+job["result"].(map[string]any)["content_id"].(string), token, "").object(t)
}

// TestIngestStoresOnlyStorableText: a page carrying NUL characters and
// invalid UTF-8 (which PostgreSQL's text refuses) is saved cleaned, on
// every store, rather than failing the job.
func TestIngestStoresOnlyStorableText(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		ada := e.signUp("ada@example.com")
		site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("Tide\x00 tables\xff are printed a year ahead, and harbour masters plan every large ship's arrival around them.\n"))
		}))
		defer site.Close()
		content := e.ingestURL(t, ada.access, site.URL+"/notes.txt")
		md := content["markdown"].(string)
		if !strings.Contains(md, "Tide tables") || strings.ContainsRune(md, 0) {
			t.Errorf("stored markdown %q", md)
		}
	})
}

// TestDrainEndsEventStreams: at shutdown the server ends the progress
// streams of jobs still running, instead of waiting for the jobs.
func TestDrainEndsEventStreams(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	ada := e.signUp("ada@example.com")
	hit := make(chan struct{}, 1)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		<-r.Context().Done() // the page never comes
	}))
	defer site.Close()
	id := e.do("POST", "/api/v1/content/ingest", ada.access, `{"url":"`+site.URL+`/slow"}`).object(t)["id"].(string)
	select {
	case <-hit:
	case <-time.After(30 * time.Second):
		t.Fatal("the job never started")
	}
	streamed := make(chan []sseEvent, 1)
	go func() { streamed <- e.readEvents(t, ada.access, id, "") }()
	e.api.Drain()
	select {
	case events := <-streamed:
		if len(events) == 0 || events[len(events)-1].data["status"] != "running" {
			t.Errorf("events before the drain: %v", events)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stream outlived the drain")
	}
	if r := e.do("POST", "/api/v1/jobs/"+id+"/cancel", ada.access, ""); r.status != 200 {
		t.Errorf("cancel: %d %s", r.status, r.raw)
	}
}
