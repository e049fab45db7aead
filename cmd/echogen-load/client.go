package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Routes, named by the API's route templates.
const (
	routeSignUp        = "POST /api/v1/auth/signup"
	routeSignIn        = "POST /api/v1/auth/signin"
	routeMe            = "GET /api/v1/auth/me"
	routeUpload        = "POST /api/v1/uploads"
	routeCreateScript  = "POST /api/v1/scripts"
	routeListScripts   = "GET /api/v1/scripts"
	routeGetScript     = "GET /api/v1/scripts/{script_id}"
	routeCreatePodcast = "POST /api/v1/podcasts"
	routeListPodcasts  = "GET /api/v1/podcasts"
	routeGetPodcast    = "GET /api/v1/podcasts/{podcast_id}"
	routeCreateContent = "POST /api/v1/content"
	routeListContent   = "GET /api/v1/content"
	routeGetContent    = "GET /api/v1/content/{content_id}"
	routeEnqueueJob    = "POST /api/v1/jobs"
	routeListJobs      = "GET /api/v1/jobs"
	routeGetJob        = "GET /api/v1/jobs/{job_id}"
	routeMediaRange    = "GET {audio_url} with Range"
	routeMedia         = "GET {audio_url}"
)

// audioSize is the size of the file each client uploads and reads back.
const audioSize = 64 << 10

// Job polling backs off from the first to the last interval.
const (
	firstPoll = 50 * time.Millisecond
	lastPoll  = time.Second
)

// phase is one part of a run as a client sees it.
type phase struct {
	ctx    context.Context // requests run in it: it ends on Ctrl-C, aborting them
	stop   context.Context // once it is done, no request starts
	budget *budget         // bounds the phase's requests; nil: unbounded
	rec    *recorder       // this client's record of the phase
}

// budget bounds a phase's requests: once max are taken it calls stop.
type budget struct {
	max  int64
	used atomic.Int64
	stop func()
}

func (b *budget) take() bool {
	if b == nil || b.max <= 0 {
		return true
	}
	if b.used.Add(1) > b.max {
		b.stop()
		return false
	}
	return true
}

// errStopped: the phase is over (or interrupted) and the request was not
// sent, or was aborted; nothing is recorded.
var errStopped = errors.New("stopped")

// errRecorded: the request went wrong and that is already recorded.
var errRecorded = errors.New("recorded")

// client is one simulated user with an account of its own.
type client struct {
	n        int
	hc       *http.Client
	base     string // the API it loads
	verify   string // the API its rows are verified through
	rng      *rand.Rand
	email    string
	password string
	token    string
	mix      []action
	actions  int           // actions started in the load phase
	signups  chan struct{} // a slot each sign-up in flight holds; nil: no bound

	audio     []byte // the uploaded file
	audioPath string
	scriptID  string
	podcastID string
	audioURL  string
	ready     bool // signed up, uploaded and recorded its podcast

	contents []content // created with POST /content
	jobs     []job     // content_ingest jobs enqueued
	pending  *pendingJob
}

type content struct{ id, title, markdown string }

// job is a job the client enqueued.
type job struct {
	id, title string
	enqueued  time.Time     // when the enqueue was answered
	took      time.Duration // from enqueued to a poll that saw it succeeded; 0 until then
}

// succeeded notes that a poll saw the job succeeded.
func (j *job) succeeded() {
	if j.took == 0 {
		j.took = time.Since(j.enqueued)
	}
}

// pendingJob is the job the client is polling during the load phase.
type pendingJob struct {
	i    int // in jobs
	next time.Time
	wait time.Duration
}

func newClient(n int, run, password string, seed uint64, hc *http.Client, base, verify string) *client {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	// A header the server takes for MP3, then bytes that differ everywhere,
	// so a range answered from the wrong offset cannot match.
	audio := make([]byte, audioSize)
	copy(audio, "ID3\x04\x00\x00\x00\x00\x00\x00")
	for i := 10; i < len(audio); i++ {
		audio[i] = byte(rng.Uint32())
	}
	return &client{
		n: n, hc: hc, base: base, verify: verify, rng: rng,
		email:    fmt.Sprintf("load-%s-%d@example.com", run, n),
		password: password,
		mix:      loadMix(),
		audio:    audio,
	}
}

// request is one API call and the status it must answer.
type request struct {
	route       string
	method, url string
	body        []byte
	contentType string
	header      http.Header
	auth        bool // send the client's access token (never to a signed URL)
	want        int
}

// do sends r and records how it went. Any answer but r.want is recorded
// (a 429 as rate limited, anything else as a failure) and returned as
// errRecorded.
func (c *client) do(p *phase, r request) ([]byte, http.Header, error) {
	if p.stop.Err() != nil || !p.budget.take() {
		return nil, nil, errStopped
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(p.ctx, r.method, r.url, body)
	if err != nil {
		p.rec.fail("%s: %v", r.route, err)
		return nil, nil, errRecorded
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	t0 := time.Now()
	res, err := c.hc.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			p.rec.answered(r.route, res.StatusCode, time.Since(t0))
			switch {
			case res.StatusCode == r.want:
				return b, res.Header, nil
			case res.StatusCode == http.StatusTooManyRequests:
				// Counted (and reported) as rate limited, not as a failure.
			default:
				p.rec.fail("%s on %s: %s (want %d), request id %s: %.300s",
					r.route, req.URL.Host, res.Status, r.want, res.Header.Get("X-Request-ID"), b)
			}
			return nil, nil, errRecorded
		}
	}
	if p.ctx.Err() != nil {
		return nil, nil, errStopped // interrupted: not the server's doing
	}
	p.rec.transportError(r.route, err)
	return nil, nil, errRecorded
}

// call sends r and decodes its JSON answer into out.
func (c *client) call(p *phase, r request, out any) error {
	body, _, err := c.do(p, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		p.rec.fail("%s: undecodable answer: %v: %.300s", r.route, err, body)
		return errRecorded
	}
	return nil
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the bodies are maps of plain values
	}
	return b
}

// get is an API read that must answer 200.
func get(route, url string) request {
	return request{route: route, method: http.MethodGet, url: url, auth: true, want: http.StatusOK}
}

// post is an API write to the client's target.
func (c *client) post(route, path string, body any, want int) request {
	return request{route: route, method: http.MethodPost, url: c.base + path, body: jsonBody(body), contentType: "application/json", auth: true, want: want}
}

// authAnswer is the part of a sign-up or sign-in answer the client uses.
type authAnswer struct {
	Session struct {
		AccessToken string `json:"access_token"`
	} `json:"session"`
}

type idAnswer struct {
	ID string `json:"id"`
}

type podcastAnswer struct {
	ID       string `json:"id"`
	AudioURL string `json:"audio_url"`
}

type contentAnswer struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Markdown string `json:"markdown"`
}

type jobAnswer struct {
	ID     string         `json:"id"`
	Status string         `json:"status"`
	Result map[string]any `json:"result"`
	Error  *string        `json:"error"`
}

// setup signs the client up, uploads its audio file, and records a
// script and a podcast for it, whose signed audio URL the load phase reads.
func (c *client) setup(p *phase) {
	if c.signups != nil {
		select {
		case c.signups <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
	}
	var auth authAnswer
	err := c.call(p, c.post(routeSignUp, "/api/v1/auth/signup", map[string]string{
		"method": "email", "email": c.email, "password": c.password, "fullName": fmt.Sprintf("Load client %d", c.n),
	}, http.StatusCreated), &auth)
	if c.signups != nil {
		<-c.signups
	}
	if err != nil {
		return
	}
	if c.token = auth.Session.AccessToken; c.token == "" {
		p.rec.fail("%s: no access token in the answer", routeSignUp)
		return
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", "audio")
	part, _ := mw.CreateFormFile("file", "load.mp3")
	_, _ = part.Write(c.audio)
	_ = mw.Close()
	var up struct {
		StoragePath string `json:"storage_path"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
	}
	if c.call(p, request{route: routeUpload, method: http.MethodPost, url: c.base + "/api/v1/uploads",
		body: buf.Bytes(), contentType: mw.FormDataContentType(), auth: true, want: http.StatusCreated}, &up) != nil {
		return
	}
	sum := sha256.Sum256(c.audio)
	if up.Size != int64(len(c.audio)) || up.SHA256 != hex.EncodeToString(sum[:]) {
		p.rec.fail("%s: stored %d bytes with SHA-256 %s, sent %d with %x", routeUpload, up.Size, up.SHA256, len(c.audio), sum)
		return
	}
	c.audioPath = up.StoragePath

	var sc idAnswer
	if c.call(p, c.post(routeCreateScript, "/api/v1/scripts", map[string]any{
		"title": fmt.Sprintf("Load script %d", c.n), "prompt": "load test", "model": "none",
		"segments": []map[string]string{{"speaker": "Alex", "content": "Hello."}, {"speaker": "Sam", "content": "Hi."}},
	}, http.StatusCreated), &sc) != nil {
		return
	}
	c.scriptID = sc.ID

	var pod podcastAnswer
	if c.call(p, c.post(routeCreatePodcast, "/api/v1/podcasts", map[string]any{
		"script_id": c.scriptID, "audio_storage_path": c.audioPath, "duration_seconds": 1,
	}, http.StatusCreated), &pod) != nil {
		return
	}
	c.podcastID, c.audioURL = pod.ID, pod.AudioURL
	c.ready = true
}

// action is one kind of thing a client does in the load phase, with how
// often it does it relative to the others.
type action struct {
	name   string
	weight int
	run    func(c *client, p *phase) error
}

// loadMix is the load phase's mix: mostly reads, as an app's users make,
// some writes, now and then a job and, rarely, a sign-in. A sign-in hashes
// a password, which costs tens of milliseconds of CPU on purpose, and the
// server hashes only a few at once (PASSWORD_HASH_CONCURRENCY): at 1 in
// 100 actions, 200 clients queued up behind the hasher for seconds.
func loadMix() []action {
	return []action{
		{"sign in", 1, (*client).signIn},
		{"read profile", 200, (*client).profile},
		{"list content", 120, (*client).listContent},
		{"list scripts", 60, (*client).listScripts},
		{"list podcasts", 60, (*client).listPodcasts},
		{"create content and read it back", 100, (*client).createContent},
		{"enqueue a job", 25, (*client).enqueueJob},
		{"read the podcast", 40, (*client).readPodcast},
		{"read a range of the audio", 120, (*client).readRange},
	}
}

// load runs the mix until the phase stops. Client n's first action is the
// mix's (n mod len(mix))th, so that with at least as many clients as
// actions every route is exercised however short the run; after that it
// draws at random by weight. A job it enqueued is polled whenever its next
// poll is due.
func (c *client) load(p *phase) {
	if !c.ready {
		return
	}
	total := 0
	for _, a := range c.mix {
		total += a.weight
	}
	for p.stop.Err() == nil {
		if c.pending != nil && !time.Now().Before(c.pending.next) {
			_ = c.pollJob(p)
			continue
		}
		var a action
		if c.actions == 0 {
			a = c.mix[c.n%len(c.mix)]
		} else {
			r := c.rng.IntN(total)
			for _, a = range c.mix {
				if r -= a.weight; r < 0 {
					break
				}
			}
		}
		c.actions++
		_ = a.run(c, p)
	}
}

func (c *client) signIn(p *phase) error {
	var auth authAnswer
	if err := c.call(p, c.post(routeSignIn, "/api/v1/auth/signin", map[string]string{
		"method": "email", "email": c.email, "password": c.password,
	}, http.StatusOK), &auth); err != nil {
		return err
	}
	if auth.Session.AccessToken == "" {
		p.rec.fail("%s: no access token in the answer", routeSignIn)
		return errRecorded
	}
	c.token = auth.Session.AccessToken
	return nil
}

func (c *client) profile(p *phase) error {
	var me struct {
		Email string `json:"email"`
	}
	if err := c.call(p, get(routeMe, c.base+"/api/v1/auth/me"), &me); err != nil {
		return err
	}
	if !strings.EqualFold(me.Email, c.email) {
		p.rec.fail("%s: email %q, want %q", routeMe, me.Email, c.email)
		return errRecorded
	}
	return nil
}

func (c *client) listContent(p *phase) error {
	var list struct {
		Items []contentAnswer `json:"items"`
		Total int             `json:"total"`
	}
	if err := c.call(p, get(routeListContent, c.base+"/api/v1/content?limit=20&offset=0"), &list); err != nil {
		return err
	}
	// Ingested content counts too, so the total may be higher.
	if list.Total < len(c.contents) || len(list.Items) != min(list.Total, 20) {
		p.rec.fail("%s: %d items of %d, after creating %d", routeListContent, len(list.Items), list.Total, len(c.contents))
		return errRecorded
	}
	return nil
}

func (c *client) listScripts(p *phase) error {
	var list []idAnswer
	if err := c.call(p, get(routeListScripts, c.base+"/api/v1/scripts?limit=20&offset=0"), &list); err != nil {
		return err
	}
	if len(list) != 1 || list[0].ID != c.scriptID {
		p.rec.fail("%s: %d scripts, want only %s", routeListScripts, len(list), c.scriptID)
		return errRecorded
	}
	return nil
}

func (c *client) listPodcasts(p *phase) error {
	var list []podcastAnswer
	if err := c.call(p, get(routeListPodcasts, c.base+"/api/v1/podcasts?limit=20&offset=0"), &list); err != nil {
		return err
	}
	if len(list) != 1 || list[0].ID != c.podcastID {
		p.rec.fail("%s: %d podcasts, want only %s", routeListPodcasts, len(list), c.podcastID)
		return errRecorded
	}
	return nil
}

func (c *client) createContent(p *phase) error {
	k := len(c.contents) + 1
	want := content{
		title:    fmt.Sprintf("Load %d note %d", c.n, k),
		markdown: fmt.Sprintf("# Note %d\n\nClient %d wrote this at %s; random %d.\n", k, c.n, time.Now().UTC().Format(time.RFC3339Nano), c.rng.Int64()),
	}
	var created contentAnswer
	if err := c.call(p, c.post(routeCreateContent, "/api/v1/content", map[string]any{
		"title": want.title, "markdown": want.markdown, "provider": "load",
	}, http.StatusCreated), &created); err != nil {
		return err
	}
	want.id = created.ID
	c.contents = append(c.contents, want)
	return c.readContent(p, c.base, want)
}

// readContent reads one content item and checks it is what was written.
func (c *client) readContent(p *phase, base string, want content) error {
	var got contentAnswer
	if err := c.call(p, get(routeGetContent, base+"/api/v1/content/"+want.id), &got); err != nil {
		return err
	}
	if got.ID != want.id || got.Title != want.title || (want.markdown != "" && got.Markdown != want.markdown) {
		p.rec.fail("%s: %s read back as id %q title %q, want title %q", routeGetContent, want.id, got.ID, got.Title, want.title)
		return errRecorded
	}
	return nil
}

// enqueueJob starts a content_ingest job of a short pasted text: the
// cheapest job there is (no network, no model, no audio), which still goes
// through the queue, a worker, extraction and a content row. A client
// polls one job at a time; with one pending, the action polls it.
func (c *client) enqueueJob(p *phase) error {
	if c.pending != nil {
		return c.pollJob(p)
	}
	title := fmt.Sprintf("Load %d ingest %d", c.n, len(c.jobs)+1)
	var j jobAnswer
	if err := c.call(p, c.post(routeEnqueueJob, "/api/v1/jobs", map[string]any{
		"job_type": "content_ingest",
		"payload": map[string]string{"title": title, "text": fmt.Sprintf(
			"Load client %d pasted this text. It has a few sentences, so that extraction has something to keep. Random %d.", c.n, c.rng.Int64())},
	}, http.StatusAccepted), &j); err != nil {
		return err
	}
	c.jobs = append(c.jobs, job{id: j.ID, title: title, enqueued: time.Now()})
	c.pending = &pendingJob{i: len(c.jobs) - 1, wait: firstPoll}
	return c.pollJob(p)
}

// pollJob reads the pending job once; while it is not finished, the next
// poll is scheduled a little later than the last.
func (c *client) pollJob(p *phase) error {
	pj := c.pending
	var j jobAnswer
	if err := c.call(p, get(routeGetJob, c.base+"/api/v1/jobs/"+c.jobs[pj.i].id), &j); err != nil {
		pj.next = time.Now().Add(pj.wait)
		return err
	}
	switch j.Status {
	case "queued", "running":
		pj.next = time.Now().Add(pj.wait)
		pj.wait = min(2*pj.wait, lastPoll)
		return nil
	case "succeeded":
		c.jobs[pj.i].succeeded()
		c.pending = nil
		return nil
	}
	c.pending = nil
	p.rec.fail("%s: job %s %s: %s", routeGetJob, j.ID, j.Status, deref(j.Error))
	return errRecorded
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (c *client) readPodcast(p *phase) error {
	var pod podcastAnswer
	if err := c.call(p, get(routeGetPodcast, c.base+"/api/v1/podcasts/"+c.podcastID), &pod); err != nil {
		return err
	}
	if pod.ID != c.podcastID || pod.AudioURL == "" {
		p.rec.fail("%s: id %q audio_url %q, want %s", routeGetPodcast, pod.ID, pod.AudioURL, c.podcastID)
		return errRecorded
	}
	c.audioURL = pod.AudioURL // freshly signed
	return nil
}

// readRange reads a random range of the uploaded file through its signed
// URL, as a player seeking does, and checks the bytes.
func (c *client) readRange(p *phase) error {
	first := c.rng.IntN(len(c.audio))
	last := min(first+c.rng.IntN(8<<10), len(c.audio)-1)
	r := request{route: routeMediaRange, method: http.MethodGet, url: c.audioURL, want: http.StatusPartialContent,
		header: http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", first, last)}}}
	body, h, err := c.do(p, r)
	if err != nil {
		return err
	}
	wantRange := fmt.Sprintf("bytes %d-%d/%d", first, last, len(c.audio))
	if got := h.Get("Content-Range"); got != wantRange || !bytes.Equal(body, c.audio[first:last+1]) {
		p.rec.fail("%s: Content-Range %q and %d bytes, want %q and the uploaded bytes", routeMediaRange, got, len(body), wantRange)
		return errRecorded
	}
	return nil
}

// verifyRows checks, through the client's verify target, that every row it
// made is there for it: its jobs finished and succeeded, within jobsBy;
// every content item (made directly or by a job) reads back as written and
// is listed; its script, podcast and audio are intact.
func (c *client) verifyRows(p *phase, jobsBy context.Context) {
	if c.token == "" {
		return // never signed up: nothing to verify, and the failure is recorded
	}
	want := append([]content(nil), c.contents...)
	for i := range c.jobs {
		j := &c.jobs[i]
		got, ok := c.waitForJob(p, jobsBy, j.id)
		if !ok {
			continue
		}
		j.succeeded()
		p.rec.check("jobs")
		id, _ := got.Result["content_id"].(string)
		if id == "" {
			p.rec.fail("verify: job %s succeeded without a content_id: %v", j.id, got.Result)
			continue
		}
		want = append(want, content{id: id, title: j.title})
	}
	for _, w := range want {
		if c.readContent(p, c.verify, w) == nil {
			p.rec.check("content")
		}
	}
	listed := map[string]bool{}
	total := 0
	for offset := 0; ; offset += 100 {
		var page struct {
			Items []idAnswer `json:"items"`
			Total int        `json:"total"`
		}
		if c.call(p, get(routeListContent, c.verify+"/api/v1/content?limit=100&offset="+strconv.Itoa(offset)), &page) != nil {
			return
		}
		for _, it := range page.Items {
			listed[it.ID] = true
		}
		total = page.Total
		if len(page.Items) < 100 {
			break
		}
	}
	if total != len(listed) || total != len(want) {
		p.rec.fail("verify: %s: total %d, %d distinct items listed, %d made", c.email, total, len(listed), len(want))
	}
	for _, w := range want {
		if !listed[w.id] {
			p.rec.fail("verify: content %s (%q) is not in the list", w.id, w.title)
		}
	}
	jobIDs := make([]string, len(c.jobs))
	for i, j := range c.jobs {
		jobIDs[i] = j.id
	}
	c.verifyListed(p, routeListJobs, "/api/v1/jobs", jobIDs)
	if !c.ready {
		return
	}
	var sc idAnswer
	if c.call(p, get(routeGetScript, c.verify+"/api/v1/scripts/"+c.scriptID), &sc) == nil && sc.ID == c.scriptID {
		p.rec.check("scripts")
	}
	c.verifyListed(p, routeListScripts, "/api/v1/scripts", []string{c.scriptID})
	var pod podcastAnswer
	if c.call(p, get(routeGetPodcast, c.verify+"/api/v1/podcasts/"+c.podcastID), &pod) != nil {
		return
	}
	p.rec.check("podcasts")
	c.verifyListed(p, routeListPodcasts, "/api/v1/podcasts", []string{c.podcastID})
	body, _, err := c.do(p, request{route: routeMedia, method: http.MethodGet, url: pod.AudioURL, want: http.StatusOK})
	if err != nil {
		return
	}
	if !bytes.Equal(body, c.audio) {
		p.rec.fail("verify: %s: %d bytes that differ from the %d uploaded", routeMedia, len(body), len(c.audio))
		return
	}
	p.rec.check("audio files")
}

// verifyListed pages through a list answered as a bare array and checks
// that it holds exactly the rows ids.
func (c *client) verifyListed(p *phase, route, path string, ids []string) {
	listed := map[string]bool{}
	for offset := 0; ; offset += 100 {
		var page []idAnswer
		if c.call(p, get(route, c.verify+path+"?limit=100&offset="+strconv.Itoa(offset)), &page) != nil {
			return
		}
		for _, it := range page {
			listed[it.ID] = true
		}
		if len(page) < 100 {
			break
		}
	}
	if len(listed) != len(ids) {
		p.rec.fail("verify: %s: %d rows listed, %d made", route, len(listed), len(ids))
	}
	for _, id := range ids {
		if !listed[id] {
			p.rec.fail("verify: %s: %s is not in the list", route, id)
		}
	}
}

// waitForJob polls a job until it finishes or by is done, and reports
// whether it succeeded.
func (c *client) waitForJob(p *phase, by context.Context, id string) (jobAnswer, bool) {
	wait := firstPoll
	for {
		var j jobAnswer
		if c.call(p, get(routeGetJob, c.verify+"/api/v1/jobs/"+id), &j) != nil {
			return j, false
		}
		switch j.Status {
		case "succeeded":
			return j, true
		case "queued", "running":
		default:
			p.rec.fail("verify: job %s %s: %s", id, j.Status, deref(j.Error))
			return j, false
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-by.Done():
			t.Stop()
			if p.ctx.Err() == nil {
				p.rec.fail("verify: job %s still %s when the wait for jobs ended", id, j.Status)
			}
			return j, false
		}
		wait = min(2*wait, lastPoll)
	}
}
