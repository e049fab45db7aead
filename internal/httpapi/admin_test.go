package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"
)

const (
	acceptHTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	acceptJSON = "application/json"
)

func withAdmins(emails ...string) func(*envOptions) {
	return func(o *envOptions) { o.adminEmails = emails }
}

// browse sends a request the way a browser or a script would to the admin
// pages: no redirect followed, the given Accept header, and the admin
// cookie or a bearer token when given.
type browse struct {
	method, path string
	accept       string
	token        string      // bearer
	cookie       string      // echogen_admin value
	form         url.Values  // POSTed as a form when set
	header       http.Header // extra headers
}

func (e *testEnv) browse(b browse) response {
	e.t.Helper()
	var body io.Reader
	if b.form != nil {
		body = strings.NewReader(b.form.Encode())
	}
	req, err := http.NewRequest(b.method, e.srv.URL+b.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if b.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.accept != "" {
		req.Header.Set("Accept", b.accept)
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "echogen_admin", Value: b.cookie})
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, raw: raw}
}

// adminCookie returns the echogen_admin cookie a response set, or nil.
func adminCookie(r response) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "echogen_admin" {
			return c
		}
	}
	return nil
}

// errorCode is the code of an error answer in the API's shape.
func errorCode(t *testing.T, r response) string {
	t.Helper()
	var body struct {
		Detail    any    `json:"detail"`
		Code      string `json:"code"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(r.raw, &body); err != nil || body.Detail == nil || body.RequestID == "" {
		t.Fatalf("not an API error (%v): %s", err, r.raw)
	}
	return body.Code
}

var assetRef = regexp.MustCompile(`src="(/admin/jobs/assets/[^"]+\.js)"`)

// TestAdminDashboard opens River's UI at /admin/jobs: who may, and what an
// administrator sees there, on every store and both account backends.
func TestAdminDashboard(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(configure ...func(*envOptions)) *testEnv) {
		e := newEnv(withAdmins(" Boss@Example.com "))
		boss, user := e.signUp("boss@example.com"), e.signUp("user@example.com")
		e.confirmEmail(boss)
		e.confirmEmail(user)

		// A job enqueued through the API, finished before the dashboard
		// looks: River says so once the queue entry is marked completed.
		completed, stop := e.queue.Subscribe(river.EventKindJobCompleted)
		defer stop()
		r := e.do("POST", "/api/v1/jobs", user.access, `{"job_type":"content_ingest","payload":{"text":"# Notes\n\nThe tide comes in twice a day.","title":"Tides"}}`)
		if r.status != http.StatusAccepted {
			t.Fatalf("enqueue: %d %s", r.status, r.raw)
		}
		jobID := r.object(t)["id"].(string)
		var queued queuedJob
		for queued.id == 0 {
			select {
			case ev := <-completed:
				if queueEntryOf(t, ev.Job.EncodedArgs) == jobID {
					queued = queuedJob{id: ev.Job.ID, apiID: jobID}
				}
			case <-t.Context().Done():
				t.Fatal("the job did not complete")
			}
		}

		refused := []struct {
			name         string
			req          browse
			wantStatus   int
			wantCode     string // API error code, for non-redirects
			wantLocation string
		}{
			{"anonymous script", browse{path: "/admin/jobs/api/jobs", accept: acceptJSON}, 401, "missing_token", ""},
			{"anonymous without Accept", browse{path: "/admin/jobs/"}, 401, "missing_token", ""},
			{"anonymous browser", browse{path: "/admin/jobs/", accept: acceptHTML}, 303, "", "/admin/login"},
			{"anonymous browser, no slash", browse{path: "/admin/jobs", accept: acceptHTML}, 303, "", "/admin/login"},
			{"anonymous POST", browse{method: "POST", path: "/admin/jobs/api/jobs/cancel", accept: acceptHTML}, 401, "missing_token", ""},
			{"bad bearer token", browse{path: "/admin/jobs/api/jobs", accept: acceptJSON, token: "not-a-token"}, 401, "invalid_token", ""},
			{"bad cookie, script", browse{path: "/admin/jobs/api/jobs", accept: acceptJSON, cookie: "not-a-token"}, 401, "invalid_token", ""},
			{"bad cookie, browser", browse{path: "/admin/jobs/", accept: acceptHTML, cookie: "not-a-token"}, 303, "", "/admin/login"},
			{"not an administrator", browse{path: "/admin/jobs/api/jobs", accept: acceptJSON, token: user.access}, 403, "not_admin", ""},
			{"not an administrator, browser", browse{path: "/admin/jobs/", accept: acceptHTML, token: user.access}, 403, "not_admin", ""},
			{"not an administrator, cookie", browse{path: "/admin/jobs/", accept: acceptHTML, cookie: user.access}, 403, "not_admin", ""},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				tt.req.method = cmpOr(tt.req.method, "GET")
				r := e.browse(tt.req)
				if r.status != tt.wantStatus {
					t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.raw)
				}
				if tt.wantLocation != "" {
					if got := r.header.Get("Location"); got != tt.wantLocation {
						t.Errorf("Location %q, want %q", got, tt.wantLocation)
					}
				} else if got := errorCode(t, r); got != tt.wantCode {
					t.Errorf("code %q, want %q", got, tt.wantCode)
				}
				if tt.wantStatus == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if c := adminCookie(r); tt.req.cookie != "" && tt.wantStatus != 403 && (c == nil || c.MaxAge >= 0) {
					t.Errorf("a cookie that failed was not removed: %v", c)
				}
				if r.header.Get("X-Frame-Options") != "DENY" {
					t.Errorf("X-Frame-Options %q", r.header.Get("X-Frame-Options"))
				}
			})
		}

		t.Run("administrator by bearer token", func(t *testing.T) {
			index := e.browse(browse{method: "GET", path: "/admin/jobs/", accept: acceptHTML, token: boss.access})
			checkIndex(t, index)
			asset := assetRef.FindStringSubmatch(string(index.raw))
			if asset == nil {
				t.Fatalf("no script in the index: %s", index.raw)
			}
			if r := e.browse(browse{method: "GET", path: asset[1], token: boss.access}); r.status != 200 || len(r.raw) == 0 {
				t.Errorf("GET %s: %d", asset[1], r.status)
			}
			if r := e.browse(browse{method: "GET", path: asset[1]}); r.status != 401 {
				t.Errorf("anonymous GET %s: %d", asset[1], r.status)
			}
			checkJobListed(t, e, browse{token: boss.access}, queued)
		})

		t.Run("login form and cookie", func(t *testing.T) {
			form := e.browse(browse{method: "GET", path: "/admin/login", accept: acceptHTML})
			if form.status != 200 || !strings.Contains(form.header.Get("Content-Type"), "text/html") ||
				!strings.Contains(string(form.raw), `<form method="post" action="/admin/login">`) {
				t.Fatalf("login form: %d %s", form.status, form.raw)
			}
			if csp := form.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("login form CSP %q", csp)
			}

			failures := []struct {
				name        string
				email, pass string
				wantStatus  int
				wantText    string
			}{
				{"wrong password", boss.email, "wrong-password", 401, `role="alert"`},
				{"unknown account", "nobody@example.com", "whatever-password", 401, `role="alert"`},
				{"not an administrator", user.email, user.password, 403, "not an administrator"},
			}
			for _, f := range failures {
				r := e.browse(browse{method: "POST", path: "/admin/login", accept: acceptHTML, form: url.Values{"email": {f.email}, "password": {f.pass}}})
				if r.status != f.wantStatus || !strings.Contains(string(r.raw), f.wantText) || !strings.Contains(string(r.raw), "<form") {
					t.Errorf("%s: %d %s", f.name, r.status, r.raw)
				}
				if c := adminCookie(r); c != nil {
					t.Errorf("%s: cookie set: %v", f.name, c)
				}
				if !strings.Contains(string(r.raw), `value="`+f.email+`"`) {
					t.Errorf("%s: the form forgot the email", f.name)
				}
			}

			r := e.browse(browse{method: "POST", path: "/admin/login", accept: acceptHTML,
				form: url.Values{"email": {"BOSS@example.com"}, "password": {boss.password}}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/jobs/" {
				t.Fatalf("login: %d %q %s", r.status, r.header.Get("Location"), r.raw)
			}
			c := adminCookie(r)
			if c == nil {
				t.Fatal("login set no cookie")
			}
			got := cookieAttrs{Path: c.Path, HttpOnly: c.HttpOnly, Secure: c.Secure, SameSite: c.SameSite, Lasts: c.MaxAge > 0}
			want := cookieAttrs{Path: "/admin", HttpOnly: true, Secure: false, SameSite: http.SameSiteStrictMode, Lasts: true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cookie (-want +got):\n%s", diff)
			}
			checkIndex(t, e.browse(browse{method: "GET", path: "/admin/jobs/", accept: acceptHTML, cookie: c.Value}))
			checkJobListed(t, e, browse{cookie: c.Value}, queued)

			// Logging out ends that session and removes the cookie.
			out := e.browse(browse{method: "POST", path: "/admin/logout", accept: acceptHTML, cookie: c.Value})
			if out.status != http.StatusSeeOther || out.header.Get("Location") != "/admin/login" {
				t.Fatalf("logout: %d %s", out.status, out.raw)
			}
			if gone := adminCookie(out); gone == nil || gone.MaxAge >= 0 {
				t.Errorf("logout left the cookie: %v", gone)
			}
			if e.gotrue == nil { // built-in sessions end at once; Supabase tokens live until they expire
				if r := e.browse(browse{method: "GET", path: "/admin/jobs/", accept: acceptHTML, cookie: c.Value}); r.status != http.StatusSeeOther {
					t.Errorf("the logged-out cookie still opens the dashboard: %d", r.status)
				}
			}
			for _, tok := range []string{c.Value, boss.access, user.access} {
				if strings.Contains(e.logs.String(), tok) {
					t.Error("an access token reached the log")
				}
			}
			e.checkLogs()
		})
	})
}

type cookieAttrs struct {
	Path     string
	HttpOnly bool
	Secure   bool
	SameSite http.SameSite
	Lasts    bool
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// checkIndex checks that r is River UI's page, set up for /admin/jobs.
func checkIndex(t *testing.T, r response) {
	t.Helper()
	body := string(r.raw)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "<title>River</title>") || !strings.Contains(body, `/admin/jobs/api`) {
		t.Fatalf("dashboard index: %d %s", r.status, body)
	}
	if r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("the dashboard may be framed: X-Frame-Options %q", r.header.Get("X-Frame-Options"))
	}
}

// queueEntryOf returns the API job id in a River queue entry's args.
func queueEntryOf(t *testing.T, args []byte) string {
	t.Helper()
	var a struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		t.Fatalf("queue entry args %s: %v", args, err)
	}
	return a.JobID
}

// queuedJob is an API job's River queue entry.
type queuedJob struct {
	id    int64  // River's
	apiID string // the API's
}

// checkJobListed checks that River UI's JSON API, asked as auth says,
// lists and shows the completed queue entry of an API job, and counts it.
func checkJobListed(t *testing.T, e *testEnv, auth browse, job queuedJob) {
	t.Helper()
	type riverJob struct {
		ID    int64  `json:"id"`
		Args  string `json:"args"`
		Kind  string `json:"kind"`
		State string `json:"state"`
	}
	want := riverJob{ID: job.id, Kind: "echogen_job", State: "completed"}
	check := func(what string, got riverJob) {
		t.Helper()
		if id := queueEntryOf(t, []byte(got.Args)); id != job.apiID {
			t.Errorf("%s: args %s, want job %s", what, got.Args, job.apiID)
		}
		got.Args = ""
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	get := func(path string, v any) {
		t.Helper()
		auth.method, auth.accept, auth.path = "GET", acceptJSON, path
		r := e.browse(auth)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
		}
		if err := json.Unmarshal(r.raw, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, r.raw)
		}
	}

	var list struct {
		Data []riverJob `json:"data"`
	}
	get("/admin/jobs/api/jobs?state=completed&kinds=echogen_job", &list)
	if len(list.Data) != 1 {
		t.Fatalf("completed jobs: %+v, want the API's one", list.Data)
	}
	check("completed jobs", list.Data[0])
	var one riverJob
	get("/admin/jobs/api/jobs/"+strconv.FormatInt(job.id, 10), &one)
	check("the job", one)
	var states struct {
		Completed struct {
			Count int `json:"count"`
		} `json:"completed"`
	}
	get("/admin/jobs/api/states", &states)
	if states.Completed.Count != 1 {
		t.Errorf("completed count %d, want 1", states.Completed.Count)
	}
}

// TestAdminLimits: the dashboard counts against the per-user API rate
// limit, and the login form against the sign-in limits.
func TestAdminLimits(t *testing.T) {
	e := newTestEnv(t, storeSQLite, withAdmins("boss@example.com"), func(o *envOptions) {
		o.opts.APIRateLimitPerMinute = 3
		o.opts.AuthAccountRateLimitPerMinute = 2
	})
	boss := e.signUp("boss@example.com")
	e.confirmEmail(boss)
	var statuses []int
	for range 4 {
		statuses = append(statuses, e.browse(browse{method: "GET", path: "/admin/jobs/api/jobs", accept: acceptJSON, token: boss.access}).status)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 429}, statuses); diff != "" {
		t.Errorf("dashboard statuses (-want +got):\n%s", diff)
	}

	statuses = nil
	var last response
	for range 3 {
		last = e.browse(browse{method: "POST", path: "/admin/login", accept: acceptHTML, form: url.Values{"email": {boss.email}, "password": {"wrong-password"}}})
		statuses = append(statuses, last.status)
	}
	// The form shares the API's sign-in limit per account.
	if diff := cmp.Diff([]int{401, 401, 429}, statuses); diff != "" {
		t.Errorf("login statuses (-want +got):\n%s", diff)
	}
	if last.header.Get("Retry-After") == "" || !strings.Contains(string(last.raw), "<form") {
		t.Errorf("limited login: %v %s", last.header, last.raw)
	}
}

// TestAdminCookieBehindTLS: the cookie is Secure when the request came
// over TLS, here as a trusted proxy says.
func TestAdminCookieBehindTLS(t *testing.T) {
	e := newTestEnv(t, storeSQLite, withAdmins("boss@example.com"), func(o *envOptions) { o.opts.TrustProxyHeaders = true })
	boss := e.signUp("boss@example.com")
	e.confirmEmail(boss)
	r := e.browse(browse{method: "POST", path: "/admin/login", accept: acceptHTML,
		form:   url.Values{"email": {boss.email}, "password": {boss.password}},
		header: http.Header{"X-Forwarded-Proto": {"https"}}})
	if c := adminCookie(r); r.status != http.StatusSeeOther || c == nil || !c.Secure {
		t.Errorf("login over TLS: %d, cookie %v", r.status, c)
	}
}

// TestAdminOff: without a dashboard there are no admin pages.
func TestAdminOff(t *testing.T) {
	e := newTestEnv(t, storeSQLite)
	for _, path := range []string{"/admin/jobs/", "/admin/login"} {
		if r := e.browse(browse{method: "GET", path: path, accept: acceptHTML}); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
}

// TestAdminNeedsAConfirmedAddress: listing an address in ADMIN_EMAILS does
// not hand the dashboard to whoever signs up with it first.
func TestAdminNeedsAConfirmedAddress(t *testing.T) {
	e := newTestEnv(t, storeSQLite, withAdmins("boss@example.com"))
	squatter := e.signUp("boss@example.com")
	r := e.browse(browse{method: "GET", path: "/admin/jobs/api/jobs", accept: acceptJSON, token: squatter.access})
	if r.status != http.StatusForbidden || errorCode(t, r) != "admin_email_not_confirmed" {
		t.Errorf("unconfirmed admin address: %d %s", r.status, r.raw)
	}
	r = e.browse(browse{method: "POST", path: "/admin/login", accept: acceptHTML,
		form: url.Values{"email": {squatter.email}, "password": {squatter.password}}})
	if r.status != http.StatusForbidden || adminCookie(r) != nil {
		t.Errorf("login with an unconfirmed admin address: %d, cookie %v", r.status, adminCookie(r))
	}
	e.confirmEmail(squatter)
	if r := e.browse(browse{method: "GET", path: "/admin/jobs/api/jobs", accept: acceptJSON, token: squatter.access}); r.status != http.StatusOK {
		t.Errorf("once confirmed: %d %s", r.status, r.raw)
	}
}
