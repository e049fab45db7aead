package echogen

import (
	"context"
	"math"
	"strings"
	"time"
	"unicode"
)

// ContentIngestType is the job type that turns a URL, pasted text or an
// uploaded document into content.
const ContentIngestType = "content_ingest"

// Ingest providers.
const (
	IngestBuiltin      = "builtin"
	IngestFirecrawl    = "firecrawl"
	IngestHyperbrowser = "hyperbrowser"
)

const (
	maxIngestText  = 5 << 20
	wordsPerMinute = 200 // silent reading speed, for reading_time_minutes
)

// IngestHandler runs content_ingest jobs.
type IngestHandler struct {
	library  *LibraryService
	fetcher  Fetcher
	scrapers map[string]Scraper
	timeout  time.Duration
}

// DefaultIngestTimeout bounds one attempt of a content_ingest job.
const DefaultIngestTimeout = 3 * time.Minute

// NewIngestHandler returns the content_ingest handler. scrapers maps
// "firecrawl" and "hyperbrowser" to their clients; a zero timeout means
// DefaultIngestTimeout.
func NewIngestHandler(library *LibraryService, fetcher Fetcher, scrapers map[string]Scraper, timeout time.Duration) *IngestHandler {
	if timeout <= 0 {
		timeout = DefaultIngestTimeout
	}
	return &IngestHandler{library: library, fetcher: fetcher, scrapers: scrapers, timeout: timeout}
}

// Type implements JobHandler.
func (h *IngestHandler) Type() string { return ContentIngestType }

// Limits implements JobHandler.
func (h *IngestHandler) Limits() JobLimits {
	return JobLimits{MaxAttempts: 4, Timeout: h.timeout}
}

// ingestRequest is a content_ingest payload.
type ingestRequest struct {
	URL, Text, Title, StoragePath, Provider string
}

func stringField(payload map[string]any, key string) (string, error) {
	v, ok := payload[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", Invalid([]string{"body", "payload", key}, "string_type", key+" must be a string")
	}
	return s, nil
}

func parseIngest(payload map[string]any) (*ingestRequest, error) {
	var r ingestRequest
	for _, f := range []struct {
		key string
		dst *string
	}{{"url", &r.URL}, {"text", &r.Text}, {"title", &r.Title}, {"storage_path", &r.StoragePath}, {"provider", &r.Provider}} {
		v, err := stringField(payload, f.key)
		if err != nil {
			return nil, err
		}
		*f.dst = strings.TrimSpace(v)
	}
	for k := range payload {
		switch k {
		case "url", "text", "title", "storage_path", "provider":
		default:
			return nil, Invalid([]string{"body", "payload", k}, "extra_forbidden", "unknown field; content_ingest takes url, text and title, or storage_path, and provider")
		}
	}
	sources := 0
	for _, s := range []string{r.URL, r.Text, r.StoragePath} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, Invalid([]string{"body", "payload"}, "value_error", "give exactly one of url, text or storage_path")
	}
	if r.Provider == "" {
		r.Provider = IngestBuiltin
	}
	switch r.Provider {
	case IngestBuiltin:
	case IngestFirecrawl, IngestHyperbrowser:
		if r.URL == "" {
			return nil, Invalid([]string{"body", "payload", "provider"}, "value_error", r.Provider+" scrapes URLs only")
		}
	default:
		return nil, Invalid([]string{"body", "payload", "provider"}, "enum", "provider must be builtin, firecrawl or hyperbrowser")
	}
	if r.URL != "" && CheckHTTPURL(r.URL) != nil {
		return nil, Invalid([]string{"body", "payload", "url"}, "url_parsing", "url must be an http or https URL")
	}
	if len(r.Text) > maxIngestText {
		return nil, Invalid([]string{"body", "payload", "text"}, "string_too_long", "text is too long")
	}
	if err := checkTitle(r.Title, []string{"body", "payload", "title"}); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate implements JobHandler.
func (h *IngestHandler) Validate(payload map[string]any) error {
	_, err := parseIngest(payload)
	return err
}

// Run implements JobHandler: fetch or read the source, extract it, and save
// it as content named after the job, so a second run finds the first
// run's content instead of making another.
func (h *IngestHandler) Run(ctx context.Context, run JobRun) (map[string]any, error) {
	job := run.Job
	req, err := parseIngest(job.Payload)
	if err != nil {
		return nil, err
	}
	contentID := DerivedID("content_ingest", job.ID)
	if c, err := h.library.store.Content(ctx, job.UserID, contentID); err == nil {
		return map[string]any{"content_id": c.ID}, nil
	}
	run.Progress(ctx, Progress{Stage: "fetching", Percent: 10, Message: "reading the source"})
	doc, source, err := h.extract(ctx, job.UserID, req)
	if err != nil {
		return nil, err
	}
	doc = doc.storable()
	run.Progress(ctx, Progress{Stage: "saving", Percent: 80, Message: "saving the content"})
	if strings.TrimSpace(doc.Markdown) == "" {
		return nil, Errorf(KindInvalid, "no_text", "no readable text found in the source")
	}
	title := req.Title
	if title == "" {
		title = doc.Title
	}
	if title == "" {
		title = "Untitled"
	}
	if r := []rune(title); len(r) > maxTitleLength {
		title = string(r[:maxTitleLength])
	}
	words := wordCount(doc.Markdown)
	md := map[string]any{
		"source":               source,
		"extracted_with":       req.Provider,
		"job_id":               job.ID,
		"word_count":           words,
		"reading_time_minutes": int(math.Max(1, math.Ceil(float64(words)/wordsPerMinute))),
	}
	for k, v := range map[string]string{"site_name": doc.SiteName, "author": doc.Author, "language": doc.Language, "source_content_type": doc.ContentType, "excerpt": doc.Excerpt} {
		if v != "" {
			md[k] = v
		}
	}
	if doc.Published != nil {
		md["published_date"] = doc.Published.UTC().Format(time.RFC3339)
	}
	if req.StoragePath != "" {
		md["storage_path"] = req.StoragePath
	}
	url := doc.URL
	if url == "" {
		url = req.URL
	}
	if url != "" {
		if url, err = normalizeURL(url, []string{"url"}); err != nil {
			url = ""
		}
	}
	now := h.library.clock.Now()
	c := &Content{ID: contentID, UserID: job.UserID, URL: url, Title: title, Markdown: doc.Markdown, Provider: req.Provider, Metadata: md, CreatedAt: now, UpdatedAt: now}
	if err := h.library.store.CreateContent(ctx, c); err != nil {
		return nil, err
	}
	return map[string]any{"content_id": c.ID}, nil
}

func (h *IngestHandler) extract(ctx context.Context, userID string, req *ingestRequest) (*Document, string, error) {
	switch {
	case req.Text != "":
		doc, err := h.fetcher.Extract(ctx, strings.NewReader(req.Text), "text/markdown", "text.md")
		return doc, "text", err
	case req.StoragePath != "":
		owner, _, _ := strings.Cut(req.StoragePath, "/")
		if owner != userID {
			return nil, "", Errorf(KindNotFound, "not_found", "no such document: upload it with POST /uploads (kind document)")
		}
		f, info, err := h.library.blobs.Open(ctx, h.library.buckets.Documents, req.StoragePath)
		if err != nil {
			if ErrorKind(err) == KindNotFound || ErrorKind(err) == KindInvalid {
				return nil, "", Errorf(KindNotFound, "not_found", "no such document: upload it with POST /uploads (kind document)")
			}
			return nil, "", err
		}
		defer f.Close()
		doc, err := h.fetcher.Extract(ctx, f, info.ContentType, req.StoragePath)
		return doc, "document", err
	}
	if req.Provider == IngestBuiltin {
		doc, err := h.fetcher.FetchURL(ctx, req.URL)
		return doc, "url", err
	}
	scraper, ok := h.scrapers[req.Provider]
	if !ok {
		return nil, "", Errorf(KindNotImplemented, "provider_unavailable", "%s is not configured on this server", req.Provider)
	}
	key, err := h.library.ProviderKey(ctx, userID, Provider(req.Provider))
	if err != nil {
		return nil, "", err
	}
	doc, err := scraper.Scrape(ctx, key, req.URL)
	return doc, "url", err
}

func wordCount(s string) int {
	n, in := 0, false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if !in {
				n++
			}
			in = true
		} else if r != '\'' && r != '’' {
			in = false
		}
	}
	return n
}

// ProviderKey returns the secret to call provider with for the user; see
// ProviderCredential.
func (s *LibraryService) ProviderKey(ctx context.Context, userID string, provider Provider) (string, error) {
	c, err := s.ProviderCredential(ctx, userID, provider)
	return c.Secret, err
}

// ProviderCredential is how to call a provider for a user.
type ProviderCredential struct {
	Secret  string
	BaseURL string // a self-hosted provider's server (the key's metadata.base_url)
	Source  string // "user" or "server"
}

// ProviderCredential resolves the key to call provider with for the user:
// their own key (a verified one first, then the newest unverified), else
// the server's key when the operator allows it. A missing key is a
// KindBadRequest error that says which key to add.
func (s *LibraryService) ProviderCredential(ctx context.Context, userID string, provider Provider) (ProviderCredential, error) {
	keys, err := s.store.ListAPIKeys(ctx, userID)
	if err != nil {
		return ProviderCredential{}, err
	}
	var pick *APIKey
	for i := range keys {
		k := &keys[i]
		if k.Provider != provider || k.Status == KeyInvalid {
			continue
		}
		if pick == nil || (k.Status == KeyValid && pick.Status != KeyValid) {
			pick = k
		}
	}
	if pick != nil {
		secret, _, err := s.OpenAPIKey(ctx, userID, pick.ID)
		if err != nil {
			return ProviderCredential{}, err
		}
		base, _ := pick.Metadata["base_url"].(string)
		return ProviderCredential{Secret: secret, BaseURL: base, Source: "user"}, nil
	}
	if key := s.serverKeys[provider]; key != "" {
		return ProviderCredential{Secret: key, Source: "server"}, nil
	}
	return ProviderCredential{}, Errorf(KindBadRequest, "missing_api_key", "no %s API key: add one with POST /api/v1/api-keys (provider %q)", provider, provider)
}
