package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// TestHostileInput sends malformed and hostile input to every operation
// the server's own OpenAPI document lists (so a new endpoint is covered the
// day it is added) and to the routes mounted beside huma. Input the schema
// forbids must get a 4xx in the API's error shape; input that is odd but
// may be allowed (a huge float, a 100k-character string, a NUL) may
// succeed, but never with a 5xx. Another user's ids are never found, their
// objects are unchanged afterwards, and nothing panics or logs an internal
// error.
func TestHostileInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		mallory, bob := e.signUp("mallory@example.com"), e.signUp("bob@example.com")
		own, foreign := e.hostileIDs(t, mallory), e.hostileIDs(t, bob)
		before := e.snapshot(t, bob, foreign)

		spec := e.openAPI(t)
		ops := spec.operations()
		if len(ops) < 40 {
			t.Fatalf("the OpenAPI document lists %d operations, want the whole API", len(ops))
		}
		var cases []hostileCase
		for _, op := range ops {
			cases = append(cases, spec.hostileCases(t, op, mallory.access, own, foreign)...)
		}
		cases = append(cases, extraCases(mallory, foreign)...)
		for _, c := range cases {
			e.checkHostile(t, c, e.send(c))
		}
		t.Logf("%d hostile requests to %d operations and the routes beside them", len(cases), len(ops))

		if diff := cmp.Diff(before, e.snapshot(t, bob, foreign)); diff != "" {
			t.Errorf("another user's objects changed (-before +after):\n%s", diff)
		}
		e.checkNoFailuresLogged(t)
		e.checkLogs()
	})
}

// expectation is what a hostile request may get back.
type expectation int

const (
	refused      expectation = iota // a 4xx: the input breaks the schema or names what is not yours
	unauthorized                    // a 401 with a bearer challenge
	notServerErr                    // odd but allowed input: anything but a 5xx
)

// hostileCase is one request. path is already escaped; body nil sends none.
type hostileCase struct {
	name        string
	op          string
	method      string
	path        string
	auth        string // the whole Authorization header, if any
	contentType string
	header      map[string]string
	body        []byte
	want        expectation
	shape       errorShape
}

// errorShape is the body a route's errors have.
type errorShape int

const (
	apiShape   errorShape = iota // {"detail", "code", "request_id"}
	mediaShape                   // {"detail", "code"}: the media handler knows no request ids
	pageShape                    // anything: the docs UI's own pages (plain-text 404s included)
)

func (c hostileCase) String() string {
	return fmt.Sprintf("%s [%s] %s %s body %s", c.op, c.name, c.method, clip(c.path, 120), clip(string(c.body), 160))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:n], len(s))
}

// send makes the request exactly as the case says: no headers of its own
// beyond Accept.
func (e *testEnv) send(c hostileCase) response {
	e.t.Helper()
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, body)
	if err != nil {
		e.t.Fatalf("%v: %v", c, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%v: %v", c, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%v: read: %v", c, err)
	}
	e.checkNoSecrets(string(raw))
	return response{status: res.StatusCode, header: res.Header, raw: raw}
}

func (e *testEnv) checkHostile(t *testing.T, c hostileCase, r response) {
	t.Helper()
	switch {
	case r.status >= 500:
		t.Errorf("%v: %d, want no server error: %s", c, r.status, clip(string(r.raw), 300))
		return
	case c.want == refused && (r.status < 400 || r.status >= 500):
		t.Errorf("%v: %d, want a 4xx: %s", c, r.status, clip(string(r.raw), 300))
		return
	case c.want == unauthorized && r.status != http.StatusUnauthorized:
		t.Errorf("%v: %d, want 401: %s", c, r.status, clip(string(r.raw), 300))
		return
	}
	if c.want == unauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("%v: 401 without a bearer challenge: %q", c, r.header.Get("WWW-Authenticate"))
	}
	if r.status >= 400 && c.shape != pageShape {
		if err := checkErrorShape(r, c.shape == apiShape); err != nil {
			t.Errorf("%v: %d: %v: %s", c, r.status, err, clip(string(r.raw), 300))
		}
	}
}

// checkErrorShape checks the body every error of the API has:
// {"detail": "message" | [{"loc", "msg", "type"}…], "code", "request_id"}.
func checkErrorShape(r response, withRequestID bool) error {
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q", ct)
	}
	var body struct {
		Detail    json.RawMessage `json:"detail"`
		Code      *string         `json:"code"`
		RequestID *string         `json:"request_id"`
	}
	if err := json.Unmarshal(r.raw, &body); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	var msg string
	var items []struct {
		Loc  []any   `json:"loc"`
		Msg  *string `json:"msg"`
		Type *string `json:"type"`
	}
	switch {
	case json.Unmarshal(body.Detail, &msg) == nil:
		if msg == "" {
			return fmt.Errorf("empty detail")
		}
	case json.Unmarshal(body.Detail, &items) == nil:
		if len(items) == 0 {
			return fmt.Errorf("empty detail list")
		}
		for _, it := range items {
			if len(it.Loc) == 0 || it.Msg == nil || *it.Msg == "" || it.Type == nil || *it.Type == "" {
				return fmt.Errorf("malformed validation item %+v", it)
			}
		}
	default:
		return fmt.Errorf("detail is neither a string nor a list of {loc, msg, type}")
	}
	if body.Code == nil || *body.Code == "" {
		return fmt.Errorf("no code")
	}
	if withRequestID && (body.RequestID == nil || *body.RequestID != r.header.Get("X-Request-ID") || *body.RequestID == "") {
		return fmt.Errorf("request_id %v does not match X-Request-ID %q", body.RequestID, r.header.Get("X-Request-ID"))
	}
	return nil
}

// checkNoFailuresLogged fails on a logged panic, internal error or 5xx.
func (e *testEnv) checkNoFailuresLogged(t *testing.T) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line struct {
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("log line is not JSON: %v: %s", err, clip(sc.Text(), 200))
			continue
		}
		if line.Msg == "panic" || line.Msg == "internal error" || (line.Msg == "request" && line.Status >= 500) {
			t.Errorf("logged: %s", clip(sc.Text(), 600))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// hostileIDs are one user's real ids, by the path parameter that takes
// them, and the storage paths of their media.
type hostileIDs struct {
	params               map[string]string
	audioPath, coverPath string
}

func (e *testEnv) hostileIDs(t *testing.T, s session) hostileIDs {
	t.Helper()
	l := e.makeLibrary(s)
	r := e.do("POST", "/api/v1/jobs", s.access, `{"job_type":"content_ingest","payload":{"text":"The tide comes in twice a day.","title":"Tides"}}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("enqueue: %d %s", r.status, r.raw)
	}
	job := r.object(t)["id"].(string)
	e.waitJob(t, s.access, job) // a finished job does not change under the test
	var sessions []map[string]any
	decode(t, e.do("GET", "/api/v1/auth/sessions", s.access, ""), &sessions)
	if len(sessions) == 0 {
		t.Fatal("no sessions")
	}
	return hostileIDs{
		params: map[string]string{
			"content_id": l.content, "script_id": l.script, "podcast_id": l.podcast, "key_id": l.key,
			"job_id": job, "session_id": sessions[0]["id"].(string), "user_id": s.userID,
		},
		audioPath: l.audioPath, coverPath: l.coverPath,
	}
}

// snapshot is everything the user can read about their objects.
func (e *testEnv) snapshot(t *testing.T, s session, ids hostileIDs) map[string]any {
	t.Helper()
	p := ids.params
	snap := map[string]any{}
	for _, path := range []string{
		"/api/v1/auth/me", "/api/v1/auth/sessions", "/api/v1/api-keys", "/api/v1/usage",
		"/api/v1/content?limit=100", "/api/v1/scripts?limit=100", "/api/v1/podcasts?limit=100", "/api/v1/jobs?limit=100",
		"/api/v1/content/" + p["content_id"], "/api/v1/scripts/" + p["script_id"], "/api/v1/podcasts/" + p["podcast_id"] + "/with-script",
		"/api/v1/jobs/" + p["job_id"], "/api/v1/auth/users/" + p["user_id"],
	} {
		r := e.do("GET", path, s.access, "")
		if r.status != http.StatusOK {
			t.Fatalf("%s reads %s: %d %s", s.email, path, r.status, r.raw)
		}
		snap[path] = r.json(t)
	}
	for _, obj := range []struct{ bucket, key string }{{e.buckets.Audio, ids.audioPath}, {e.buckets.Art, ids.coverPath}} {
		info, err := e.blobs.Stat(context.Background(), obj.bucket, obj.key)
		if err != nil {
			t.Fatalf("stat %s/%s: %v", obj.bucket, obj.key, err)
		}
		snap["object "+obj.bucket+"/"+obj.key] = fmt.Sprintf("%d bytes, %s", info.Size, info.ETag)
	}
	return snap
}

// extraCases covers the routes mounted on chi beside huma, which the
// OpenAPI document does not list, and headers that only a request which
// otherwise succeeds gets to store.
func extraCases(s session, foreign hostileIDs) []hostileCase {
	bearer := "Bearer " + s.access
	signIn := []byte(`{"method":"email","email":"` + s.email + `","password":"` + s.password + `"}`)
	signUp := []byte(`{"method":"email","email":"eve@example.com","password":"` + s.password + `"}`)
	media := "/media/podcast-audio/" + foreign.audioPath
	cases := []hostileCase{
		{name: "unsigned", method: "GET", path: media, want: refused, shape: mediaShape},
		{name: "forged signature", method: "GET", path: media + "?exp=9999999999&kid=m1&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", want: refused, shape: mediaShape},
		{name: "garbage query", method: "GET", path: media + "?exp=%00&kid=%ff&sig=" + strings.Repeat("A", 10_000), want: refused, shape: mediaShape},
		{name: "huge expiry", method: "GET", path: media + "?exp=99999999999999999999999&kid=m1&sig=AAAA", want: refused, shape: mediaShape},
		{name: "dot segments", method: "GET", path: "/media/podcast-audio/../../../../etc/passwd?exp=1&kid=m1&sig=AAAA", want: refused, shape: mediaShape},
		{name: "escaped dot segments", method: "GET", path: "/media/%2e%2e/%2e%2e/etc/passwd", want: refused, shape: mediaShape},
		{name: "NUL", method: "GET", path: "/media/podcast-audio/%00", want: refused, shape: mediaShape},
		{name: "root", method: "GET", path: "/media/", want: refused, shape: mediaShape},
		{name: "long", method: "GET", path: "/media/" + strings.Repeat("a", 10_000), want: refused, shape: mediaShape},
		{name: "write", method: "PUT", path: media, auth: bearer, body: []byte("x"), want: refused, shape: mediaShape},
		{name: "delete", method: "DELETE", path: media, auth: bearer, want: refused, shape: mediaShape},
		{name: "metrics with a body", method: "POST", path: "/metrics", contentType: "application/json", body: []byte("{"), want: notServerErr},
		{name: "metrics with a query", method: "GET", path: "/metrics?name[]=%00&" + strings.Repeat("x", 10_000), want: notServerErr},
		{name: "docs traversal", method: "GET", path: "/docs/../../etc/passwd", want: notServerErr, shape: pageShape},
		{name: "docs NUL", method: "GET", path: "/docs/%00", want: notServerErr, shape: pageShape},
		{name: "docs long", method: "GET", path: "/docs/" + strings.Repeat("a", 10_000), want: notServerErr, shape: pageShape},
		{name: "openapi write", method: "POST", path: "/openapi.json", contentType: "application/json", body: []byte("{}"), want: refused},
		{name: "unknown route", method: "GET", path: "/api/v1/%00", auth: bearer, want: refused},
		{name: "unknown route traversal", method: "GET", path: "/api/v1/../../etc/passwd", auth: bearer, want: refused},
		{name: "unknown method", method: "PURGE", path: "/api/v1/content", auth: bearer, want: refused},
		{name: "unknown long route", method: "GET", path: "/api/v1/" + strings.Repeat("a/", 5_000), auth: bearer, want: refused},
		{name: "sign-in, User-Agent not UTF-8", method: "POST", path: "/api/v1/auth/signin", contentType: "application/json", body: signIn, header: map[string]string{"User-Agent": "EchoGen \xff\xfe"}, want: notServerErr},
		{name: "sign-in, User-Agent 8k", method: "POST", path: "/api/v1/auth/signin", contentType: "application/json", body: signIn, header: map[string]string{"User-Agent": strings.Repeat("\xe2\x82\xac", 2_700)}, want: notServerErr},
		{name: "sign-up, User-Agent not UTF-8", method: "POST", path: "/api/v1/auth/signup", contentType: "application/json", body: signUp, header: map[string]string{"User-Agent": "\xc0\x80"}, want: notServerErr},
	}
	for i := range cases {
		cases[i].op = "route"
	}
	return cases
}

// The OpenAPI document, as much of it as the test reads.
type openAPI struct {
	Paths      map[string]map[string]*apiOperation `json:"paths"`
	Components struct {
		Schemas map[string]*jsonSchema `json:"schemas"`
	} `json:"components"`
}

type apiOperation struct {
	OperationID string                `json:"operationId"`
	Security    []map[string][]string `json:"security"`
	Parameters  []struct {
		Name   string      `json:"name"`
		In     string      `json:"in"`
		Schema *jsonSchema `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Required bool `json:"required"`
		Content  map[string]struct {
			Schema *jsonSchema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`

	method, path string
}

type jsonSchema struct {
	Ref                  string                 `json:"$ref"`
	Type                 schemaTypes            `json:"type"`
	Format               string                 `json:"format"`
	Enum                 []any                  `json:"enum"`
	Properties           map[string]*jsonSchema `json:"properties"`
	Required             []string               `json:"required"`
	Items                *jsonSchema            `json:"items"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
	Minimum              *float64               `json:"minimum"`
	Maximum              *float64               `json:"maximum"`
	MinLength            *int                   `json:"minLength"`
	MaxLength            *int                   `json:"maxLength"`
	MinItems             *int                   `json:"minItems"`
}

// schemaTypes is a schema's "type": one name or a list of them.
type schemaTypes []string

func (s *schemaTypes) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = schemaTypes{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

func (e *testEnv) openAPI(t *testing.T) *openAPI {
	t.Helper()
	r := e.do("GET", "/openapi.json", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", r.status)
	}
	var d openAPI
	if err := json.Unmarshal(r.raw, &d); err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	return &d
}

func (d *openAPI) operations() []*apiOperation {
	var ops []*apiOperation
	for _, path := range slices.Sorted(maps.Keys(d.Paths)) {
		for _, method := range slices.Sorted(maps.Keys(d.Paths[path])) {
			op := d.Paths[path][method]
			op.method, op.path = strings.ToUpper(method), path
			ops = append(ops, op)
		}
	}
	return ops
}

func (d *openAPI) resolve(s *jsonSchema) *jsonSchema {
	for s != nil && s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	if s == nil {
		return &jsonSchema{}
	}
	return s
}

// allows reports whether the schema takes a JSON value of kind (string,
// integer, number, boolean, object, array or null).
func (s *jsonSchema) allows(kind string) bool {
	if len(s.Type) == 0 {
		return true
	}
	for _, t := range s.Type {
		if t == kind || (t == "number" && kind == "integer") {
			return true
		}
	}
	return false
}

// mainType is the schema's first type other than null.
func (s *jsonSchema) mainType() string {
	for _, t := range s.Type {
		if t != "null" {
			return t
		}
	}
	return ""
}

// closed reports whether the object takes no properties but its own.
func (s *jsonSchema) closed() bool { return string(s.AdditionalProperties) == "false" }

// valid returns a small value the schema accepts: enums take their first
// value, objects their required properties, arrays of objects one item.
func (d *openAPI) valid(s *jsonSchema) any {
	s = d.resolve(s)
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch s.mainType() {
	case "string":
		if s.Format == "date-time" {
			return "2026-11-27T12:00:00Z"
		}
		return strings.Repeat("x", max(1, deref(s.MinLength)))
	case "integer", "number":
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 0
	case "boolean":
		return false
	case "array":
		if items := d.resolve(s.Items); deref(s.MinItems) > 0 || len(items.Properties) > 0 {
			return []any{d.valid(items)}
		}
		return []any{}
	case "object":
		m := map[string]any{}
		for _, name := range s.Required {
			m[name] = d.valid(s.Properties[name])
		}
		return m
	}
	return "x"
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// field is a property somewhere in a request body: its path (names, and 0
// for the first item of an array), schema, and whether its object requires
// it.
type field struct {
	path     []any
	schema   *jsonSchema
	required bool
}

func (f field) String() string { return fmt.Sprint(f.path) }

// fields lists the properties of s and, recursively, of its objects and of
// the items of its arrays.
func (d *openAPI) fields(s *jsonSchema, path []any, depth int) []field {
	s = d.resolve(s)
	if depth > 4 {
		return nil
	}
	var out []field
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		p := append(slices.Clone(path), name)
		ps := d.resolve(s.Properties[name])
		out = append(out, field{p, ps, slices.Contains(s.Required, name)})
		out = append(out, d.fields(ps, p, depth+1)...)
		if items := d.resolve(ps.Items); len(items.Properties) > 0 {
			out = append(out, d.fields(items, append(slices.Clone(p), 0), depth+1)...)
		}
	}
	return out
}

// with returns a valid body for root with v at path, building whatever
// objects and array items lead there.
func (d *openAPI) with(root *jsonSchema, path []any, v any) any {
	return d.set(root, d.valid(root), path, v)
}

func (d *openAPI) set(s *jsonSchema, cur any, path []any, v any) any {
	s = d.resolve(s)
	if len(path) == 0 {
		return v
	}
	switch k := path[0].(type) {
	case string:
		m, _ := cur.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		child := s.Properties[k]
		next, ok := m[k]
		if !ok || next == nil {
			next = d.valid(child)
		}
		m[k] = d.set(child, next, path[1:], v)
		return m
	case int:
		a, _ := cur.([]any)
		for len(a) <= k {
			a = append(a, d.valid(s.Items))
		}
		a[k] = d.set(s.Items, a[k], path[1:], v)
		return a
	}
	panic(fmt.Sprintf("bad path element %v", path[0]))
}

// wrongTypes are one value of each JSON kind; a field gets those its
// schema does not allow.
var wrongTypes = []struct {
	kind  string
	value any
}{
	{"string", "hostile"},
	{"integer", json.Number("12345")},
	{"number", json.Number("1.5")},
	{"boolean", true},
	{"object", map[string]any{"k": "v"}},
	{"array", []any{"x"}},
	{"null", nil},
}

// extremeNumbers are sent to numeric fields.
var extremeNumbers = []string{"1e308", "-1", "9223372036854775808", "-9223372036854775809", "1e400", "-0", "4.9e-324"}

// numberAllowed reports whether the schema accepts the number n and a Go
// int64 or float64 can hold it.
func numberAllowed(s *jsonSchema, n string) bool {
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) {
		return false
	}
	if !s.allows("number") {
		if _, err := strconv.ParseInt(n, 10, 64); err != nil {
			return false
		}
	}
	return (s.Minimum == nil || f >= *s.Minimum) && (s.Maximum == nil || f <= *s.Maximum)
}

// garbageSegments replace a path parameter; they are escaped already.
var garbageSegments = []string{
	"..", "%2e%2e", "%00", "%ff%fe", "a%2Fb", strings.Repeat("a", 10_000), url.PathEscape("' OR '1'='1"),
	"-1", "9223372036854775808", "null", "8d3f6c1e-1f0b-4c39-9d0e-2b8f1a7c5e42", "content_ingest_000000000000",
	"00000000-0000-0000-0000-000000000000",
}

// deepArray is n nested arrays.
func deepArray(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// rawString is a JSON string holding bytes that are not UTF-8.
type rawString string

func (r rawString) MarshalJSON() ([]byte, error) { return []byte(`"` + string(r) + `"`), nil }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hostileCases are the requests sent to one operation, as a user whose
// own ids fill path parameters unless the case is about them.
func (d *openAPI) hostileCases(t *testing.T, op *apiOperation, token string, own, foreign hostileIDs) []hostileCase {
	t.Helper()
	bearer := "Bearer " + token
	var root *jsonSchema
	hasBody := op.RequestBody != nil
	if hasBody {
		if c, ok := op.RequestBody.Content["application/json"]; ok {
			root = d.resolve(c.Schema)
		}
	}
	fill := func(ids map[string]string, name, value string) string {
		p := op.path
		for _, prm := range op.Parameters {
			if prm.In != "path" {
				continue
			}
			v := ids[prm.Name]
			if prm.Name == name {
				v = value
			}
			if v == "" {
				t.Errorf("%s: no id for path parameter %q: add one to hostileIDs", op.OperationID, prm.Name)
				v = "x"
			}
			p = strings.ReplaceAll(p, "{"+prm.Name+"}", v)
		}
		return p
	}
	path := fill(own.params, "", "")
	var base []byte
	contentType := ""
	if root != nil {
		base, contentType = mustJSON(t, d.valid(root)), "application/json"
	}
	var cases []hostileCase
	add := func(c hostileCase) {
		c.op, c.method = op.OperationID, op.method
		if c.path == "" {
			c.path = path
		}
		if c.auth == "" && c.want != unauthorized {
			c.auth = bearer
		}
		cases = append(cases, c)
	}

	// No credentials, or bad ones.
	if len(op.Security) > 0 {
		for _, auth := range []string{"", "Bearer", "Bearer not-a-token", "Bearer " + strings.Repeat("A", 10_000), "Basic bWFsbG9yeTpwdw==", "bearer " + token + "x"} {
			add(hostileCase{name: "credentials " + clip(auth, 20), auth: auth, contentType: contentType, body: base, want: unauthorized})
		}
	}

	// Path parameters: garbage, and another user's real ids.
	var foreignBodies [][]byte
	if root != nil {
		foreignBodies = append(foreignBodies, base)
		for _, name := range slices.Sorted(maps.Keys(root.Properties)) {
			if !slices.Contains(root.Required, name) {
				foreignBodies = append(foreignBodies, mustJSON(t, d.with(root, []any{name}, d.valid(root.Properties[name]))))
			}
		}
	} else if hasBody {
		foreignBodies = append(foreignBodies, nil)
	} else {
		foreignBodies = [][]byte{nil}
	}
	for _, prm := range op.Parameters {
		if prm.In != "path" {
			continue
		}
		for _, g := range garbageSegments {
			add(hostileCase{name: "path " + prm.Name + "=" + clip(g, 20), path: fill(own.params, prm.Name, g), contentType: contentType, body: base, want: refused})
		}
		for _, body := range foreignBodies {
			add(hostileCase{name: "another user's " + prm.Name, path: fill(own.params, prm.Name, foreign.params[prm.Name]), contentType: contentType, body: body, want: refused})
		}
	}
	// Another user's ids in every id field of the body.
	if root != nil {
		for _, f := range d.fields(root, nil, 0) {
			name, _ := f.path[len(f.path)-1].(string)
			var v string
			switch {
			case strings.HasSuffix(name, "content_id"):
				v = foreign.params["content_id"]
			case strings.HasSuffix(name, "_id") && foreign.params[name] != "":
				v = foreign.params[name]
			case strings.Contains(name, "audio") && strings.HasSuffix(name, "storage_path"):
				v = foreign.audioPath
			case strings.HasSuffix(name, "storage_path"):
				v = foreign.coverPath
			default:
				continue
			}
			add(hostileCase{name: "another user's id in " + f.String(), contentType: contentType, body: mustJSON(t, d.with(root, f.path, v)), want: refused})
		}
	}

	// Query and header parameters.
	for _, prm := range op.Parameters {
		if prm.In != "query" && prm.In != "header" {
			continue
		}
		s := d.resolve(prm.Schema)
		type value struct {
			v    string
			want expectation
		}
		var values []value
		switch {
		case prm.In == "header":
			for _, v := range []string{strings.Repeat("9", 10_000), "../../etc/passwd", "-1", "9223372036854775808", "\t"} {
				values = append(values, value{v, notServerErr})
			}
		case s.mainType() == "integer" || s.mainType() == "number":
			for _, n := range extremeNumbers {
				want := refused
				if numberAllowed(s, n) {
					want = notServerErr
				}
				values = append(values, value{n, want})
			}
			values = append(values, value{"abc", refused}, value{"\x00", refused}, value{"1 OR 1=1", refused}, value{"0x10", refused})
		case len(s.Enum) > 0:
			values = append(values, value{"garbage", refused}, value{"\x00", refused}, value{strings.Repeat("a", 10_000), refused})
		case s.Format == "date-time":
			values = append(values, value{"yesterday", refused}, value{"2026-13-45T25:61:00Z", refused}, value{"\x00", refused}, value{"99999-01-01T00:00:00Z", refused})
		default:
			for _, v := range []string{"\x00", "\xff\xfe", "' OR '1'='1' --", "%_\\", strings.Repeat("a", 10_000)} {
				want := notServerErr
				if s.MaxLength != nil && len(v) > *s.MaxLength {
					want = refused
				}
				values = append(values, value{v, want})
			}
		}
		for _, v := range values {
			c := hostileCase{name: prm.In + " " + prm.Name + "=" + clip(v.v, 20), contentType: contentType, body: base, want: v.want}
			if prm.In == "query" {
				c.path = path + "?" + url.QueryEscape(prm.Name) + "=" + url.QueryEscape(v.v)
			} else {
				c.header = map[string]string{prm.Name: v.v}
			}
			add(c)
		}
	}
	if op.method == http.MethodGet { // safe to send with a valid token: nothing changes
		add(hostileCase{name: "unknown query parameters", path: path + "?%00=%ff&zz%5B%5D=1&" + strings.Repeat("q", 10_000), want: notServerErr})
	}
	if !hasBody {
		return cases
	}

	// Bodies that are not the JSON object the operation takes.
	obj, full := "{}", []byte("{}")
	if root != nil {
		all := d.valid(root)
		for _, name := range slices.Sorted(maps.Keys(root.Properties)) {
			all = d.set(root, all, []any{name}, d.valid(root.Properties[name]))
		}
		obj, full = string(base), mustJSON(t, all)
	}
	// withKey is obj with one more key, written as raw JSON.
	withKey := func(key string) string {
		if obj == "{}" {
			return "{" + key + ":1}"
		}
		return "{" + key + ":1," + obj[1:]
	}
	openObject := root == nil || !root.closed()
	for _, b := range []struct {
		name string
		body string
		want expectation
	}{
		{"empty", "", refused},
		{"{", "{", refused},
		{"truncated", string(full[:len(full)/2]), refused},
		{"[]", "[]", refused},
		{"null", "null", refused},
		{"string", `"x"`, refused},
		{"number", "0", refused},
		{"true", "true", refused},
		{"not UTF-8", "\xff\xfe\xfd", refused},
		{"UTF-16", "\xff\xfe{\x00}\x00", refused},
		{"trailing garbage", obj + "xyz", refused},
		{"two objects", obj + obj, refused},
		{"1 MiB string", `{"k":"` + strings.Repeat("a", 1<<20) + `"}`, refused},
		{"nested 10k", deepArray(10_000), refused},
		{"nested 100k", deepArray(100_000), refused},
		{"nested 10k in a field", `{"k":` + deepArray(10_000) + `}`, refused},
		{"unknown field", withKey(`"zz_unknown_field"`), map[bool]expectation{true: notServerErr, false: refused}[openObject]},
		{"not UTF-8 key", withKey("\"\xff\xfe\""), map[bool]expectation{true: notServerErr, false: refused}[openObject]},
	} {
		body := []byte(b.body)
		if b.name == "empty" {
			body = nil
		}
		if b.name == "empty" && !op.RequestBody.Required {
			b.want = notServerErr
		}
		add(hostileCase{name: "body " + b.name, contentType: "application/json", body: body, want: b.want})
	}
	// The right body under the wrong content type.
	for _, ct := range []string{"text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "*/*",
		"application/json; charset=utf-16", `application/json; charset="unterminated`} {
		want := refused
		if strings.HasPrefix(ct, "application/json") && root != nil {
			want = notServerErr // JSON with odd parameters: the bytes are UTF-8 JSON whatever the label says
		}
		add(hostileCase{name: "content type " + ct, contentType: ct, body: full, want: want})
	}
	if root == nil {
		return cases
	}
	// Every field: values of the wrong type, extreme numbers, strange
	// strings, deep nesting in free-form objects.
	for _, f := range d.fields(root, nil, 0) {
		for _, w := range wrongTypes {
			if f.schema.allows(w.kind) {
				continue
			}
			want := refused
			if w.kind == "null" && !f.required {
				want = notServerErr // huma takes null for an optional field as absent
			}
			add(hostileCase{name: fmt.Sprintf("%v as %s", f, w.kind), contentType: "application/json", body: mustJSON(t, d.with(root, f.path, w.value)), want: want})
		}
		if len(f.schema.Enum) > 0 {
			add(hostileCase{name: fmt.Sprintf("%v outside its enum", f), contentType: "application/json", body: mustJSON(t, d.with(root, f.path, "zz-not-in-enum")), want: refused})
		}
		if f.schema.allows("number") && len(f.schema.Type) > 0 {
			for _, n := range extremeNumbers {
				want := refused
				if numberAllowed(f.schema, n) {
					want = notServerErr
				}
				add(hostileCase{name: fmt.Sprintf("%v = %s", f, n), contentType: "application/json", body: mustJSON(t, d.with(root, f.path, json.RawMessage(n))), want: want})
			}
		}
		if f.schema.allows("string") && len(f.schema.Type) > 0 && len(f.schema.Enum) == 0 {
			long := strings.Repeat("a", 100_001)
			for _, v := range []struct {
				name  string
				value any
				n     int
			}{
				{"NUL", "a\x00b", 3},
				{"not UTF-8", rawString("a\xff\xfeb"), 4},
				{"escaped lone surrogate", rawString(`a\ud800b`), 3},
				{"100k", long, len(long)},
			} {
				want := notServerErr
				if f.schema.MaxLength != nil && v.n > *f.schema.MaxLength {
					want = refused
				}
				add(hostileCase{name: fmt.Sprintf("%v %s", f, v.name), contentType: "application/json", body: mustJSON(t, d.with(root, f.path, v.value)), want: want})
			}
		}
		if f.schema.allows("object") && len(f.schema.Properties) == 0 && !f.schema.closed() {
			for _, n := range []int{100, 9_000} {
				deep := json.RawMessage(`{"deep":` + deepArray(n) + `}`)
				add(hostileCase{name: fmt.Sprintf("%v nested %d", f, n), contentType: "application/json", body: mustJSON(t, d.with(root, f.path, deep)), want: notServerErr})
			}
		}
	}
	if len(root.Properties) == 0 && !root.closed() { // a free-form body
		for _, n := range []int{100, 9_000} {
			add(hostileCase{name: fmt.Sprintf("free-form body nested %d", n), contentType: "application/json", body: []byte(`{"deep":` + deepArray(n) + `}`), want: notServerErr})
		}
	}
	return cases
}

// TestJSONBodyLimits: request bodies may nest 64 levels (brackets inside
// strings do not count) and hold no NUL characters; anything else is a 422
// on the body.
func TestJSONBodyLimits(t *testing.T) {
	forEachStore(t, testJSONBodyLimits)
}

func testJSONBodyLimits(t *testing.T, newStore func(*testing.T) echogen.Store) {
	e := newTestEnv(t, newStore)
	ada := e.signUp("ada@example.com")
	// The body and preferences are two of the levels.
	nested := func(n int) string { return `{"preferences":{"a":` + deepArray(n-2) + `}}` }
	tooDeep := "JSON nested deeper than 64 levels"
	hasNUL := `strings must not contain NUL characters (\u0000)`
	tests := []struct {
		name, body string
		wantMsg    string // empty: 200
	}{
		{"64 levels", nested(64), ""},
		{"65 levels", nested(65), tooDeep},
		{"brackets in strings", `{"preferences":{"a":"` + strings.Repeat("[{", 1000) + `\"[{"}}`, ""},
		{"NUL", `{"bio":"a\u0000b"}`, hasNUL},
		{"NUL in a key", `{"preferences":{"\u0000":1}}`, hasNUL},
		{"escaped backslash before u0000", `{"bio":"a\\u0000b"}`, ""},
		{"other control characters", `{"bio":"a\u0001\u001fb"}`, ""},
	}
	for _, tt := range tests {
		r := e.do("PATCH", "/api/v1/auth/profile", ada.access, tt.body)
		want := http.StatusOK
		if tt.wantMsg != "" {
			want = http.StatusUnprocessableEntity
		}
		if r.status != want {
			t.Errorf("%s: %d, want %d: %s", tt.name, r.status, want, r.raw)
			continue
		}
		if tt.wantMsg != "" {
			want := []any{map[string]any{"loc": []any{"body"}, "msg": tt.wantMsg, "type": "value_error"}}
			if diff := cmp.Diff(want, r.object(t)["detail"]); diff != "" {
				t.Errorf("%s: detail (-want +got):\n%s", tt.name, diff)
			}
		}
	}
}
