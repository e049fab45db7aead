package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// DefaultSupabaseTimeout bounds each Supabase Storage request that moves no
// object content, unless SupabaseOptions says otherwise.
const DefaultSupabaseTimeout = 30 * time.Second

// supabaseCacheControl is stored with every object and sent back by Storage
// (and its CDN) with it: caches may keep a copy but must revalidate it, so
// an object replaced under the same key is never served stale.
const supabaseCacheControl = "no-cache"

// Limits of what is read from Storage's answers: an error's body, and a JSON
// answer (a page of a listing is the largest).
const (
	maxSupabaseErrorBody = 64 << 10
	maxSupabaseJSONBody  = 32 << 20
)

// supabaseBatch is how many entries DeletePrefix asks for per listing page
// and removes per request: Storage deletes at most 1,000 objects a request.
const supabaseBatch = 1000

// SupabaseOptions configures a SupabaseStorage.
type SupabaseOptions struct {
	// URL is the project's URL (SUPABASE_URL), such as
	// "https://abcd.supabase.co"; Storage's REST API is under /storage/v1.
	URL string
	// ServiceRoleKey (SUPABASE_SERVICE_ROLE_KEY) authorises every request.
	// It bypasses row-level security, so it never leaves the server: it is
	// sent only to URL, in the Authorization and apikey headers, and never
	// appears in an error.
	ServiceRoleKey string
	// HTTPClient sends the requests; nil means a client on
	// http.DefaultTransport. Redirects are never followed (the client is
	// copied with CheckRedirect replaced), so the key cannot travel to
	// another host.
	HTTPClient *http.Client
	// Timeout bounds each request that moves no object content, Open's wait
	// for the response headers, and Put's wait for Storage's answer once the
	// content is sent; 0 means DefaultSupabaseTimeout. Moving the content
	// itself is bounded by the caller's context only, since audio files can
	// be large.
	Timeout time.Duration
}

// SupabaseStorage keeps objects in Supabase Storage through its REST API,
// authorised by the project's service-role key. Buckets are private: objects
// are read through the API or through signed URLs that Storage serves.
//
// Storage answers most errors with HTTP 400 and the real status in the
// body's "statusCode" (newer versions may use the real HTTP status); both
// are understood. A refused key is KindUnavailable "storage_key_refused" (the
// server is misconfigured; the caller did nothing wrong), Storage being down
// or unreachable KindUnavailable "storage_unavailable".
type SupabaseStorage struct {
	base    string // scheme://host[/path]/storage/v1
	key     string
	client  *http.Client
	timeout time.Duration
	buckets map[string]bool
	order   []string // the buckets in the order given, for Ping

	// listLimit and deleteBatch are supabaseBatch; tests make them small.
	listLimit, deleteBatch int
}

var _ echogen.BlobStore = (*SupabaseStorage)(nil)

// NewSupabase returns a store for the named buckets of the project at
// opts.URL. It checks each bucket and creates the missing ones as private
// buckets; an existing public bucket is refused, since anyone could then
// read the media it holds without a signed URL.
func NewSupabase(ctx context.Context, opts SupabaseOptions, buckets ...string) (*SupabaseStorage, error) {
	base, err := supabaseBase(opts.URL)
	if err != nil {
		return nil, err
	}
	if err := checkServiceRoleKey(opts.ServiceRoleKey); err != nil {
		return nil, err
	}
	if len(buckets) == 0 {
		return nil, errors.New("supabase storage: no buckets")
	}
	s := &SupabaseStorage{
		base:        base,
		key:         opts.ServiceRoleKey,
		timeout:     opts.Timeout,
		buckets:     map[string]bool{},
		listLimit:   supabaseBatch,
		deleteBatch: supabaseBatch,
	}
	if s.timeout <= 0 {
		s.timeout = DefaultSupabaseTimeout
	}
	client := http.Client{}
	if opts.HTTPClient != nil {
		client = *opts.HTTPClient
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.client = &client
	for _, b := range buckets {
		if !validBucketName(b) {
			return nil, fmt.Errorf("supabase storage: invalid bucket name %q", b)
		}
		if !s.buckets[b] {
			s.buckets[b] = true
			s.order = append(s.order, b)
		}
	}
	for _, b := range s.order {
		if err := s.ensureBucket(ctx, b); err != nil {
			return nil, fmt.Errorf("supabase storage: %w", err)
		}
	}
	return s, nil
}

// supabaseBase checks the project URL and returns Storage's API base.
func supabaseBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("supabase URL %q: want http(s)://host[:port], the project's URL", raw)
	}
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	p = strings.TrimSuffix(p, "/storage/v1") // tolerate Storage's own URL
	return u.Scheme + "://" + u.Host + p + "/storage/v1", nil
}

// checkServiceRoleKey refuses a key that could not be sent as a header. The
// key is never quoted.
func checkServiceRoleKey(key string) error {
	if key == "" {
		return errors.New("supabase storage: the service-role key is required")
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return errors.New("supabase storage: the service-role key contains spaces or characters a header cannot carry")
		}
	}
	return nil
}

// supabaseBucket is what Storage says about a bucket.
type supabaseBucket struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Public bool   `json:"public"`
}

// ensureBucket checks that bucket exists and is private, creating it when
// it is missing.
func (s *SupabaseStorage) ensureBucket(ctx context.Context, bucket string) error {
	var b supabaseBucket
	_, err := s.call(ctx, "check bucket "+bucket, "Bucket", http.MethodGet, "/bucket/"+url.PathEscape(bucket), nil, &b)
	switch {
	case err == nil:
		if b.Public {
			return fmt.Errorf("bucket %q is public, so anyone could read its objects without a signed URL; make it private in the Supabase dashboard", bucket)
		}
		return nil
	case echogen.ErrorCode(err) != "bucket_missing":
		return err
	}
	create := struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Public bool   `json:"public"`
	}{bucket, bucket, false}
	_, err = s.call(ctx, "create bucket "+bucket, "Bucket", http.MethodPost, "/bucket", create, nil)
	if echogen.ErrorCode(err) == "storage_conflict" {
		return nil // created meanwhile, by another instance
	}
	return err
}

// check validates bucket and key.
func (s *SupabaseStorage) check(bucket, key string) error {
	if !s.buckets[bucket] {
		return unknownBucket(bucket)
	}
	return validateKey(key)
}

// objectPath returns /object/<kind><bucket>/<key>, each key segment escaped.
func objectPath(kind, bucket, key string) string {
	var b strings.Builder
	b.WriteString("/object/")
	b.WriteString(kind)
	b.WriteString(url.PathEscape(bucket))
	for seg := range strings.SplitSeq(key, "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	return b.String()
}

// newRequest builds an authorised request to Storage.
func (s *SupabaseStorage) newRequest(ctx context.Context, method, p string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+p, body)
	if err != nil {
		return nil, fmt.Errorf("supabase storage request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("apikey", s.key)
	req.Header.Set("User-Agent", "echogen-server")
	return req, nil
}

// call sends one request that moves no object content, bounded by the
// timeout: in, when not nil, is sent as JSON, and a successful answer is
// decoded into out, when not nil; its headers are returned. what ("Object"
// or "Bucket") says what a 404 is about.
func (s *SupabaseStorage) call(ctx context.Context, op, what, method, p string, in, out any) (http.Header, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := s.newRequest(rctx, method, p, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, s.responseError(op, what, resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSupabaseErrorBody))
		return resp.Header, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSupabaseJSONBody)).Decode(out); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		if rctx.Err() != nil {
			return nil, s.timeoutError(op)
		}
		return nil, fmt.Errorf("%s: Supabase Storage's answer is not the JSON expected: %w", op, err)
	}
	return resp.Header, nil
}

// Put streams r to Storage in one upload of unknown length (chunked
// transfer encoding over HTTP/1.1), replacing any object at the key. Storage
// stores an upload only once it has arrived whole, so when r fails or ctx
// ends first the request is aborted (the final chunk is never sent) and the
// old object, if any, stays.
func (s *SupabaseStorage) Put(ctx context.Context, bucket, key string, r io.Reader, contentType string) (int64, error) {
	if err := s.check(bucket, key); err != nil {
		return 0, err
	}
	ct, err := normalizeContentType(contentType)
	if err != nil {
		return 0, err
	}
	if mt, _, _ := mime.ParseMediaType(ct); mt == "multipart/form-data" {
		// Storage would parse the content as a form upload.
		return 0, echogen.Errorf(echogen.KindInvalid, "invalid_content_type", "content type multipart/form-data cannot be stored in Supabase Storage")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var answer struct {
		sync.Mutex
		timer    *time.Timer
		timedOut bool
	}
	body := &uploadBody{ctx: rctx, r: r, closed: make(chan struct{})}
	body.onEOF = func() { // the content is out: Storage now has Timeout to answer
		answer.Lock()
		defer answer.Unlock()
		answer.timer = time.AfterFunc(s.timeout, func() {
			answer.Lock()
			answer.timedOut = true
			answer.Unlock()
			cancel()
		})
	}
	req, err := s.newRequest(rctx, http.MethodPost, objectPath("", bucket, key), body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = -1 // unknown: streamed, never buffered or probed
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Cache-Control", supabaseCacheControl)
	req.Header.Set("x-upsert", "true")
	resp, doErr := s.client.Do(req)
	var respErr error
	if doErr == nil {
		func() {
			defer resp.Body.Close()
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				respErr = s.responseError("put object", "Object", resp)
				return
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSupabaseErrorBody))
		}()
	}
	answer.Lock()
	if answer.timer != nil {
		answer.timer.Stop()
	}
	timedOut := answer.timedOut
	answer.Unlock()
	// The transport may still be reading r in its own goroutine; stop it
	// and wait until it has let go of r, so the caller may reuse r.
	cancel()
	select {
	case <-body.closed:
	case <-time.After(s.timeout):
	}
	n, srcErr := body.result()
	switch {
	case srcErr != nil:
		return 0, fmt.Errorf("put object: %w", srcErr) // the source failed: the upload was aborted
	case ctx.Err() != nil:
		return 0, fmt.Errorf("put object: %w", ctx.Err())
	case doErr != nil && timedOut:
		return 0, s.timeoutError("put object")
	case doErr != nil:
		return 0, s.transportError(ctx, "put object", doErr)
	case respErr != nil:
		return 0, respErr
	}
	return n, nil
}

// uploadBody is Put's request body: it stops once ctx is done (the
// transport then aborts the request), counts what it passes on, keeps the
// source's own error apart from the context's, and says when the transport
// closes it.
type uploadBody struct {
	ctx   context.Context
	r     io.Reader
	onEOF func()

	mu     sync.Mutex
	n      int64
	err    error
	eof    bool
	closed chan struct{}
	once   sync.Once
}

func (u *uploadBody) Read(p []byte) (int, error) {
	if err := u.ctx.Err(); err != nil {
		return 0, err // not the source's error
	}
	n, err := u.r.Read(p)
	u.mu.Lock()
	u.n += int64(n)
	fire := false
	switch {
	case err == io.EOF:
		fire, u.eof = !u.eof, true
	case err != nil && u.err == nil:
		u.err = err
	}
	u.mu.Unlock()
	if fire {
		u.onEOF()
	}
	return n, err
}

func (u *uploadBody) Close() error {
	u.once.Do(func() { close(u.closed) })
	return nil
}

func (u *uploadBody) result() (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n, u.err
}

// Open reads an object (GET /object/authenticated/<bucket>/<key>). The
// timeout bounds the wait for the response headers; reading the content is
// bounded by ctx. The content type is the one Storage serves, which for
// HTML is text/plain (Storage's guard against stored pages running); Stat
// reports the type stored.
func (s *SupabaseStorage) Open(ctx context.Context, bucket, key string) (io.ReadCloser, *echogen.BlobInfo, error) {
	if err := s.check(bucket, key); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	req, err := s.newRequest(rctx, http.MethodGet, objectPath("authenticated/", bucket, key), nil)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	// Exactly the stored bytes: no transparent decompression, whose length
	// would differ from the object's.
	req.Header.Set("Accept-Encoding", "identity")
	timer := time.AfterFunc(s.timeout, cancel)
	resp, err := s.client.Do(req)
	inTime := timer.Stop()
	if err != nil {
		cancel()
		if !inTime && ctx.Err() == nil {
			return nil, nil, s.timeoutError("open object")
		}
		return nil, nil, s.transportError(ctx, "open object", err)
	}
	if !inTime {
		resp.Body.Close()
		cancel()
		return nil, nil, s.timeoutError("open object")
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		return nil, nil, s.responseError("open object", "Object", resp)
	}
	info := &echogen.BlobInfo{
		Size:        resp.ContentLength,
		ContentType: resp.Header.Get("Content-Type"),
		ModTime:     parseHTTPTime(resp.Header.Get("Last-Modified")),
		ETag:        quoteETag(resp.Header.Get("ETag")),
	}
	if info.Size < 0 { // no Content-Length: ask
		st, err := s.Stat(ctx, bucket, key)
		if err != nil {
			resp.Body.Close()
			cancel()
			return nil, nil, err
		}
		info.Size = st.Size
	}
	return &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, info, nil
}

// cancelOnClose releases the request's context with the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// supabaseInfo is Storage's object info (GET /object/info/…).
type supabaseInfo struct {
	Size         *int64 `json:"size"`
	ContentType  string `json:"content_type"`
	ETag         string `json:"etag"`
	LastModified string `json:"last_modified"`
}

// Stat describes an object (GET /object/info/authenticated/<bucket>/<key>).
// Size and content type come from the info's JSON; the ETag and
// modification time from its ETag and Last-Modified headers, the same
// source (the stored file) as Open's headers, so the two agree.
func (s *SupabaseStorage) Stat(ctx context.Context, bucket, key string) (*echogen.BlobInfo, error) {
	if err := s.check(bucket, key); err != nil {
		return nil, err
	}
	var in supabaseInfo
	header, err := s.call(ctx, "stat object", "Object", http.MethodGet, objectPath("info/authenticated/", bucket, key), nil, &in)
	if err != nil {
		return nil, err
	}
	if in.Size == nil {
		return nil, errors.New("stat object: Supabase Storage's info has no size")
	}
	info := &echogen.BlobInfo{
		Size:        *in.Size,
		ContentType: in.ContentType,
		ModTime:     parseHTTPTime(header.Get("Last-Modified")),
		ETag:        quoteETag(header.Get("ETag")),
	}
	if info.ModTime.IsZero() {
		if t, err := time.Parse(time.RFC3339Nano, in.LastModified); err == nil {
			info.ModTime = t.UTC().Truncate(time.Second)
		}
	}
	if info.ETag == "" {
		info.ETag = quoteETag(in.ETag)
	}
	return info, nil
}

// parseHTTPTime parses an HTTP date; the zero time when there is none.
func parseHTTPTime(v string) time.Time {
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// quoteETag returns the ETag in its quoted HTTP form, as the other stores
// give it; "" stays "".
func quoteETag(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	v = strings.Trim(v, `"`)
	if v == "" {
		return ""
	}
	return `"` + v + `"`
}

// Delete removes an object (DELETE /object/<bucket> {"prefixes": [key]},
// which removes exactly the keys named); a missing one is not an error.
func (s *SupabaseStorage) Delete(ctx context.Context, bucket, key string) error {
	if err := s.check(bucket, key); err != nil {
		return err
	}
	_, err := s.deleteKeys(ctx, bucket, []string{key})
	return err
}

// deleteKeys removes the named objects and returns how many Storage
// removed.
func (s *SupabaseStorage) deleteKeys(ctx context.Context, bucket string, keys []string) (int, error) {
	var removed []json.RawMessage
	in := struct {
		Prefixes []string `json:"prefixes"`
	}{keys}
	if _, err := s.call(ctx, "delete objects", "Object", http.MethodDelete, "/object/"+url.PathEscape(bucket), in, &removed); err != nil {
		return 0, err
	}
	return len(removed), nil
}

// supabaseEntry is one entry of a listing: an object, or a folder (id null).
type supabaseEntry struct {
	Name string  `json:"name"`
	ID   *string `json:"id"`
}

// DeletePrefix removes every object whose key starts with prefix and
// returns how many it removed. Storage lists one folder level at a time
// (POST /object/list/<bucket>), folders coming back as entries with a null
// id, so it walks the folders under the prefix, then removes what it found
// in batches of up to 1,000 keys. Storage matches listings case-
// insensitively; every name is checked again here, and removals name exact
// keys, so nothing outside the prefix is touched.
func (s *SupabaseStorage) DeletePrefix(ctx context.Context, bucket, prefix string) (int, error) {
	if !s.buckets[bucket] {
		return 0, unknownBucket(bucket)
	}
	if err := validatePrefix(prefix); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// A prefix ends inside a name ("u/ab" matches "u/abc.mp3" and "u/ab/x"):
	// list the folder it points into, searching for the rest.
	folder, rest := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		folder, rest = prefix[:i], prefix[i+1:]
	}
	var keys []string
	if err := s.walk(ctx, bucket, folder, rest, &keys); err != nil {
		return 0, err
	}
	removed := 0
	for len(keys) > 0 {
		n := min(len(keys), s.deleteBatch)
		k, err := s.deleteKeys(ctx, bucket, keys[:n])
		removed += k
		if err != nil {
			return removed, err
		}
		keys = keys[n:]
	}
	return removed, nil
}

// walk adds to keys every object in folder, and in the folders below it,
// whose name at this level starts with search.
func (s *SupabaseStorage) walk(ctx context.Context, bucket, folder, search string, keys *[]string) error {
	type sortBy struct {
		Column string `json:"column"`
		Order  string `json:"order"`
	}
	in := struct {
		Prefix string `json:"prefix"`
		Search string `json:"search,omitempty"`
		Limit  int    `json:"limit"`
		Offset int    `json:"offset"`
		SortBy sortBy `json:"sortBy"`
	}{Prefix: folder, Search: search, Limit: s.listLimit, SortBy: sortBy{"name", "asc"}}
	var folders []string
	for {
		var page []supabaseEntry
		if _, err := s.call(ctx, "list objects", "Object", http.MethodPost, "/object/list/"+url.PathEscape(bucket), in, &page); err != nil {
			return err
		}
		for _, e := range page {
			if e.Name == "" || strings.Contains(e.Name, "/") || !strings.HasPrefix(e.Name, search) {
				continue // not under the prefix (a case-insensitive match), or malformed
			}
			full := e.Name
			if folder != "" {
				full = folder + "/" + e.Name
			}
			if e.ID == nil {
				folders = append(folders, full)
			} else {
				*keys = append(*keys, full)
			}
		}
		if len(page) < in.Limit {
			break
		}
		in.Offset += len(page)
	}
	for _, f := range folders {
		if err := s.walk(ctx, bucket, f, "", keys); err != nil {
			return err
		}
	}
	return nil
}

// SignedURL asks Storage to sign a URL for the object (POST
// /object/sign/<bucket>/<key> {"expiresIn": seconds}) and returns the
// absolute URL, which Storage itself serves (GET /object/sign/…?token=…)
// with Range support. ttl is rounded up to a whole second. With download
// set it adds Storage's download parameter, naming the file after the key's
// last segment, so the answer is an attachment. A missing object is
// KindNotFound: Storage signs only objects that exist.
func (s *SupabaseStorage) SignedURL(ctx context.Context, bucket, key string, ttl time.Duration, download bool) (string, error) {
	if err := s.check(bucket, key); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > MaxSignedURLTTL {
		return "", fmt.Errorf("signed URL lifetime %v is not within (0, %v]", ttl, MaxSignedURLTTL)
	}
	in := struct {
		ExpiresIn int64 `json:"expiresIn"`
	}{int64(math.Ceil(ttl.Seconds()))}
	var out struct {
		SignedURL string `json:"signedURL"`
	}
	p := objectPath("sign/", bucket, key)
	if _, err := s.call(ctx, "sign object URL", "Object", http.MethodPost, p, in, &out); err != nil {
		return "", err
	}
	// Storage answers "/object/sign/<bucket>/<key>?token=…" with the key as
	// it was decoded, unescaped; the URL is rebuilt with the key escaped
	// here, so spaces and other characters survive.
	i := strings.LastIndexByte(out.SignedURL, '?')
	if i < 0 || !strings.HasPrefix(out.SignedURL, "/object/sign/") {
		return "", errors.New("sign object URL: Supabase Storage's answer has no signed URL")
	}
	q, err := url.ParseQuery(out.SignedURL[i+1:])
	token := q.Get("token")
	if err != nil || token == "" {
		return "", errors.New("sign object URL: Supabase Storage's signed URL has no token")
	}
	u := s.base + p + "?token=" + url.QueryEscape(token)
	if download {
		u += "&download=" + queryEscape(path.Base(key))
	}
	return u, nil
}

// Ping checks that Storage answers, accepts the key, and has every bucket.
func (s *SupabaseStorage) Ping(ctx context.Context) error {
	for _, b := range s.order {
		var info supabaseBucket
		if _, err := s.call(ctx, "check bucket "+b, "Bucket", http.MethodGet, "/bucket/"+url.PathEscape(b), nil, &info); err != nil {
			return err
		}
	}
	return nil
}

// supabaseError is Storage's error body. statusCode is a string ("404"),
// tolerated as a number.
type supabaseError struct {
	StatusCode json.RawMessage `json:"statusCode"`
	Code       string          `json:"code"`
	Error      string          `json:"error"`
	Message    string          `json:"message"`
}

// responseError maps an unsuccessful answer to an error. what is "Object" or
// "Bucket": what a 404 is about.
func (s *SupabaseStorage) responseError(op, what string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxSupabaseErrorBody))
	var body supabaseError
	_ = json.Unmarshal(raw, &body)
	status := resp.StatusCode
	if sc, err := strconv.Atoi(strings.Trim(string(body.StatusCode), `"`)); err == nil && sc >= 100 && sc <= 599 && status < 500 {
		status = sc // Storage's classic 400 carries the real status in the body
	}
	msg := body.Message
	if msg == "" {
		msg = body.Error
	}
	if msg == "" && len(raw) > 0 && body.StatusCode == nil {
		msg = strings.TrimSpace(string(raw)) // a gateway's or proxy's own text
	}
	msg = s.scrub(truncate(msg, 300))
	detail := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if status != resp.StatusCode {
		detail += fmt.Sprintf(", status %d", status)
	}
	for _, v := range []string{body.Code, body.Error} {
		if v != "" && !strings.Contains(detail, v) {
			detail += ", " + s.scrub(truncate(v, 100))
		}
	}
	cause := fmt.Errorf("%s: Supabase Storage answered %s: %s", op, detail, msg)
	e := func(kind echogen.Kind, code, format string, args ...any) error {
		err := echogen.Errorf(kind, code, format, args...)
		err.Err = cause
		return err
	}
	code := body.Code
	switch {
	case resp.StatusCode >= 500 || status >= 500 || resp.StatusCode == http.StatusTooManyRequests || status == http.StatusTooManyRequests:
		return e(echogen.KindUnavailable, "storage_unavailable", "Supabase Storage is unavailable")
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		status == http.StatusUnauthorized || status == http.StatusForbidden ||
		code == "InvalidJWT" || code == "AccessDenied":
		return e(echogen.KindUnavailable, "storage_key_refused",
			"Supabase Storage refused the server's service-role key (SUPABASE_SERVICE_ROLE_KEY); the server is misconfigured")
	case status == http.StatusNotFound && (body.StatusCode == nil || strings.HasPrefix(body.Message, "Route ")):
		// Not Storage's "not found" but a router's or proxy's: the request
		// went somewhere that is not (this version of) Storage.
		return e(echogen.KindUnavailable, "storage_unexpected_answer",
			"Supabase Storage does not know this request; check SUPABASE_URL and Storage's version")
	case status == http.StatusNotFound:
		if what == "Bucket" || code == "NoSuchBucket" || strings.EqualFold(body.Error, "Bucket not found") || strings.EqualFold(body.Message, "Bucket not found") {
			return e(echogen.KindUnavailable, "bucket_missing", "a Supabase Storage bucket is missing")
		}
		nf := echogen.NotFound(what)
		nf.Err = cause
		return nf
	case status == http.StatusConflict:
		return e(echogen.KindConflict, "storage_conflict", "the Supabase Storage resource already exists")
	case status == http.StatusRequestEntityTooLarge || code == "EntityTooLarge":
		return e(echogen.KindTooLarge, "object_too_large", "the object is larger than Supabase Storage accepts")
	case status == http.StatusUnsupportedMediaType || code == "InvalidMimeType":
		return e(echogen.KindInvalid, "invalid_content_type", "Supabase Storage does not accept this content type in the bucket")
	case code == "InvalidKey":
		return e(echogen.KindInvalid, "invalid_key", "object key is not accepted by Supabase Storage")
	}
	return cause
}

// transportError wraps a failed request: the caller's context when it ended,
// else KindUnavailable.
func (s *SupabaseStorage) transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return s.timeoutError(op)
	}
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: "storage_unavailable",
		Message: "Supabase Storage could not be reached", Err: fmt.Errorf("%s: %s", op, s.scrub(err.Error()))}
}

func (s *SupabaseStorage) timeoutError(op string) error {
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: "storage_unavailable",
		Message: "Supabase Storage did not answer in time", Err: fmt.Errorf("%s: no answer within %v", op, s.timeout)}
}

// scrub removes the key from text that came from elsewhere, should Storage
// or a proxy ever echo it.
func (s *SupabaseStorage) scrub(text string) string {
	return strings.ReplaceAll(text, s.key, "[service-role key]")
}

// queryEscape escapes a query value with spaces as %20, which every query
// parser reads as a space ("+" is not read so everywhere).
func queryEscape(v string) string {
	return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
