package echogen

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"
)

// Provider names an AI or scraping service a user can store a key for.
type Provider string

const (
	ProviderOpenAI           Provider = "openai"
	ProviderGemini           Provider = "gemini"
	ProviderElevenLabs       Provider = "elevenlabs"
	ProviderGroq             Provider = "groq"
	ProviderOpenRouter       Provider = "openrouter"
	ProviderAnthropic        Provider = "anthropic"
	ProviderImageRouter      Provider = "imagerouter"
	ProviderFirecrawl        Provider = "firecrawl"
	ProviderHyperbrowser     Provider = "hyperbrowser"
	ProviderOllama           Provider = "ollama"
	ProviderOpenAICompatible Provider = "openai_compatible"

	// ProviderLocal is the offline engines; it needs no key, so it is not
	// in Providers.
	ProviderLocal Provider = "local"
)

// Providers lists every provider a key can be stored for.
func Providers() []Provider {
	return []Provider{ProviderOpenAI, ProviderGemini, ProviderElevenLabs, ProviderGroq, ProviderOpenRouter,
		ProviderAnthropic, ProviderImageRouter, ProviderFirecrawl, ProviderHyperbrowser, ProviderOllama, ProviderOpenAICompatible}
}

// NeedsBaseURL reports whether the provider is self-hosted, so its key
// record must say where it runs (metadata.base_url).
func (p Provider) NeedsBaseURL() bool {
	return p == ProviderOllama || p == ProviderOpenAICompatible
}

// ParseProvider checks a provider name.
func ParseProvider(s string) (Provider, error) {
	for _, p := range Providers() {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, 0, len(Providers()))
	for _, p := range Providers() {
		names = append(names, string(p))
	}
	sort.Strings(names)
	return "", Invalid([]string{"body", "provider"}, "enum", "provider must be one of "+strings.Join(names, ", "))
}

// Key verification states.
const (
	KeyUnverified = "unverified"
	KeyValid      = "valid"
	KeyInvalid    = "invalid"
)

// APIKey is a user's provider key (table user_api_keys). The secret is
// sealed; only code that calls the provider opens it.
type APIKey struct {
	ID             string
	UserID         string
	Provider       Provider
	Alias          *string
	Sealed         []byte // the vault's envelope; never leaves the server
	Hint           string // the secret's last four characters
	Status         string // KeyUnverified, KeyValid or KeyInvalid
	StatusMessage  string // why verification failed, in the provider's words
	LastVerifiedAt *time.Time
	Metadata       map[string]any
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Content is an article, document or text in the user's library (table
// scraped_content). URL is empty for pasted text and uploaded documents.
type Content struct {
	ID        string
	UserID    string
	URL       string
	Title     string
	Markdown  string
	Provider  string
	Metadata  map[string]any
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Segment is one spoken turn of a script.
type Segment struct {
	Speaker   string   `json:"speaker"`
	Content   string   `json:"content"`
	StartTime *float64 `json:"start_time"`
	EndTime   *float64 `json:"end_time"`
	Tone      string   `json:"tone,omitempty"`
}

// Script is a podcast script (table podcast_scripts).
type Script struct {
	ID              string
	UserID          string
	SourceContentID *string
	Title           string
	Prompt          string
	Model           string
	Language        string
	Segments        []Segment
	Metadata        map[string]any
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Podcast is a generated episode (table generated_podcasts). Its paths name
// objects in the audio and art buckets.
type Podcast struct {
	ID              string
	UserID          string
	ScriptID        string
	AudioPath       string
	CoverArtPath    *string
	DurationSeconds *int
	Metadata        map[string]any
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Page selects part of a list, newest first.
type Page struct {
	Limit  int
	Offset int
	Query  string // case-insensitive match on title or URL, where supported
}

// LibraryStore keeps the user's library. Every method is scoped by the
// user's id: another user's row is KindNotFound, lists never show it.
type LibraryStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKey(ctx context.Context, userID, id string) (*APIKey, error)
	// ListAPIKeys returns the user's keys, newest first.
	ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error)
	// UpdateAPIKey reads the key, calls update and writes it back with
	// updated_at = at, in one transaction.
	UpdateAPIKey(ctx context.Context, userID, id string, at time.Time, update func(*APIKey) error) (*APIKey, error)
	DeleteAPIKey(ctx context.Context, userID, id string) error
	// APIKeysAfter pages through every user's keys in id order, for vault
	// rotation.
	APIKeysAfter(ctx context.Context, afterID string, limit int) ([]APIKey, error)
	// ReplaceAPIKeySecret swaps the sealed secret if it still is old, and
	// reports whether it did.
	ReplaceAPIKeySecret(ctx context.Context, id string, old, new []byte) (bool, error)

	CreateContent(ctx context.Context, c *Content) error
	Content(ctx context.Context, userID, id string) (*Content, error)
	// ListContent returns one page and the number of all matching rows.
	ListContent(ctx context.Context, userID string, page Page) ([]Content, int, error)
	UpdateContent(ctx context.Context, userID, id string, at time.Time, update func(*Content) error) (*Content, error)
	DeleteContent(ctx context.Context, userID, id string) error

	CreateScript(ctx context.Context, s *Script) error
	Script(ctx context.Context, userID, id string) (*Script, error)
	ListScripts(ctx context.Context, userID string, page Page) ([]Script, error)
	UpdateScript(ctx context.Context, userID, id string, at time.Time, update func(*Script) error) (*Script, error)
	// DeleteScript deletes the script and its podcasts and returns the
	// podcasts, so their media can go too.
	DeleteScript(ctx context.Context, userID, id string) ([]Podcast, error)

	CreatePodcast(ctx context.Context, p *Podcast) error
	Podcast(ctx context.Context, userID, id string) (*Podcast, error)
	ListPodcasts(ctx context.Context, userID string, page Page) ([]Podcast, error)
	// UpdatePodcast reads the podcast, calls update and writes back its
	// paths, duration and metadata, in one transaction.
	UpdatePodcast(ctx context.Context, userID, id string, at time.Time, update func(*Podcast) error) (*Podcast, error)
	// DeletePodcast deletes the row and returns it, so its objects can go.
	DeletePodcast(ctx context.Context, userID, id string) (*Podcast, error)
}

// BlobInfo describes a stored object.
type BlobInfo struct {
	Size        int64
	ContentType string
	ModTime     time.Time
	ETag        string
}

// BlobStore keeps media objects in buckets. Keys of user objects start with
// "<user id>/".
type BlobStore interface {
	// Put streams r into the object; it becomes visible only once complete.
	Put(ctx context.Context, bucket, key string, r io.Reader, contentType string) (int64, error)
	// Open reads an object; a missing one is KindNotFound.
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, *BlobInfo, error)
	Stat(ctx context.Context, bucket, key string) (*BlobInfo, error)
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, bucket, key string) error
	// DeletePrefix removes every object whose key starts with prefix and
	// returns how many it removed.
	DeletePrefix(ctx context.Context, bucket, prefix string) (int, error)
	// SignedURL returns a URL that reads the object until ttl passes. A
	// URL that starts with "/" is relative to the server's own base URL.
	SignedURL(ctx context.Context, bucket, key string, ttl time.Duration, download bool) (string, error)
	Ping(ctx context.Context) error
}

// Vault seals secrets for storage.
type Vault interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
	// Rotate re-seals under the active key; Current reports whether a
	// sealed value already uses it.
	Rotate(sealed, aad []byte) ([]byte, error)
	Current(sealed []byte) bool
}

// KeyVerifier checks a provider key with the provider's cheapest
// authenticated call. A rejected key is an error of KindUnauthenticated or
// KindPermissionDenied carrying the provider's message; any other error
// means the provider could not be asked.
type KeyVerifier interface {
	VerifyKey(ctx context.Context, provider Provider, secret string, metadata map[string]any) error
}

// Buckets names the buckets media lives in.
type Buckets struct {
	Audio       string // podcast audio
	Art         string // cover art
	Transcripts string // transcripts and chapters
	Documents   string // uploaded documents
}

// All lists every bucket.
func (b Buckets) All() []string { return []string{b.Audio, b.Art, b.Transcripts, b.Documents} }

// BucketObjects deletes a user's objects from every bucket of a BlobStore.
type BucketObjects struct {
	Blobs   BlobStore
	Buckets Buckets
}

// DeleteUserObjects implements UserObjects.
func (o BucketObjects) DeleteUserObjects(ctx context.Context, userID string) (int, error) {
	if !IsID(userID) { // never let an odd id become a prefix
		return 0, Errorf(KindInvalid, "invalid_id", "invalid user id")
	}
	total := 0
	for _, b := range o.Buckets.All() {
		n, err := o.Blobs.DeletePrefix(ctx, b, userID+"/")
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
