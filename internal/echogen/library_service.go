package echogen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Library limits.
const (
	maxTitleLength     = 500
	maxSecretLength    = 4096
	maxMetadataBytes   = 64 << 10
	MaxSegments        = 2000
	maxSegmentLength   = 10_000
	maxScriptTextBytes = 2 << 20
	maxSpeakerLength   = 100
	maxPromptLength    = 100_000
	DefaultPageLimit   = 20
	MaxPageLimit       = 100
	DefaultURLTTL      = time.Hour
	rotationBatch      = 100
)

// LibraryService holds the rules of the user's library: provider keys,
// content, scripts and podcasts, and the media they point at.
type LibraryService struct {
	store    Store
	blobs    BlobStore
	buckets  Buckets
	vault    Vault
	verifier KeyVerifier
	clock    Clock
	urlTTL   time.Duration
	uploads  UploadLimits
	// serverKeys are the operator's provider keys, offered to users who
	// have none of their own when the operator allows it.
	serverKeys    map[Provider]string
	monthlyBudget *float64
	log           *slog.Logger
}

// LibraryOptions tune the library.
type LibraryOptions struct {
	Buckets Buckets
	// URLTTL is how long signed media URLs work; zero means DefaultURLTTL.
	URLTTL time.Duration
	// Uploads caps upload sizes; zero fields take DefaultUploadLimits.
	Uploads UploadLimits
	// ServerKeys are provider keys to use for users without their own;
	// leave it empty unless the operator allows sharing them.
	ServerKeys map[Provider]string
	// MonthlyBudgetUSD is each user's default monthly spending limit on
	// paid providers; nil for none. A user's preferences.monthly_budget_usd
	// replaces it.
	MonthlyBudgetUSD *float64
}

// NewLibraryService returns a LibraryService.
func NewLibraryService(store Store, blobs BlobStore, vault Vault, verifier KeyVerifier, clock Clock, log *slog.Logger, opts LibraryOptions) *LibraryService {
	if opts.URLTTL <= 0 {
		opts.URLTTL = DefaultURLTTL
	}
	def := DefaultUploadLimits()
	for _, l := range []struct {
		v   *int64
		def int64
	}{{&opts.Uploads.Audio, def.Audio}, {&opts.Uploads.Image, def.Image}, {&opts.Uploads.Document, def.Document}} {
		if *l.v <= 0 {
			*l.v = l.def
		}
	}
	return &LibraryService{store: store, blobs: blobs, buckets: opts.Buckets, vault: vault, verifier: verifier, clock: clock, urlTTL: opts.URLTTL, uploads: opts.Uploads, serverKeys: opts.ServerKeys, monthlyBudget: opts.MonthlyBudgetUSD, log: log}
}

// ----- API keys -----

// APIKeyInput creates a key.
type APIKeyInput struct {
	Provider string
	Alias    *string
	Secret   string
	Metadata map[string]any
}

// APIKeyPatch updates a key; absent fields stay.
type APIKeyPatch struct {
	Alias    Patch[string]
	Secret   Patch[string]
	Metadata Patch[map[string]any]
}

// keyAAD binds a sealed secret to its owner, provider and record, so a
// sealed value copied to another row does not open.
func keyAAD(userID string, provider Provider, id string) []byte {
	return []byte("echogen/api-key\x00" + userID + "\x00" + string(provider) + "\x00" + id)
}

func hint(secret string) string {
	r := []rune(secret)
	if len(r) <= 4 {
		return ""
	}
	return string(r[len(r)-4:])
}

func checkSecret(secret string, loc string) (string, error) {
	secret = strings.TrimSpace(secret)
	switch {
	case secret == "":
		return "", Invalid([]string{"body", loc}, "missing", "the API key must not be empty")
	case len(secret) > maxSecretLength:
		return "", Invalid([]string{"body", loc}, "string_too_long", fmt.Sprintf("the API key must be at most %d characters", maxSecretLength))
	}
	return secret, nil
}

func checkKeyMetadata(p Provider, md map[string]any) error {
	if err := checkMetadata(md); err != nil {
		return err
	}
	if !p.NeedsBaseURL() {
		return nil
	}
	base, _ := md["base_url"].(string)
	if CheckHTTPURL(base) != nil {
		return Invalid([]string{"body", "metadata", "base_url"}, "url_parsing", string(p)+" keys need metadata.base_url, the server's http(s) URL")
	}
	return nil
}

func checkMetadata(md map[string]any) error {
	b, err := json.Marshal(md)
	if err != nil || len(b) > maxMetadataBytes {
		return Invalid([]string{"body", "metadata"}, "too_long", fmt.Sprintf("metadata must be a JSON object of at most %d bytes", maxMetadataBytes))
	}
	return nil
}

// CreateAPIKey seals and stores a provider key.
func (s *LibraryService) CreateAPIKey(ctx context.Context, p Principal, in APIKeyInput) (*APIKey, error) {
	provider, err := ParseProvider(in.Provider)
	if err != nil {
		return nil, err
	}
	secret, err := checkSecret(in.Secret, "encrypted_key")
	if err != nil {
		return nil, err
	}
	if err := checkAlias(in.Alias); err != nil {
		return nil, err
	}
	if err := checkKeyMetadata(provider, in.Metadata); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	k := &APIKey{
		ID: NewID(), UserID: p.UserID, Provider: provider, Alias: in.Alias, Hint: hint(secret),
		Status: KeyUnverified, Metadata: orEmpty(in.Metadata), CreatedAt: now, UpdatedAt: now,
	}
	if k.Sealed, err = s.vault.Seal([]byte(secret), keyAAD(p.UserID, provider, k.ID)); err != nil {
		return nil, fmt.Errorf("seal API key: %w", err)
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

func checkAlias(alias *string) error {
	if alias != nil && len([]rune(*alias)) > 200 {
		return Invalid([]string{"body", "key_alias"}, "string_too_long", "key_alias must be at most 200 characters")
	}
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ListAPIKeys lists the caller's keys.
func (s *LibraryService) ListAPIKeys(ctx context.Context, p Principal) ([]APIKey, error) {
	return s.store.ListAPIKeys(ctx, p.UserID)
}

// UpdateAPIKey changes a key's alias, secret or metadata. A new secret
// makes the key unverified again.
func (s *LibraryService) UpdateAPIKey(ctx context.Context, p Principal, id string, patch APIKeyPatch) (*APIKey, error) {
	if !patch.Alias.Set && !patch.Secret.Set && !patch.Metadata.Set {
		return nil, Errorf(KindBadRequest, "no_fields", "No fields provided for update")
	}
	var secret string
	if patch.Secret.Set {
		var err error
		if secret, err = checkSecret(patch.Secret.Value, "encrypted_key"); err != nil {
			return nil, err
		}
	}
	if err := checkAlias(&patch.Alias.Value); err != nil {
		return nil, err
	}
	return s.store.UpdateAPIKey(ctx, p.UserID, id, s.clock.Now(), func(k *APIKey) error {
		applyString(&k.Alias, patch.Alias)
		switch {
		case patch.Metadata.Null:
			k.Metadata = map[string]any{}
		case patch.Metadata.Set:
			k.Metadata = orEmpty(patch.Metadata.Value)
		}
		if err := checkKeyMetadata(k.Provider, k.Metadata); err != nil {
			return err
		}
		if patch.Secret.Set {
			sealed, err := s.vault.Seal([]byte(secret), keyAAD(k.UserID, k.Provider, k.ID))
			if err != nil {
				return fmt.Errorf("seal API key: %w", err)
			}
			k.Sealed, k.Hint, k.Status, k.StatusMessage, k.LastVerifiedAt = sealed, hint(secret), KeyUnverified, "", nil
		}
		return nil
	})
}

// DeleteAPIKey deletes one of the caller's keys.
func (s *LibraryService) DeleteAPIKey(ctx context.Context, p Principal, id string) error {
	return s.store.DeleteAPIKey(ctx, p.UserID, id)
}

// OpenAPIKey returns a key's secret. Only code that calls the provider may
// use it, and never log or return it.
func (s *LibraryService) OpenAPIKey(ctx context.Context, userID, id string) (string, *APIKey, error) {
	k, err := s.store.APIKey(ctx, userID, id)
	if err != nil {
		return "", nil, err
	}
	secret, err := s.vault.Open(k.Sealed, keyAAD(k.UserID, k.Provider, k.ID))
	if err != nil {
		return "", nil, fmt.Errorf("open API key %s: %w", k.ID, err)
	}
	return string(secret), k, nil
}

// VerifyAPIKey asks the provider whether the key works and records the
// answer. When the provider cannot be asked, nothing is recorded and the
// error says so.
func (s *LibraryService) VerifyAPIKey(ctx context.Context, p Principal, id string) (*APIKey, error) {
	secret, k, err := s.OpenAPIKey(ctx, p.UserID, id)
	if err != nil {
		return nil, err
	}
	status, message := KeyValid, ""
	if err := s.verifier.VerifyKey(ctx, k.Provider, secret, k.Metadata); err != nil {
		switch ErrorKind(err) {
		case KindUnauthenticated, KindPermissionDenied:
			var e *Error
			errors.As(err, &e)
			status, message = KeyInvalid, e.Message
		default:
			return nil, err
		}
	}
	now := s.clock.Now()
	return s.store.UpdateAPIKey(ctx, p.UserID, id, now, func(k *APIKey) error {
		k.Status, k.StatusMessage, k.LastVerifiedAt = status, message, &now
		return nil
	})
}

// RotateVault re-seals every stored key that is not under the vault's
// active key. It can be stopped and run again: a key is rewritten only if
// it still holds the value that was read.
func (s *LibraryService) RotateVault(ctx context.Context) (rotated, current int, err error) {
	after := ""
	for {
		keys, err := s.store.APIKeysAfter(ctx, after, rotationBatch)
		if err != nil {
			return rotated, current, err
		}
		if len(keys) == 0 {
			return rotated, current, nil
		}
		for _, k := range keys {
			after = k.ID
			if s.vault.Current(k.Sealed) {
				current++
				continue
			}
			resealed, err := s.vault.Rotate(k.Sealed, keyAAD(k.UserID, k.Provider, k.ID))
			if err != nil {
				return rotated, current, fmt.Errorf("rotate API key %s: %w", k.ID, err)
			}
			ok, err := s.store.ReplaceAPIKeySecret(ctx, k.ID, k.Sealed, resealed)
			if err != nil {
				return rotated, current, err
			}
			if ok {
				rotated++
			}
		}
	}
}

// ----- content -----

// ContentInput creates content.
type ContentInput struct {
	URL      *string
	Title    string
	Markdown string
	Provider string
	Metadata map[string]any
}

// ContentPatch updates content; absent fields stay.
type ContentPatch struct {
	URL      Patch[string]
	Title    Patch[string]
	Markdown Patch[string]
	Metadata Patch[map[string]any]
}

// normalizeURL checks an http(s) URL and writes it the way the original
// server's HttpUrl did (a bare host gets a trailing slash).
func normalizeURL(raw string, loc []string) (string, error) {
	if CheckHTTPURL(raw) != nil {
		return "", Invalid(loc, "url_parsing", "url must be an http or https URL")
	}
	u, _ := url.Parse(raw)
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

func checkTitle(title string, loc []string) error {
	if len([]rune(title)) > maxTitleLength {
		return Invalid(loc, "string_too_long", fmt.Sprintf("title must be at most %d characters", maxTitleLength))
	}
	return nil
}

// CreateContent stores content in the caller's library.
func (s *LibraryService) CreateContent(ctx context.Context, p Principal, in ContentInput) (*Content, error) {
	c := &Content{ID: NewID(), UserID: p.UserID, Title: in.Title, Markdown: in.Markdown, Provider: in.Provider, Metadata: orEmpty(in.Metadata)}
	if in.URL != nil {
		u, err := normalizeURL(*in.URL, []string{"body", "url"})
		if err != nil {
			return nil, err
		}
		c.URL = u
	}
	if err := checkTitle(c.Title, []string{"body", "title"}); err != nil {
		return nil, err
	}
	if err := checkMetadata(c.Metadata); err != nil {
		return nil, err
	}
	c.CreatedAt = s.clock.Now()
	c.UpdatedAt = c.CreatedAt
	if err := s.store.CreateContent(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// ListContent lists a page of the caller's content and counts all of it.
func (s *LibraryService) ListContent(ctx context.Context, p Principal, page Page) ([]Content, int, error) {
	return s.store.ListContent(ctx, p.UserID, page)
}

// Content returns one of the caller's content items.
func (s *LibraryService) Content(ctx context.Context, p Principal, id string) (*Content, error) {
	return s.store.Content(ctx, p.UserID, id)
}

// UpdateContent changes content.
func (s *LibraryService) UpdateContent(ctx context.Context, p Principal, id string, patch ContentPatch) (*Content, error) {
	var newURL string
	if patch.URL.Set && !patch.URL.Null {
		var err error
		if newURL, err = normalizeURL(patch.URL.Value, []string{"body", "url"}); err != nil {
			return nil, err
		}
	}
	if patch.Title.Set {
		if err := checkTitle(patch.Title.Value, []string{"body", "title"}); err != nil {
			return nil, err
		}
	}
	return s.store.UpdateContent(ctx, p.UserID, id, s.clock.Now(), func(c *Content) error {
		if patch.URL.Set {
			c.URL = newURL // null clears it
		}
		if patch.Title.Set {
			c.Title = patch.Title.Value
		}
		if patch.Markdown.Set {
			c.Markdown = patch.Markdown.Value
		}
		if patch.Metadata.Set {
			c.Metadata = orEmpty(patch.Metadata.Value)
		}
		return checkMetadata(c.Metadata)
	})
}

// DeleteContent deletes content; scripts made from it keep their text.
func (s *LibraryService) DeleteContent(ctx context.Context, p Principal, id string) error {
	return s.store.DeleteContent(ctx, p.UserID, id)
}

// ----- scripts -----

// ScriptInput creates a script.
type ScriptInput struct {
	SourceContentID *string
	Title           string
	Prompt          string
	Model           string
	Language        string
	Segments        []Segment
	Metadata        map[string]any
}

// ScriptPatch updates a script; absent fields stay.
type ScriptPatch struct {
	Title    Patch[string]
	Segments Patch[[]Segment]
	Metadata Patch[map[string]any]
}

// CheckSegments validates a script's turns, naming the first bad one.
func CheckSegments(segments []Segment) error {
	if len(segments) > MaxSegments {
		return Invalid([]string{"body", "segments"}, "too_long", fmt.Sprintf("a script has at most %d segments", MaxSegments))
	}
	total := 0
	for i, seg := range segments {
		loc := func(field string) []string { return []string{"body", "segments", fmt.Sprint(i), field} }
		switch {
		case strings.TrimSpace(seg.Speaker) == "":
			return Invalid(loc("speaker"), "missing", "speaker must not be empty")
		case len([]rune(seg.Speaker)) > maxSpeakerLength:
			return Invalid(loc("speaker"), "string_too_long", fmt.Sprintf("speaker must be at most %d characters", maxSpeakerLength))
		case strings.TrimSpace(seg.Content) == "":
			return Invalid(loc("content"), "missing", "content must not be empty")
		case len([]rune(seg.Content)) > maxSegmentLength:
			return Invalid(loc("content"), "string_too_long", fmt.Sprintf("content must be at most %d characters", maxSegmentLength))
		case seg.StartTime != nil && *seg.StartTime < 0:
			return Invalid(loc("start_time"), "greater_than_equal", "start_time must not be negative")
		case seg.EndTime != nil && seg.StartTime != nil && *seg.EndTime < *seg.StartTime:
			return Invalid(loc("end_time"), "value_error", "end_time must not be before start_time")
		}
		total += len(seg.Content)
	}
	if total > maxScriptTextBytes {
		return Invalid([]string{"body", "segments"}, "too_long", fmt.Sprintf("a script's text is at most %d bytes", maxScriptTextBytes))
	}
	return nil
}

// CreateScript stores a script. Its source content, if named, must be the
// caller's.
func (s *LibraryService) CreateScript(ctx context.Context, p Principal, in ScriptInput) (*Script, error) {
	if in.Language == "" {
		in.Language = "en"
	}
	if err := CheckSegments(in.Segments); err != nil {
		return nil, err
	}
	if err := checkTitle(in.Title, []string{"body", "title"}); err != nil {
		return nil, err
	}
	if len(in.Prompt) > maxPromptLength {
		return nil, Invalid([]string{"body", "prompt"}, "string_too_long", fmt.Sprintf("prompt must be at most %d characters", maxPromptLength))
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if in.SourceContentID != nil {
		if _, err := s.store.Content(ctx, p.UserID, *in.SourceContentID); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now()
	sc := &Script{
		ID: NewID(), UserID: p.UserID, SourceContentID: in.SourceContentID, Title: in.Title, Prompt: in.Prompt,
		Model: in.Model, Language: in.Language, Segments: in.Segments, Metadata: orEmpty(in.Metadata), CreatedAt: now, UpdatedAt: now,
	}
	if sc.Segments == nil {
		sc.Segments = []Segment{}
	}
	if err := s.store.CreateScript(ctx, sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// ListScripts lists a page of the caller's scripts.
func (s *LibraryService) ListScripts(ctx context.Context, p Principal, page Page) ([]Script, error) {
	return s.store.ListScripts(ctx, p.UserID, page)
}

// Script returns one of the caller's scripts.
func (s *LibraryService) Script(ctx context.Context, p Principal, id string) (*Script, error) {
	return s.store.Script(ctx, p.UserID, id)
}

// UpdateScript changes a script's title, segments or metadata.
func (s *LibraryService) UpdateScript(ctx context.Context, p Principal, id string, patch ScriptPatch) (*Script, error) {
	if patch.Segments.Set {
		if err := CheckSegments(patch.Segments.Value); err != nil {
			return nil, err
		}
	}
	if patch.Title.Set {
		if err := checkTitle(patch.Title.Value, []string{"body", "title"}); err != nil {
			return nil, err
		}
	}
	return s.store.UpdateScript(ctx, p.UserID, id, s.clock.Now(), func(sc *Script) error {
		if patch.Title.Set {
			sc.Title = patch.Title.Value
		}
		if patch.Segments.Set && patch.Segments.Value != nil {
			sc.Segments = patch.Segments.Value
		}
		if patch.Metadata.Set {
			sc.Metadata = orEmpty(patch.Metadata.Value)
		}
		return checkMetadata(sc.Metadata)
	})
}

// DeleteScript deletes a script and, with it, its podcasts and their media.
func (s *LibraryService) DeleteScript(ctx context.Context, p Principal, id string) error {
	podcasts, err := s.store.DeleteScript(ctx, p.UserID, id)
	if err != nil {
		return err
	}
	for _, pod := range podcasts {
		s.deletePodcastObjects(ctx, &pod)
	}
	return nil
}

// ----- podcasts -----

// PodcastInput creates a podcast record for media already uploaded.
type PodcastInput struct {
	ScriptID        string
	AudioPath       string
	CoverArtPath    *string
	DurationSeconds *int
	Metadata        map[string]any
}

// PodcastView is a podcast with fresh signed URLs for its media.
type PodcastView struct {
	Podcast
	AudioURL    string
	CoverArtURL *string
}

// checkOwnedObject makes sure path names an existing object of the
// caller's in bucket: paths are "<user id>/...".
func (s *LibraryService) checkOwnedObject(ctx context.Context, userID, bucket, path string, loc []string) error {
	owner, rest, ok := strings.Cut(path, "/")
	if !ok || owner != userID || rest == "" {
		return Invalid(loc, "value_error", "must name an object you uploaded (a storage_path from POST /uploads)")
	}
	if _, err := s.blobs.Stat(ctx, bucket, path); err != nil {
		if ErrorKind(err) == KindNotFound {
			return Invalid(loc, "value_error", "no such object: upload it first")
		}
		return err
	}
	return nil
}

// CreatePodcast records a podcast for a script and media the caller owns.
func (s *LibraryService) CreatePodcast(ctx context.Context, p Principal, in PodcastInput) (*PodcastView, error) {
	if in.DurationSeconds != nil && *in.DurationSeconds < 0 {
		return nil, Invalid([]string{"body", "duration_seconds"}, "greater_than_equal", "duration_seconds must not be negative")
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if _, err := s.store.Script(ctx, p.UserID, in.ScriptID); err != nil {
		return nil, err
	}
	if err := s.checkOwnedObject(ctx, p.UserID, s.buckets.Audio, in.AudioPath, []string{"body", "audio_storage_path"}); err != nil {
		return nil, err
	}
	if in.CoverArtPath != nil {
		if err := s.checkOwnedObject(ctx, p.UserID, s.buckets.Art, *in.CoverArtPath, []string{"body", "cover_art_storage_path"}); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now()
	pod := &Podcast{
		ID: NewID(), UserID: p.UserID, ScriptID: in.ScriptID, AudioPath: in.AudioPath, CoverArtPath: in.CoverArtPath,
		DurationSeconds: in.DurationSeconds, Metadata: orEmpty(in.Metadata), CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreatePodcast(ctx, pod); err != nil {
		return nil, err
	}
	return s.view(ctx, pod)
}

// view signs fresh URLs for a podcast's media.
func (s *LibraryService) view(ctx context.Context, pod *Podcast) (*PodcastView, error) {
	v := &PodcastView{Podcast: *pod}
	var err error
	if v.AudioURL, err = s.blobs.SignedURL(ctx, s.buckets.Audio, pod.AudioPath, s.urlTTL, false); err != nil {
		return nil, fmt.Errorf("sign audio URL: %w", err)
	}
	if pod.CoverArtPath != nil {
		u, err := s.blobs.SignedURL(ctx, s.buckets.Art, *pod.CoverArtPath, s.urlTTL, false)
		if err != nil {
			return nil, fmt.Errorf("sign cover URL: %w", err)
		}
		v.CoverArtURL = &u
	}
	return v, nil
}

// ListPodcasts lists a page of the caller's podcasts with signed URLs.
func (s *LibraryService) ListPodcasts(ctx context.Context, p Principal, page Page) ([]PodcastView, error) {
	pods, err := s.store.ListPodcasts(ctx, p.UserID, page)
	if err != nil {
		return nil, err
	}
	out := make([]PodcastView, len(pods))
	for i := range pods {
		v, err := s.view(ctx, &pods[i])
		if err != nil {
			return nil, err
		}
		out[i] = *v
	}
	return out, nil
}

// Podcast returns one of the caller's podcasts with signed URLs.
func (s *LibraryService) Podcast(ctx context.Context, p Principal, id string) (*PodcastView, error) {
	pod, err := s.store.Podcast(ctx, p.UserID, id)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, pod)
}

// PodcastWithScript returns a podcast and its script.
func (s *LibraryService) PodcastWithScript(ctx context.Context, p Principal, id string) (*PodcastView, *Script, error) {
	v, err := s.Podcast(ctx, p, id)
	if err != nil {
		return nil, nil, err
	}
	sc, err := s.store.Script(ctx, p.UserID, v.ScriptID)
	if ErrorKind(err) == KindNotFound {
		return nil, nil, &Error{Kind: KindNotFound, Code: "not_found", Message: "Script not found for podcast"}
	}
	if err != nil {
		return nil, nil, err
	}
	return v, sc, nil
}

// DeletePodcast deletes a podcast and then its media.
func (s *LibraryService) DeletePodcast(ctx context.Context, p Principal, id string) error {
	pod, err := s.store.DeletePodcast(ctx, p.UserID, id)
	if err != nil {
		return err
	}
	s.deletePodcastObjects(ctx, pod)
	return nil
}

// deletePodcastObjects removes a deleted podcast's media. The row is gone
// already, so a failure here is logged, not returned: the object is
// unreachable and the account purge removes it at the latest.
func (s *LibraryService) deletePodcastObjects(ctx context.Context, pod *Podcast) {
	del := func(bucket, key string) {
		if err := s.blobs.Delete(ctx, bucket, key); err != nil {
			s.log.WarnContext(ctx, "podcast media not deleted", "podcast_id", pod.ID, "bucket", bucket, "error", err.Error())
		}
	}
	del(s.buckets.Audio, pod.AudioPath)
	if pod.CoverArtPath != nil {
		del(s.buckets.Art, *pod.CoverArtPath)
	}
	// What the pipeline made for it: transcripts, covers, earlier renders.
	for _, bucket := range []string{s.buckets.Audio, s.buckets.Art, s.buckets.Transcripts} {
		if _, err := s.blobs.DeletePrefix(ctx, bucket, pod.UserID+"/podcasts/"+pod.ID+"/"); err != nil {
			s.log.WarnContext(ctx, "podcast media not deleted", "podcast_id", pod.ID, "bucket", bucket, "error", err.Error())
		}
	}
}

// Transcript kinds stored beside a generated episode.
var transcriptKinds = []string{"vtt", "srt", "json", "chapters"}

// TranscriptURL returns a fresh signed URL for one of a generated
// podcast's transcripts: "vtt", "srt", "json" or "chapters".
func (s *LibraryService) TranscriptURL(ctx context.Context, p Principal, podcastID, kind string) (string, error) {
	if !slices.Contains(transcriptKinds, kind) {
		return "", Invalid([]string{"query", "format"}, "enum", "format must be vtt, srt, json or chapters")
	}
	pod, err := s.store.Podcast(ctx, p.UserID, podcastID)
	if err != nil {
		return "", err
	}
	paths, _ := pod.Metadata["transcripts"].(map[string]any)
	path, _ := paths[kind].(string)
	if !strings.HasPrefix(path, p.UserID+"/") {
		return "", NotFound("Transcript")
	}
	return s.blobs.SignedURL(ctx, s.buckets.Transcripts, path, s.urlTTL, false)
}

// MediaURL returns a fresh signed URL for a podcast's audio or cover art.
func (s *LibraryService) MediaURL(ctx context.Context, p Principal, podcastID string, cover bool) (string, error) {
	v, err := s.Podcast(ctx, p, podcastID)
	if err != nil {
		return "", err
	}
	if !cover {
		return v.AudioURL, nil
	}
	if v.CoverArtURL == nil {
		return "", NotFound("Cover art")
	}
	return *v.CoverArtURL, nil
}
