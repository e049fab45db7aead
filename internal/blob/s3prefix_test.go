package blob

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// supabasePrefix is where Supabase Storage serves its S3 API.
const supabasePrefix = "/storage/v1/s3"

// newPrefixFront stands in for Supabase Storage's S3 endpoint: it serves
// S3 under supabasePrefix and, like Supabase, checks each request's
// Signature V4 over the full path, prefix included. It then strips the
// prefix and passes the request, signed anew, to the S3 server at backend.
func newPrefixFront(t *testing.T, backend string) string {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ok := strings.CutPrefix(r.URL.Path, supabasePrefix+"/")
		if !ok || !sigV4Valid(r, testAccessKey, testSecretKey) {
			http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>", http.StatusForbidden)
			return
		}
		q := r.URL.Query()
		for k := range q {
			if strings.HasPrefix(k, "X-Amz-") {
				q.Del(k)
			}
		}
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "", r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		out.URL = &url.URL{Scheme: target.Scheme, Host: target.Host, Path: "/" + path,
			RawPath: "/" + s3utils.EncodePath(path), RawQuery: strings.ReplaceAll(q.Encode(), "+", "%20")}
		out.Host = target.Host
		out.ContentLength = r.ContentLength
		for k, v := range r.Header {
			if k != "Authorization" && k != "Accept-Encoding" {
				out.Header[k] = v
			}
		}
		if out.Header.Get("X-Amz-Content-Sha256") == "" {
			out.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		}
		resp, err := http.DefaultTransport.RoundTrip(signer.SignV4(*out, testAccessKey, testSecretKey, "", "us-east-1"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + supabasePrefix
}

// sigV4Valid checks a request's AWS Signature V4, in the Authorization
// header or in a presigned URL's query. It is written from the AWS
// documentation, apart from minio's path encoding, so it does not share
// the signing code it checks.
func sigV4Valid(r *http.Request, access, secret string) bool {
	q := r.URL.Query()
	var credential, signedHeaders, signature, amzDate, payload string
	if auth := r.Header.Get("Authorization"); auth != "" {
		fields := map[string]string{}
		for f := range strings.SplitSeq(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			fields[k] = v
		}
		credential, signedHeaders, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
		amzDate, payload = r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Content-Sha256")
	} else {
		credential, signedHeaders, signature = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")
		amzDate, payload = q.Get("X-Amz-Date"), "UNSIGNED-PAYLOAD"
		q.Del("X-Amz-Signature")
	}
	parts := strings.Split(credential, "/") // access/date/region/service/aws4_request
	if len(parts) != 5 || parts[0] != access || signature == "" {
		return false
	}
	var headers strings.Builder
	for h := range strings.SplitSeq(signedHeaders, ";") {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var query []string
	for _, k := range keys {
		for _, v := range q[k] {
			query = append(query, awsEscape(k)+"="+awsEscape(v))
		}
	}
	canonical := strings.Join([]string{r.Method, s3utils.EncodePath(r.URL.Path), strings.Join(query, "&"),
		headers.String(), signedHeaders, payload}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	scope := strings.Join(parts[1:], "/")
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secret)
	for _, p := range parts[1:] {
		key = hmacSHA256(key, p)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	return hmac.Equal([]byte(want), []byte(signature))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// awsEscape is AWS's URI encoding: everything but A-Z a-z 0-9 - _ . ~.
func awsEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), "%7E", "~")
}

// TestS3PathPrefix runs the conformance suite against an endpoint with a
// path, as Supabase Storage's is.
func TestS3PathPrefix(t *testing.T) {
	front := newPrefixFront(t, startVersityGW(t))
	var seq atomic.Int64
	runConformance(t, func(t *testing.T) storeUnderTest {
		s, buckets := newTestS3(t, front, &seq)
		return storeUnderTest{
			store:      s,
			realBucket: func(b string) string { return buckets[b] },
			fetchURL:   func(u string) string { return u },
		}
	})
	t.Run("presigned URL has the prefix", func(t *testing.T) {
		s, buckets := newTestS3(t, front, &seq)
		u, err := s.SignedURL(t.Context(), audio, "u1/a b.mp3", time.Minute, false)
		if err != nil {
			t.Fatal(err)
		}
		if want := front + "/" + buckets[audio] + "/u1/a%20b.mp3?"; !strings.HasPrefix(u, want) {
			t.Errorf("presigned URL %s, want %s…", u, want)
		}
	})
}
