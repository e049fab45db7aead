package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/echogen/server/internal/echogen"
)

// DefaultPartSize is the multipart part size S3.Put uses unless told
// otherwise. Put does not know an object's size in advance, so it buffers
// one part at a time: this is the memory one Put holds, and 10,000 parts of
// it (S3's limit) are the largest object it can store, about 78 GiB.
const DefaultPartSize = 8 << 20

// minPartSize is S3's smallest part size (all parts but the last).
const minPartSize = 5 << 20

// S3Config configures an S3-compatible store.
type S3Config struct {
	// Endpoint is the service's URL, http or https, such as
	// "https://s3.eu-central-1.amazonaws.com", "http://127.0.0.1:9000" or
	// Supabase Storage's "https://<project>.supabase.co/storage/v1/s3". A
	// path, as Supabase's has, needs PathStyle.
	Endpoint string
	// Region signs requests; "us-east-1" when empty.
	Region    string
	AccessKey string
	SecretKey string
	// PathStyle puts the bucket in the path (https://host/bucket/key), as
	// MinIO, Supabase and most self-hosted servers need, instead of in the
	// host name (https://bucket.host/key), as AWS prefers.
	PathStyle bool
	// Buckets maps each logical bucket the application uses to the real
	// bucket that holds it; a bucket not listed is refused.
	Buckets map[string]string
	// PartSize overrides DefaultPartSize (at least 5 MiB).
	PartSize uint64
	// Transport overrides http.DefaultTransport.
	Transport http.RoundTripper
}

// S3 keeps objects in an S3-compatible service with minio-go.
type S3 struct {
	client   *minio.Client
	buckets  map[string]string
	partSize uint64
	presign  func(ctx context.Context, bucket, key string, ttl time.Duration, params url.Values) (string, error)
	// prefixed is set when the endpoint has a path; requests are then
	// re-signed by prefixTransport and must not use streaming signatures.
	prefixed bool
}

var _ echogen.BlobStore = (*S3)(nil)

// NewS3 returns a store for cfg. It makes no request; see Ping and
// EnsureBuckets.
func NewS3(cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("s3 endpoint %q: want http(s)://host[:port][/path]", cfg.Endpoint)
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("s3: access key and secret key are required")
	}
	if len(cfg.Buckets) == 0 {
		return nil, errors.New("s3: no buckets")
	}
	for logical, real := range cfg.Buckets {
		if logical == "" || !validBucketName(real) {
			return nil, fmt.Errorf("s3: invalid bucket mapping %q -> %q", logical, real)
		}
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < minPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of 5 MiB", partSize)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	prefix := strings.TrimSuffix(u.Path, "/")
	if prefix != "" {
		if !cfg.PathStyle {
			return nil, fmt.Errorf("s3 endpoint %q has a path, which needs path-style requests", cfg.Endpoint)
		}
		transport = &prefixTransport{base: transport, prefix: prefix, access: cfg.AccessKey, secret: cfg.SecretKey, region: region}
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       region, // set, so minio-go never asks the service for it
		BucketLookup: lookup,
		Transport:    transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	s := &S3{client: client, buckets: map[string]string{}, partSize: partSize, prefixed: prefix != ""}
	for logical, real := range cfg.Buckets {
		s.buckets[logical] = real
	}
	s.presign = func(ctx context.Context, bucket, key string, ttl time.Duration, params url.Values) (string, error) {
		v, err := client.PresignedGetObject(ctx, bucket, key, ttl, params)
		if err != nil {
			return "", err
		}
		return v.String(), nil
	}
	if prefix != "" {
		s.presign = func(_ context.Context, bucket, key string, ttl time.Duration, params url.Values) (string, error) {
			return presignPrefixed(u, prefix, bucket, key, ttl, params, cfg.AccessKey, cfg.SecretKey, region), nil
		}
	}
	return s, nil
}

// real returns the real bucket behind a logical one, after checking key.
func (s *S3) real(bucket, key string) (string, error) {
	real, ok := s.buckets[bucket]
	if !ok {
		return "", unknownBucket(bucket)
	}
	if err := validateKey(key); err != nil {
		return "", err
	}
	return real, nil
}

// Put streams r to the service as a multipart upload of unknown size, one
// part (PartSize bytes, buffered) at a time; the object appears only when
// the upload completes. On any error, or when ctx ends first, the upload is
// aborted and the old object (if any) stays.
func (s *S3) Put(ctx context.Context, bucket, key string, r io.Reader, contentType string) (int64, error) {
	real, err := s.real(bucket, key)
	if err != nil {
		return 0, err
	}
	ct, err := normalizeContentType(contentType)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	info, err := s.client.PutObject(ctx, real, key, ctxReader{ctx, r}, -1, minio.PutObjectOptions{
		ContentType: ct,
		PartSize:    s.partSize,
		// A re-signing transport cannot re-sign a streaming signature's
		// chunks; the payload then goes unsigned (TLS protects it).
		DisableContentSha256: s.prefixed,
	})
	if err != nil {
		if ctx.Err() != nil { // minio's own error for it varies with the moment
			err = ctx.Err()
		}
		return 0, fmt.Errorf("put object: %w", err)
	}
	return info.Size, nil
}

// Open reads an object; the reader also implements io.Seeker and
// io.ReaderAt (see minio.Object).
func (s *S3) Open(ctx context.Context, bucket, key string) (io.ReadCloser, *echogen.BlobInfo, error) {
	real, err := s.real(bucket, key)
	if err != nil {
		return nil, nil, err
	}
	obj, err := s.client.GetObject(ctx, real, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, nil, mapS3Error("open object", err)
	}
	st, err := obj.Stat() // sends the GET; its headers describe the body that follows
	if err != nil {
		obj.Close()
		return nil, nil, mapS3Error("open object", err)
	}
	return obj, blobInfo(st), nil
}

// Stat describes an object.
func (s *S3) Stat(ctx context.Context, bucket, key string) (*echogen.BlobInfo, error) {
	real, err := s.real(bucket, key)
	if err != nil {
		return nil, err
	}
	st, err := s.client.StatObject(ctx, real, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, mapS3Error("stat object", err)
	}
	return blobInfo(st), nil
}

// blobInfo converts minio's description; the ETag gets back the quotes
// minio strips, so it has the same (HTTP) form as the local store's.
func blobInfo(st minio.ObjectInfo) *echogen.BlobInfo {
	return &echogen.BlobInfo{
		Size:        st.Size,
		ContentType: st.ContentType,
		ModTime:     st.LastModified.UTC(),
		ETag:        `"` + strings.Trim(st.ETag, `"`) + `"`,
	}
}

// Delete removes an object; S3 answers a missing one with success too.
func (s *S3) Delete(ctx context.Context, bucket, key string) error {
	real, err := s.real(bucket, key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, real, key, minio.RemoveObjectOptions{}); err != nil {
		if s3Code(err) == "NoSuchKey" {
			return nil
		}
		return mapS3Error("delete object", err)
	}
	return nil
}

// DeletePrefix lists the objects under prefix and removes them in batches
// (DeleteObjects, up to 1,000 keys a request), counting the ones removed.
func (s *S3) DeletePrefix(ctx context.Context, bucket, prefix string) (int, error) {
	real, ok := s.buckets[bucket]
	if !ok {
		return 0, unknownBucket(bucket)
	}
	if err := validatePrefix(prefix); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objects := make(chan minio.ObjectInfo)
	listed := make(chan error, 1)
	go func() {
		defer close(objects)
		for o := range s.client.ListObjectsIter(ctx, real, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				listed <- o.Err
				return
			}
			select {
			case objects <- o:
			case <-ctx.Done():
				listed <- ctx.Err()
				return
			}
		}
		listed <- ctx.Err() // the listing just stops when ctx ends
	}()
	removed := 0
	var removeErr error
	for res := range s.client.RemoveObjectsWithResult(ctx, real, objects, minio.RemoveObjectsOptions{}) {
		switch {
		case res.Err == nil:
			removed++
		case s3Code(res.Err) == "NoSuchKey": // gone meanwhile: not ours to count
		case removeErr == nil:
			removeErr = res.Err
			cancel() // stop listing; what is left stays for the next try
		}
	}
	cancel() // the remover may stop early (ctx done); never leave the lister blocked
	listErr := <-listed
	if removeErr != nil {
		return removed, mapS3Error("delete objects", removeErr)
	}
	if listErr != nil {
		return removed, mapS3Error("list objects", listErr)
	}
	return removed, nil
}

// SignedURL returns a presigned GET URL that goes straight to the service;
// with download set it asks the service to send the object as an
// attachment. ttl is rounded up to a whole second.
func (s *S3) SignedURL(ctx context.Context, bucket, key string, ttl time.Duration, download bool) (string, error) {
	real, err := s.real(bucket, key)
	if err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > MaxSignedURLTTL {
		return "", fmt.Errorf("signed URL lifetime %v is not within (0, %v]", ttl, MaxSignedURLTTL)
	}
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	params := url.Values{}
	if download {
		params.Set("response-content-disposition", attachment(path.Base(key)))
	}
	u, err := s.presign(ctx, real, key, ttl, params)
	if err != nil {
		return "", fmt.Errorf("presign object URL: %w", err)
	}
	return u, nil
}

// Ping checks that every bucket exists (and so that the service answers
// and the credentials work).
func (s *S3) Ping(ctx context.Context) error {
	for _, real := range s.buckets {
		ok, err := s.client.BucketExists(ctx, real)
		if err != nil {
			return mapS3Error("check bucket "+real, err)
		}
		if !ok {
			return echogen.Errorf(echogen.KindUnavailable, "bucket_missing", "bucket %q does not exist", real)
		}
	}
	return nil
}

// EnsureBuckets creates the buckets that do not exist yet. Tests call it
// on a fresh server, and the app may call it on first start when it is
// allowed to manage buckets; where buckets are provisioned by other means
// (Supabase's dashboard, Terraform) it need not run at all.
func (s *S3) EnsureBuckets(ctx context.Context) error {
	for _, real := range s.buckets {
		ok, err := s.client.BucketExists(ctx, real)
		if err != nil {
			return mapS3Error("check bucket "+real, err)
		}
		if ok {
			continue
		}
		if err := s.client.MakeBucket(ctx, real, minio.MakeBucketOptions{}); err != nil {
			if c := s3Code(err); c == "BucketAlreadyOwnedByYou" || c == "BucketAlreadyExists" {
				continue // created meanwhile, by another instance
			}
			return mapS3Error("create bucket "+real, err)
		}
	}
	return nil
}

// s3Code returns the S3 error code in err, if any.
func s3Code(err error) string {
	var e minio.ErrorResponse
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// mapS3Error turns a missing object into KindNotFound and wraps the rest.
func mapS3Error(op string, err error) error {
	var e minio.ErrorResponse
	if errors.As(err, &e) && (e.Code == "NoSuchKey" || e.StatusCode == http.StatusNotFound && e.Code != "NoSuchBucket") {
		return echogen.NotFound("Object")
	}
	return fmt.Errorf("%s: %w", op, err)
}
