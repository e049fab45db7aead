// Package supabasetest runs a stand-in for Supabase Storage's REST API on
// loopback, for tests of code that talks to Storage with the service-role
// key (blob.SupabaseStorage).
//
// It speaks the shapes Storage documents (supabase/storage's routes, as
// storage-js calls them) and holds them strictly: a request Storage would
// refuse or misread — a missing apikey or Authorization header, a wrong
// method or route, a JSON body with unknown or missing fields — fails the
// test (t.Errorf) and is answered with a Storage-style error. It keeps
// buckets and object metadata in memory and object content in files under
// the test's temporary folder (so a test may measure its own allocations
// while moving large objects), and it stores an upload only once it has
// arrived whole, as Storage does.
//
// Errors come the way Storage sends them: HTTP 400 with the real status in
// the body, {"statusCode":"404","code":"NoSuchKey","error":"not_found",
// "message":"Object not found"} (500s stay 500), or with Options.TrueStatus
// under their real HTTP status. A wrong apikey is refused the way
// Supabase's gateway does (401 {"message":"Invalid API key"}), a wrong
// bearer token the way Storage does (400, statusCode "403", AccessDenied).
//
// Where it is simpler than Storage: listings match the prefix
// case-insensitively like Storage's ILIKE but without LIKE's wildcards, and
// object keys are checked for emptiness, control characters and "." or ".."
// segments only (Storage also refuses # [ ] { } ^ ` " < > \ | % ~).
package supabasetest

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/echogen/server/internal/echogen"
)

// DefaultKey is the service-role key a Server accepts unless told
// otherwise.
const DefaultKey = "stand-in-service-role-key"

// maxJSONBody caps a JSON request body.
const maxJSONBody = 1 << 20

// maxDeleteKeys is how many objects one delete request may name.
const maxDeleteKeys = 1000

// Options configures a Server.
type Options struct {
	// Key is the service-role key accepted; DefaultKey when empty.
	Key string
	// Clock stamps objects and signs and checks URL tokens; nil is the
	// system clock.
	Clock echogen.Clock
	// TrueStatus sends errors under their real HTTP status (404, 409, …)
	// instead of Storage's classic 400.
	TrueStatus bool
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	// URL is the project URL ("http://127.0.0.1:port"); Storage's API is at
	// URL + "/storage/v1".
	URL string
	// Key is the service-role key it accepts.
	Key string

	t          testing.TB
	hs         *httptest.Server
	clock      echogen.Clock
	secret     []byte // signs URL tokens, like the project's JWT secret
	dir        string
	trueStatus bool

	mu       sync.Mutex
	idle     *sync.Cond // signalled when active drops to 0
	active   int        // requests being handled
	buckets  map[string]*bucket
	failures []*Failure
	requests []Request
	seq      int
}

type bucket struct {
	id, name string
	public   bool
	created  time.Time
	objects  map[string]*object
}

type object struct {
	id           string
	file         string
	size         int64
	contentType  string
	cacheControl string
	etag         string // quoted
	created      time.Time
	updated      time.Time
}

// Request is one request the Server received.
type Request struct {
	Method string
	// Path is the path as sent, escaped.
	Path   string
	Query  url.Values
	Header http.Header
	// Body is a JSON request's body; nil for uploads.
	Body []byte
	// Chunked reports an upload sent with Transfer-Encoding: chunked, and
	// ContentLength its declared length (-1 when unknown).
	Chunked       bool
	ContentLength int64
	// Uploaded is how many bytes of an upload arrived, and Aborted whether
	// it ended before its last byte.
	Uploaded int64
	Aborted  bool
}

// Failure makes matching requests fail.
type Failure struct {
	// Method and Path select the requests: the method ("" for any) and a
	// prefix of the decoded path after /storage/v1 ("" for any), such as
	// "/object/info/".
	Method, Path string
	// Status, Header and Body are the answer; Body is sent as JSON unless
	// Header says otherwise.
	Status int
	Header http.Header
	Body   string
	// Hang reads the request and then waits for the client to give up
	// instead of answering.
	Hang bool
	// Times is how many requests fail; 0 means until ClearFailures.
	Times int
}

// New starts a Server that stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{
		Key:        opts.Key,
		t:          t,
		clock:      opts.Clock,
		dir:        t.TempDir(),
		trueStatus: opts.TrueStatus,
		buckets:    map[string]*bucket{},
		secret:     make([]byte, 32),
	}
	s.idle = sync.NewCond(&s.mu)
	if s.Key == "" {
		s.Key = DefaultKey
	}
	if s.clock == nil {
		s.clock = echogen.SystemClock{}
	}
	if _, err := rand.Read(s.secret); err != nil {
		t.Fatal(err)
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	t.Cleanup(s.hs.Close)
	return s
}

// Wait waits until no request is being handled, such as an upload the
// client has aborted but the server is still reading.
func (s *Server) Wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.active > 0 {
		s.idle.Wait()
	}
}

// Close stops the server; later requests fail to connect.
func (s *Server) Close() { s.hs.Close() }

// Fail makes requests matching f fail until it has been used f.Times times
// (or until ClearFailures).
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &f)
}

// ClearFailures removes every Failure.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// BucketInfo describes a bucket.
type BucketInfo struct {
	ID     string
	Public bool
}

// Bucket describes the bucket id, if it exists.
func (s *Server) Bucket(id string) (BucketInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[id]
	if !ok {
		return BucketInfo{}, false
	}
	return BucketInfo{ID: b.id, Public: b.public}, true
}

// CreateBucket creates (or replaces with an empty one) the bucket id.
func (s *Server) CreateBucket(id string, public bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buckets[id] = &bucket{id: id, name: id, public: public, created: s.clock.Now().UTC(), objects: map[string]*object{}}
}

// DeleteBucket removes the bucket id and its objects.
func (s *Server) DeleteBucket(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.buckets, id)
}

// Keys returns the keys of the objects in bucket, sorted.
func (s *Server) Keys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	if b, ok := s.buckets[bucket]; ok {
		for k := range b.objects {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Token signs a URL token for bucket/key expiring at exp, as Storage does
// for POST /object/sign; tests use it to make tokens Storage would not.
func (s *Server) Token(bucket, key string, exp time.Time) string {
	now := s.clock.Now()
	claims := signClaims{URL: bucket + "/" + key, RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	if err != nil {
		panic(err) // HS256 with a byte key cannot fail
	}
	return tok
}

type signClaims struct {
	URL string `json:"url"`
	jwt.RegisteredClaims
}

// serve routes one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.active++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.active--; s.active == 0 {
			s.idle.Broadcast()
		}
		s.mu.Unlock()
	}()
	rest, ok := strings.CutPrefix(r.URL.Path, "/storage/v1/")
	if !ok {
		s.misuse(w, r, "a path outside /storage/v1")
		return
	}
	idx := s.record(r, isUpload(r.Method, rest))
	if f := s.failure(r, "/"+rest); f != nil {
		if f.Hang {
			// Read the request first: the server notices the client going
			// away only once the body is consumed.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	if r.Method == http.MethodGet && strings.HasPrefix(rest, "object/sign/") {
		s.serveSigned(w, r, strings.TrimPrefix(rest, "object/sign/"))
		return
	}
	if !s.authorised(w, r) {
		return
	}
	switch {
	case rest == "bucket":
		s.method(w, r, http.MethodPost, s.createBucket)
	case strings.HasPrefix(rest, "bucket/"):
		id := strings.TrimPrefix(rest, "bucket/")
		s.method(w, r, http.MethodGet, func(w http.ResponseWriter, r *http.Request) { s.getBucket(w, id) })
	case strings.HasPrefix(rest, "object/list/"):
		b := strings.TrimPrefix(rest, "object/list/")
		s.method(w, r, http.MethodPost, func(w http.ResponseWriter, r *http.Request) { s.list(w, r, b) })
	case strings.HasPrefix(rest, "object/sign/"):
		s.method(w, r, http.MethodPost, func(w http.ResponseWriter, r *http.Request) { s.sign(w, r, strings.TrimPrefix(rest, "object/sign/")) })
	case strings.HasPrefix(rest, "object/info/authenticated/"):
		bk := strings.TrimPrefix(rest, "object/info/authenticated/")
		s.method(w, r, http.MethodGet, func(w http.ResponseWriter, r *http.Request) { s.info(w, bk) })
	case strings.HasPrefix(rest, "object/authenticated/"):
		bk := strings.TrimPrefix(rest, "object/authenticated/")
		s.method(w, r, http.MethodGet+","+http.MethodHead, func(w http.ResponseWriter, r *http.Request) { s.get(w, r, bk) })
	case strings.HasPrefix(rest, "object/") && !strings.Contains(strings.TrimPrefix(rest, "object/"), "/"):
		b := strings.TrimPrefix(rest, "object/")
		s.method(w, r, http.MethodDelete, func(w http.ResponseWriter, r *http.Request) { s.deleteObjects(w, r, b) })
	case strings.HasPrefix(rest, "object/"):
		bk := strings.TrimPrefix(rest, "object/")
		switch r.Method {
		case http.MethodPost:
			s.upload(w, r, bk, idx)
		case http.MethodGet, http.MethodHead: // the older, still documented route
			s.get(w, r, bk)
		default:
			s.misuse(w, r, "a method Storage has no route for")
		}
	default:
		s.misuse(w, r, "a route Storage does not have")
	}
}

// method runs h if the request's method is one of methods (comma-separated).
func (s *Server) method(w http.ResponseWriter, r *http.Request, methods string, h http.HandlerFunc) {
	for m := range strings.SplitSeq(methods, ",") {
		if r.Method == m {
			h(w, r)
			return
		}
	}
	s.misuse(w, r, "a method Storage has no route for")
}

// misuse reports a request Storage would not take, and answers as
// Storage's router does.
func (s *Server) misuse(w http.ResponseWriter, r *http.Request, why string) {
	s.t.Errorf("supabasetest: %s %s: %s", r.Method, r.URL.EscapedPath(), why)
	writeJSON(w, http.StatusNotFound, map[string]any{ // fastify's, with a number
		"statusCode": 404, "error": "Not Found", "message": fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.EscapedPath())})
}

// badRequest reports a malformed request and answers as Storage's schema
// validation does.
func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	s.t.Errorf("supabasetest: %s %s: %s", r.Method, r.URL.EscapedPath(), msg)
	writeJSON(w, http.StatusBadRequest, map[string]any{ // fastify's schema validation
		"statusCode": 400, "code": "FST_ERR_VALIDATION", "error": "Bad Request", "message": msg})
}

// isUpload reports POST /object/{bucket}/{key}.
func isUpload(method, rest string) bool {
	bk, ok := strings.CutPrefix(rest, "object/")
	return ok && method == http.MethodPost && strings.Contains(bk, "/") &&
		!strings.HasPrefix(bk, "list/") && !strings.HasPrefix(bk, "sign/")
}

// record notes the request and returns its index; a JSON body (not an
// upload's content) is read here and put back for the handler.
func (s *Server) record(r *http.Request, upload bool) int {
	req := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone(),
		ContentLength: r.ContentLength}
	for _, te := range r.TransferEncoding {
		req.Chunked = req.Chunked || te == "chunked"
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" && !upload {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
		if err == nil {
			req.Body = body
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	return len(s.requests) - 1
}

func (s *Server) failure(r *http.Request, p string) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.failures {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(p, f.Path) {
			if f.Times > 0 {
				if f.Times--; f.Times == 0 {
					s.failures = append(s.failures[:i:i], s.failures[i+1:]...)
				}
			}
			return f
		}
	}
	return nil
}

// authorised checks the apikey and Authorization headers: both must carry
// the service-role key.
func (s *Server) authorised(w http.ResponseWriter, r *http.Request) bool {
	apikey, auth := r.Header.Get("apikey"), r.Header.Get("Authorization")
	bearer, isBearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case apikey == "" || !isBearer:
		s.t.Errorf("supabasetest: %s %s without both the apikey and the Authorization: Bearer headers", r.Method, r.URL.EscapedPath())
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "No API key found in request"})
		return false
	case apikey != s.Key:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid API key",
			"hint": "Double check your Supabase `anon` or `service_role` API key."})
		return false
	case bearer != s.Key:
		s.storageError(w, http.StatusForbidden, "AccessDenied", "Unauthorized", "invalid signature")
		return false
	}
	return true
}

// storageError answers with Storage's error body: HTTP 400 (500 for a 500)
// unless TrueStatus.
func (s *Server) storageError(w http.ResponseWriter, status int, code, name, msg string) {
	httpStatus := http.StatusBadRequest
	if status == http.StatusInternalServerError || s.trueStatus {
		httpStatus = status
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, httpStatus, map[string]string{"statusCode": strconv.Itoa(status), "code": code, "error": name, "message": msg})
}

func (s *Server) noSuchKey(w http.ResponseWriter) {
	s.storageError(w, http.StatusNotFound, "NoSuchKey", "not_found", "Object not found")
}

func (s *Server) noSuchBucket(w http.ResponseWriter) {
	s.storageError(w, http.StatusNotFound, "NoSuchBucket", "Bucket not found", "Bucket not found")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode reads a JSON body strictly into v: application/json, no unknown
// fields, nothing after the value.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.badRequest(w, r, "body must be JSON (Content-Type: application/json)")
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.badRequest(w, r, "body is not the JSON expected: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		s.badRequest(w, r, "body has data after its JSON value")
		return false
	}
	return true
}

// splitBucketKey splits "<bucket>/<key>".
func splitBucketKey(bk string) (string, string) {
	b, k, _ := strings.Cut(bk, "/")
	return b, k
}

// validKey applies Storage's key rules, short of its "characters to avoid".
func validKey(key string) bool {
	if key == "" || len(key) > 1024 || !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		if r < 0x20 || r >= 0x7f && r <= 0x9f {
			return false
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
}

// bucketJSON is Storage's bucket shape.
func bucketJSON(b *bucket) map[string]any {
	ts := b.created.Format(time.RFC3339Nano)
	return map[string]any{"id": b.id, "name": b.name, "owner": "", "public": b.public, "created_at": ts, "updated_at": ts,
		"file_size_limit": nil, "allowed_mime_types": nil}
}

// getBucket: GET /bucket/{id}.
func (s *Server) getBucket(w http.ResponseWriter, id string) {
	s.mu.Lock()
	b, ok := s.buckets[id]
	var v map[string]any
	if ok {
		v = bucketJSON(b)
	}
	s.mu.Unlock()
	if !ok {
		s.noSuchBucket(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// createBucket: POST /bucket {id?, name, public?, file_size_limit?,
// allowed_mime_types?}.
func (s *Server) createBucket(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID               *string  `json:"id"`
		Name             *string  `json:"name"`
		Public           *bool    `json:"public"`
		FileSizeLimit    any      `json:"file_size_limit"`
		AllowedMimeTypes []string `json:"allowed_mime_types"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.Name == nil {
		s.badRequest(w, r, "body must have required property 'name'")
		return
	}
	id := *in.Name
	if in.ID != nil && *in.ID != "" {
		id = *in.ID
	}
	s.mu.Lock()
	_, exists := s.buckets[id]
	if !exists {
		s.buckets[id] = &bucket{id: id, name: *in.Name, public: in.Public != nil && *in.Public,
			created: s.clock.Now().UTC(), objects: map[string]*object{}}
	}
	s.mu.Unlock()
	if exists {
		s.storageError(w, http.StatusConflict, "BucketAlreadyExists", "Duplicate", "The resource already exists")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": *in.Name})
}

// upload: POST /object/{bucket}/{key}, the content as the raw body.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, bk string, idx int) {
	bucketID, key := splitBucketKey(bk)
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case ct == "" || err != nil:
		s.badRequest(w, r, "upload without a valid Content-Type")
		return
	case mt == "multipart/form-data":
		s.badRequest(w, r, "a form upload; the stand-in takes the content as the raw body")
		return
	case !validKey(key):
		s.storageError(w, http.StatusBadRequest, "InvalidKey", "InvalidKey", "Invalid key: "+key)
		return
	}
	upsert := r.Header.Get("x-upsert") == "true"
	s.mu.Lock()
	b, ok := s.buckets[bucketID]
	exists := ok && b.objects[key] != nil
	s.mu.Unlock()
	switch {
	case !ok:
		s.noSuchBucket(w)
		return
	case exists && !upsert:
		s.storageError(w, http.StatusConflict, "Duplicate", "Duplicate", "The resource already exists")
		return
	}

	f, err := os.CreateTemp(s.dir, "object-*")
	if err != nil {
		s.t.Errorf("supabasetest: %v", err)
		s.storageError(w, http.StatusInternalServerError, "InternalError", "InternalError", "Internal server error")
		return
	}
	sum := md5.New()
	n, err := io.Copy(io.MultiWriter(f, sum), r.Body)
	closeErr := f.Close()
	s.mu.Lock()
	s.requests[idx].Uploaded = n
	s.requests[idx].Aborted = err != nil
	s.mu.Unlock()
	if err != nil || closeErr != nil { // the client gave up: nothing is stored
		os.Remove(f.Name())
		if err == nil {
			s.t.Errorf("supabasetest: %v", closeErr)
		}
		s.storageError(w, http.StatusBadRequest, "InvalidRequest", "InvalidRequest", "upload did not complete")
		return
	}
	cacheControl := r.Header.Get("Cache-Control")
	if cacheControl == "" {
		cacheControl = "no-cache"
	}
	now := s.clock.Now().UTC()
	s.mu.Lock()
	b, ok = s.buckets[bucketID]
	var id string
	if ok {
		o := &object{file: f.Name(), size: n, contentType: ct, cacheControl: cacheControl,
			etag: `"` + hex.EncodeToString(sum.Sum(nil)) + `"`, created: now, updated: now}
		if old := b.objects[key]; old != nil {
			o.id, o.created = old.id, old.created
			os.Remove(old.file) // open readers keep reading it
		} else {
			o.id = s.newID()
		}
		b.objects[key] = o
		id = o.id
	}
	s.mu.Unlock()
	if !ok {
		os.Remove(f.Name())
		s.noSuchBucket(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"Key": bucketID + "/" + key, "Id": id})
}

// open finds an object and opens its file.
func (s *Server) open(bucketID, key string) (*object, *os.File, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketID]
	if !ok {
		return nil, nil, "bucket"
	}
	o := b.objects[key]
	if o == nil {
		return nil, nil, "key"
	}
	f, err := os.Open(o.file)
	if err != nil {
		s.t.Errorf("supabasetest: %v", err)
		return nil, nil, "key"
	}
	copied := *o
	return &copied, f, ""
}

func (s *Server) missing(w http.ResponseWriter, what string) {
	if what == "bucket" {
		s.noSuchBucket(w)
		return
	}
	s.noSuchKey(w)
}

// get: GET or HEAD /object/authenticated/{bucket}/{key} (and the older
// /object/{bucket}/{key}).
func (s *Server) get(w http.ResponseWriter, r *http.Request, bk string) {
	bucketID, key := splitBucketKey(bk)
	o, f, what := s.open(bucketID, key)
	if o == nil {
		s.missing(w, what)
		return
	}
	defer f.Close()
	s.serveObject(w, r, o, f, "")
}

// serveObject sends an object's content as Storage's renderer does: with
// expires (a signed URL's) as Expires, else the object's Cache-Control,
// and as an attachment when the query has download.
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, o *object, f *os.File, expires string) {
	q := r.URL.Query()
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", servedType(o.contentType))
	h.Set("ETag", o.etag)
	if expires != "" {
		h.Set("Expires", expires)
	} else {
		h.Set("Cache-Control", o.cacheControl)
	}
	if q.Has("download") {
		if name := q.Get("download"); name == "" {
			h.Set("Content-Disposition", "attachment;")
		} else {
			enc := encodeURIComponent(name)
			h.Set("Content-Disposition", "attachment; filename="+enc+"; filename*=UTF-8''"+enc+";")
		}
	}
	http.ServeContent(w, r, "", o.updated, f)
}

// servedType is Storage's: HTML is served as plain text.
func servedType(ct string) string {
	if strings.Contains(ct, "text/html") {
		return "text/plain"
	}
	return ct
}

// encodeURIComponent is JavaScript's.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// info: GET /object/info/authenticated/{bucket}/{key}.
func (s *Server) info(w http.ResponseWriter, bk string) {
	bucketID, key := splitBucketKey(bk)
	o, f, what := s.open(bucketID, key)
	if o == nil {
		s.missing(w, what)
		return
	}
	f.Close()
	h := w.Header()
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.updated.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", o.cacheControl)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": o.id, "name": key, "version": o.id, "bucket_id": bucketID, "size": o.size,
		"content_type": o.contentType, "cache_control": o.cacheControl, "etag": o.etag, "metadata": nil,
		"last_modified": o.updated.Format(time.RFC3339Nano), "created_at": o.created.Format(time.RFC3339Nano),
	})
}

// metadata is the "metadata" Storage keeps for an object.
func metadata(o *object) map[string]any {
	return map[string]any{"eTag": o.etag, "size": o.size, "mimetype": o.contentType, "cacheControl": o.cacheControl,
		"lastModified": o.updated.Format(time.RFC3339Nano), "contentLength": o.size, "httpStatusCode": 200}
}

// deleteObjects: DELETE /object/{bucket} {"prefixes": [names]}, which
// removes exactly the objects named and returns them.
func (s *Server) deleteObjects(w http.ResponseWriter, r *http.Request, bucketID string) {
	var in struct {
		Prefixes *[]string `json:"prefixes"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	switch {
	case in.Prefixes == nil:
		s.badRequest(w, r, "body must have required property 'prefixes'")
		return
	case len(*in.Prefixes) == 0:
		s.badRequest(w, r, "body/prefixes must NOT have fewer than 1 items")
		return
	case len(*in.Prefixes) > maxDeleteKeys:
		s.badRequest(w, r, fmt.Sprintf("Bulk object requests are limited to %d objects per request.", maxDeleteKeys))
		return
	}
	s.mu.Lock()
	b, ok := s.buckets[bucketID]
	removed := []map[string]any{}
	if ok {
		for _, k := range *in.Prefixes {
			o := b.objects[k]
			if o == nil {
				continue
			}
			delete(b.objects, k)
			os.Remove(o.file)
			removed = append(removed, map[string]any{"bucket_id": bucketID, "name": k, "id": o.id, "owner": "",
				"updated_at": o.updated.Format(time.RFC3339Nano), "created_at": o.created.Format(time.RFC3339Nano),
				"last_accessed_at": o.updated.Format(time.RFC3339Nano), "metadata": metadata(o)})
		}
	}
	s.mu.Unlock()
	if !ok {
		s.noSuchBucket(w)
		return
	}
	writeJSON(w, http.StatusOK, removed)
}

// list: POST /object/list/{bucket} {prefix, limit?, offset?, sortBy?,
// search?}: one folder level, folders first (id null), then objects.
func (s *Server) list(w http.ResponseWriter, r *http.Request, bucketID string) {
	type sortBy struct {
		Column *string `json:"column"`
		Order  string  `json:"order"`
	}
	var in struct {
		Prefix *string `json:"prefix"`
		Limit  *int    `json:"limit"`
		Offset *int    `json:"offset"`
		SortBy *sortBy `json:"sortBy"`
		Search string  `json:"search"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	limit, offset, column, desc := 100, 0, "name", false
	switch {
	case in.Prefix == nil:
		s.badRequest(w, r, "body must have required property 'prefix'")
		return
	case in.Limit != nil && *in.Limit < 1:
		s.badRequest(w, r, "body/limit must be >= 1")
		return
	case in.Offset != nil && *in.Offset < 0:
		s.badRequest(w, r, "body/offset must be >= 0")
		return
	case in.SortBy != nil && in.SortBy.Column == nil:
		s.badRequest(w, r, "body/sortBy must have required property 'column'")
		return
	}
	if in.Limit != nil {
		limit = *in.Limit
	}
	if in.Offset != nil {
		offset = *in.Offset
	}
	if in.SortBy != nil {
		column = *in.SortBy.Column
		switch column {
		case "name", "updated_at", "created_at", "last_accessed_at":
		default:
			s.badRequest(w, r, "body/sortBy/column must be equal to one of the allowed values")
			return
		}
		switch in.SortBy.Order {
		case "", "asc":
		case "desc":
			desc = true
		default:
			s.badRequest(w, r, "body/sortBy/order must be equal to one of the allowed values")
			return
		}
	}
	prefix := *in.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/" // Storage takes the prefix as a folder
	}
	level := strings.Count(prefix, "/") // index of the name at this level
	pattern := strings.ToLower(prefix + in.Search)

	s.mu.Lock()
	b, ok := s.buckets[bucketID]
	folderSet := map[string]bool{}
	type file struct {
		name string
		o    *object
	}
	var files []file
	if ok {
		for k, o := range b.objects {
			if !strings.HasPrefix(strings.ToLower(k), pattern) {
				continue
			}
			tokens := strings.Split(k, "/")
			if len(tokens) <= level {
				continue
			}
			if len(tokens) == level+1 {
				files = append(files, file{tokens[level], o})
			} else {
				folderSet[tokens[level]] = true
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		s.noSuchBucket(w)
		return
	}
	folders := make([]string, 0, len(folderSet))
	for f := range folderSet {
		folders = append(folders, f)
	}
	sort.Slice(folders, func(i, j int) bool { return folders[i] < folders[j] != desc })
	sort.Slice(files, func(i, j int) bool {
		a, c := files[i], files[j]
		less := a.name < c.name
		switch column {
		case "updated_at", "last_accessed_at":
			less = a.o.updated.Before(c.o.updated)
		case "created_at":
			less = a.o.created.Before(c.o.created)
		}
		return less != desc
	})
	entries := []map[string]any{}
	for _, f := range folders {
		entries = append(entries, map[string]any{"name": f, "id": nil, "updated_at": nil, "created_at": nil,
			"last_accessed_at": nil, "metadata": nil})
	}
	for _, f := range files {
		ts := f.o.updated.Format(time.RFC3339Nano)
		entries = append(entries, map[string]any{"name": f.name, "id": f.o.id, "updated_at": ts,
			"created_at": f.o.created.Format(time.RFC3339Nano), "last_accessed_at": ts, "metadata": metadata(f.o)})
	}
	entries = entries[min(offset, len(entries)):]
	entries = entries[:min(limit, len(entries))]
	writeJSON(w, http.StatusOK, entries)
}

// sign: POST /object/sign/{bucket}/{key} {"expiresIn": seconds} →
// {"signedURL": "/object/sign/{bucket}/{key}?token=…"}, the path unescaped
// as Storage returns it.
func (s *Server) sign(w http.ResponseWriter, r *http.Request, bk string) {
	var in struct {
		ExpiresIn *json.Number `json:"expiresIn"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.ExpiresIn == nil {
		s.badRequest(w, r, "body must have required property 'expiresIn'")
		return
	}
	secs, err := strconv.ParseInt(in.ExpiresIn.String(), 10, 64)
	if err != nil || secs < 1 {
		s.badRequest(w, r, "body/expiresIn must be an integer >= 1")
		return
	}
	bucketID, key := splitBucketKey(bk)
	o, f, what := s.open(bucketID, key)
	if o == nil {
		s.missing(w, what)
		return
	}
	f.Close()
	tok := s.Token(bucketID, key, s.clock.Now().Add(time.Duration(secs)*time.Second))
	writeJSON(w, http.StatusOK, map[string]string{"signedURL": "/object/sign/" + bucketID + "/" + key + "?token=" + tok})
}

// serveSigned: GET /object/sign/{bucket}/{key}?token=…[&download=…], no
// other credential.
func (s *Server) serveSigned(w http.ResponseWriter, r *http.Request, bk string) {
	q := r.URL.Query()
	token := q.Get("token")
	if token == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "code": "FST_ERR_VALIDATION", "error": "Bad Request",
			"message": "querystring must have required property 'token'"})
		return
	}
	var claims signClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.clock.Now), jwt.WithExpirationRequired())
	if err != nil {
		msg := "jwt malformed"
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			msg = "jwt expired"
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			msg = "invalid signature"
		}
		s.storageError(w, http.StatusBadRequest, "InvalidJWT", "InvalidJWT", msg)
		return
	}
	if claims.URL != bk {
		s.storageError(w, http.StatusBadRequest, "InvalidSignature", "InvalidSignature", "Invalid signature")
		return
	}
	bucketID, key := splitBucketKey(bk)
	o, f, what := s.open(bucketID, key)
	if o == nil {
		s.missing(w, what)
		return
	}
	defer f.Close()
	s.serveObject(w, r, o, f, claims.ExpiresAt.UTC().Format(http.TimeFormat))
}
