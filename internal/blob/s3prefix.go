package blob

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// minio-go only talks to endpoints at the root of a host, but Supabase
// Storage serves S3 under a path (/storage/v1/s3) and, like AWS SDKs,
// signs that path. prefixTransport moves each request under the endpoint's
// path and signs it again (Signature V4 over headers; the payload hash
// header is kept, which is why streaming signatures are turned off).
type prefixTransport struct {
	base                   http.RoundTripper
	prefix                 string // "/storage/v1/s3", no trailing slash
	access, secret, region string
}

func (t *prefixTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return nil, errors.New("s3: a streaming signature cannot be re-signed for an endpoint with a path")
	}
	r := req.Clone(req.Context()) // a RoundTripper must not change the caller's request
	r.URL.Path = t.prefix + r.URL.Path
	if r.URL.RawPath != "" {
		r.URL.RawPath = t.prefix + r.URL.RawPath
	}
	r.Header.Del("Authorization")
	return t.base.RoundTrip(signer.SignV4(*r, t.access, t.secret, "", t.region))
}

// presignPrefixed presigns a GET of bucket/key on an endpoint with a path,
// the way minio-go's PresignedGetObject does on one without.
func presignPrefixed(endpoint *url.URL, prefix, bucket, key string, ttl time.Duration, params url.Values, access, secret, region string) string {
	u := url.URL{
		Scheme:   endpoint.Scheme,
		Host:     endpoint.Host,
		Path:     prefix + "/" + bucket + "/" + key,
		RawPath:  prefix + "/" + bucket + "/" + s3utils.EncodePath(key),
		RawQuery: params.Encode(),
	}
	req := http.Request{Method: http.MethodGet, URL: &u, Header: http.Header{}, Host: u.Host}
	return signer.PreSignV4(req, access, secret, "", region, int64(ttl/time.Second)).URL.String()
}
