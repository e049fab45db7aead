// Package config reads the server's settings from the environment (and a
// .env file), applies defaults and validates every value, reporting each bad
// one on its own line.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the server. The README's configuration table
// documents each variable; keep the two in step.
type Config struct {
	Environment string // ENVIRONMENT: local, development, staging, production
	ProjectName string // PROJECT_NAME
	APIPrefix   string // API_V1_PREFIX
	HTTPAddr    string // HTTP_ADDR, or ":"+PORT
	DataDir     string // DATA_DIR
	DatabaseURL string // DATABASE_URL; empty means SQLite in DataDir
	LogLevel    string // LOG_LEVEL
	PublicURL   string // BACKEND_BASE_URL

	AuthMode                  string        // AUTH_MODE
	JWTSecret                 string        // JWT_SECRET
	JWTAlgorithm              string        // JWT_ALGORITHM
	AccessTokenTTL            time.Duration // ACCESS_TOKEN_TTL
	SessionTTL                time.Duration // SESSION_TTL
	RefreshReuseGrace         time.Duration // REFRESH_TOKEN_REUSE_GRACE
	EmailConfirmationRequired bool          // EMAIL_CONFIRMATION_REQUIRED
	PasswordResetURL          string        // PASSWORD_RESET_URL
	EmailVerifyURL            string        // EMAIL_VERIFY_URL
	Argon2MemoryKiB           uint32        // ARGON2_MEMORY_KIB
	Argon2Iterations          uint32        // ARGON2_ITERATIONS
	Argon2Parallelism         uint8         // ARGON2_PARALLELISM
	PasswordHashConcurrency   int           // PASSWORD_HASH_CONCURRENCY
	VaultKeys                 string        // VAULT_KEYS

	AccountDeletionWindow time.Duration // ACCOUNT_DELETION_WINDOW
	AccountPurgeInterval  time.Duration // ACCOUNT_PURGE_INTERVAL

	APIRateLimitPerMinute         int  // API_RATE_LIMIT_PER_MINUTE
	AuthRateLimitPerMinute        int  // AUTH_RATE_LIMIT_PER_MINUTE (per IP)
	AuthAccountRateLimitPerMinute int  // AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE
	TrustProxyHeaders             bool // TRUST_PROXY_HEADERS
	CORSOrigins                   []string

	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT

	StorageBackend    string        // STORAGE_BACKEND: local, s3 or supabase
	S3Endpoint        string        // S3_ENDPOINT
	S3Region          string        // S3_REGION
	S3AccessKeyID     string        // S3_ACCESS_KEY_ID
	S3SecretAccessKey string        // S3_SECRET_ACCESS_KEY
	S3ForcePathStyle  bool          // S3_FORCE_PATH_STYLE
	BucketDocuments   string        // STORAGE_BUCKET_DOCUMENTS
	MediaSigningKeys  string        // MEDIA_SIGNING_KEYS
	SignedURLTTL      time.Duration // SIGNED_URL_TTL
	UploadMaxAudioMB  int           // UPLOAD_MAX_AUDIO_MB
	UploadMaxImageMB  int           // UPLOAD_MAX_IMAGE_MB
	UploadMaxDocMB    int           // UPLOAD_MAX_DOCUMENT_MB

	JobWorkers            int           // JOB_WORKERS
	JobRescueAfter        time.Duration // JOB_RESCUE_AFTER
	MaxRunningJobsPerUser int           // MAX_RUNNING_JOBS_PER_USER
	IngestMaxMB           int           // INGEST_MAX_MB
	IngestTimeout         time.Duration // INGEST_TIMEOUT
	IngestJobTimeout      time.Duration // INGEST_JOB_TIMEOUT
	AllowServerKeys       bool          // ALLOW_SERVER_PROVIDER_KEYS
	ScriptJobTimeout      time.Duration // SCRIPT_JOB_TIMEOUT
	AudioJobTimeout       time.Duration // AUDIO_JOB_TIMEOUT
	MonthlyBudgetUSD      *float64      // USER_MONTHLY_BUDGET_USD
	ProviderCalls         int           // PROVIDER_MAX_CONCURRENT_CALLS
	MetricsEnabled        bool          // METRICS_ENABLED
	// OTelEndpoint or OTelTracesEndpoint turns on OpenTelemetry traces
	// (OTLP over HTTP): the base URL, to which /v1/traces is added, or the
	// traces URL itself, which wins. The exporter reads the other
	// OTEL_EXPORTER_OTLP_* variables (headers, certificates) itself.
	OTelEndpoint       string // OTEL_EXPORTER_OTLP_ENDPOINT
	OTelTracesEndpoint string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	// Role is what `echogen serve` runs here: all (the API and the job
	// workers), api, or worker. The --role flag overrides it.
	Role string // SERVER_ROLE
	// AdminEmails may open the job dashboard at /admin/jobs.
	AdminEmails        []string // ADMIN_EMAILS, comma-separated
	IngestAllowPrivate bool     // INGEST_ALLOW_PRIVATE_ADDRESSES: tests only

	SMTPHost     string // SMTP_HOST
	SMTPPort     int    // SMTP_PORT
	SMTPUsername string // SMTP_USERNAME
	SMTPPassword string // SMTP_PASSWORD
	SMTPFrom     string // SMTP_FROM

	Supabase  Supabase
	Providers ProviderKeys
}

// Supabase holds the original server's Supabase settings.
type Supabase struct {
	URL               string // SUPABASE_URL
	AnonKey           string // SUPABASE_ANON_KEY
	ServiceRoleKey    string // SUPABASE_SERVICE_ROLE_KEY
	BucketAudio       string // SUPABASE_STORAGE_BUCKET_AUDIO
	BucketArt         string // SUPABASE_STORAGE_BUCKET_ART
	BucketTranscripts string // SUPABASE_STORAGE_BUCKET_TRANSCRIPTS
}

// ProviderKeys are the server-wide provider keys, used only when a user has
// stored none of their own and the operator allows it.
type ProviderKeys struct {
	Gemini       string // GEMINI_API_KEY
	OpenAI       string // OPENAI_API_KEY
	Groq         string // GROQ_API_KEY
	OpenRouter   string // OPENROUTER_API_KEY
	Anthropic    string // ANTHROPIC_API_KEY
	ElevenLabs   string // ELEVENLABS_API_KEY
	Firecrawl    string // FIRECRAWL_API_KEY
	Hyperbrowser string // HYPERBROWSER_API_KEY
	ImageRouter  string // IMAGEROUTER_API_KEY
}

// The roles a process can take; see Config.Role.
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// SetRole sets the role from the command line (serve --role).
func (c *Config) SetRole(role string) error {
	old := c.Role
	c.Role = role
	if problem := c.roleProblem(); problem != "" {
		c.Role = old
		return fmt.Errorf("--role=%s: %s", role, problem)
	}
	return nil
}

// roleProblem says why the role cannot run here, or "".
func (c *Config) roleProblem() string {
	switch {
	case c.Role != RoleAll && c.Role != RoleAPI && c.Role != RoleWorker:
		return "must be one of all, api, worker"
	case c.Role != RoleAll && c.DatabaseURL == "":
		return "separate api and worker processes share one PostgreSQL database: set DATABASE_URL (SQLite runs as one process, role all)"
	}
	return ""
}

// Production reports whether ENVIRONMENT is production.
func (c *Config) Production() bool { return c.Environment == "production" }

// TempDir holds episodes while they are encoded: DATA_DIR/tmp, on the
// same disk as the media.
func (c *Config) TempDir() string { return filepath.Join(c.DataDir, "tmp") }

// SQLitePath is the database file used when DATABASE_URL is empty.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "echogen.db") }

// MediaDir is where the local object store keeps files.
func (c *Config) MediaDir() string { return filepath.Join(c.DataDir, "media") }

// Load reads the configuration. getenv is consulted first, then dotenv (the
// parsed .env file, may be nil). Every invalid value is reported, one per
// line, in the returned error.
func Load(getenv func(string) string, dotenv map[string]string) (*Config, error) {
	r := reader{get: func(k string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return strings.TrimSpace(dotenv[k])
	}}
	c := &Config{
		Environment: r.oneOf("ENVIRONMENT", "local", "local", "development", "test", "staging", "production"),
		ProjectName: r.str("PROJECT_NAME", "EchoGen.ai API"),
		APIPrefix:   r.str("API_V1_PREFIX", "/api/v1"),
		DataDir:     r.str("DATA_DIR", "./data"),
		DatabaseURL: r.str("DATABASE_URL", ""),
		LogLevel:    r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		PublicURL:   r.url("BACKEND_BASE_URL"),

		AuthMode:                  r.oneOf("AUTH_MODE", "builtin", "builtin", "supabase"),
		JWTSecret:                 r.str("JWT_SECRET", ""),
		JWTAlgorithm:              r.oneOf("JWT_ALGORITHM", "HS256", "HS256", "HS384", "HS512"),
		AccessTokenTTL:            r.duration("ACCESS_TOKEN_TTL", 15*time.Minute, time.Minute, 24*time.Hour),
		SessionTTL:                r.duration("SESSION_TTL", 30*24*time.Hour, time.Hour, 365*24*time.Hour),
		RefreshReuseGrace:         r.duration("REFRESH_TOKEN_REUSE_GRACE", 10*time.Second, 0, 5*time.Minute),
		EmailConfirmationRequired: r.boolean("EMAIL_CONFIRMATION_REQUIRED", false),
		PasswordResetURL:          r.url("PASSWORD_RESET_URL"),
		EmailVerifyURL:            r.url("EMAIL_VERIFY_URL"),
		Argon2MemoryKiB:           uint32(r.integer("ARGON2_MEMORY_KIB", 19456, 8192, 1<<20)),
		Argon2Iterations:          uint32(r.integer("ARGON2_ITERATIONS", 2, 1, 20)),
		Argon2Parallelism:         uint8(r.integer("ARGON2_PARALLELISM", 1, 1, 16)),
		PasswordHashConcurrency:   r.integer("PASSWORD_HASH_CONCURRENCY", 0, 0, 256),
		VaultKeys:                 r.str("VAULT_KEYS", ""),

		AccountDeletionWindow: r.duration("ACCOUNT_DELETION_WINDOW", 30*24*time.Hour, time.Minute, 365*24*time.Hour),
		AccountPurgeInterval:  r.duration("ACCOUNT_PURGE_INTERVAL", time.Hour, time.Minute, 7*24*time.Hour),

		APIRateLimitPerMinute:         r.integer("API_RATE_LIMIT_PER_MINUTE", 120, 0, 1_000_000),
		AuthRateLimitPerMinute:        r.integer("AUTH_RATE_LIMIT_PER_MINUTE", 30, 0, 1_000_000),
		AuthAccountRateLimitPerMinute: r.integer("AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE", 10, 0, 1_000_000),
		TrustProxyHeaders:             r.boolean("TRUST_PROXY_HEADERS", false),
		CORSOrigins:                   r.list("CORS_ORIGINS", []string{"*"}),

		ShutdownTimeout: r.duration("SHUTDOWN_TIMEOUT", 30*time.Second, time.Second, 10*time.Minute),

		StorageBackend:    r.oneOf("STORAGE_BACKEND", "local", "local", "s3", "supabase"),
		S3Endpoint:        r.url("S3_ENDPOINT"),
		S3Region:          r.str("S3_REGION", "us-east-1"),
		S3AccessKeyID:     r.str("S3_ACCESS_KEY_ID", ""),
		S3SecretAccessKey: r.str("S3_SECRET_ACCESS_KEY", ""),
		S3ForcePathStyle:  r.boolean("S3_FORCE_PATH_STYLE", true),
		BucketDocuments:   r.str("STORAGE_BUCKET_DOCUMENTS", "documents"),
		MediaSigningKeys:  r.str("MEDIA_SIGNING_KEYS", ""),
		SignedURLTTL:      r.duration("SIGNED_URL_TTL", time.Hour, time.Minute, 7*24*time.Hour),
		UploadMaxAudioMB:  r.integer("UPLOAD_MAX_AUDIO_MB", 200, 1, 10_000),
		UploadMaxImageMB:  r.integer("UPLOAD_MAX_IMAGE_MB", 10, 1, 1_000),
		UploadMaxDocMB:    r.integer("UPLOAD_MAX_DOCUMENT_MB", 50, 1, 10_000),

		JobWorkers:            r.integer("JOB_WORKERS", 10, 1, 1000),
		JobRescueAfter:        r.duration("JOB_RESCUE_AFTER", 0, time.Second, 24*time.Hour),
		MaxRunningJobsPerUser: r.integer("MAX_RUNNING_JOBS_PER_USER", 2, 1, 1000),
		IngestMaxMB:           r.integer("INGEST_MAX_MB", 10, 1, 1000),
		IngestTimeout:         r.duration("INGEST_TIMEOUT", 20*time.Second, time.Second, 10*time.Minute),
		IngestJobTimeout:      r.duration("INGEST_JOB_TIMEOUT", 3*time.Minute, time.Second, time.Hour),
		AllowServerKeys:       r.boolean("ALLOW_SERVER_PROVIDER_KEYS", false),
		ScriptJobTimeout:      r.duration("SCRIPT_JOB_TIMEOUT", 20*time.Minute, time.Minute, 6*time.Hour),
		AudioJobTimeout:       r.duration("AUDIO_JOB_TIMEOUT", 30*time.Minute, time.Minute, 6*time.Hour),
		MonthlyBudgetUSD:      r.money("USER_MONTHLY_BUDGET_USD"),
		ProviderCalls:         r.integer("PROVIDER_MAX_CONCURRENT_CALLS", 4, 1, 64),
		MetricsEnabled:        r.boolean("METRICS_ENABLED", true),
		OTelEndpoint:          r.url("OTEL_EXPORTER_OTLP_ENDPOINT"),
		OTelTracesEndpoint:    r.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
		AdminEmails:           lowered(r.list("ADMIN_EMAILS", nil)),
		Role:                  r.oneOf("SERVER_ROLE", RoleAll, RoleAll, RoleAPI, RoleWorker),
		IngestAllowPrivate:    r.boolean("INGEST_ALLOW_PRIVATE_ADDRESSES", false),

		SMTPHost:     r.str("SMTP_HOST", ""),
		SMTPPort:     r.integer("SMTP_PORT", 587, 1, 65535),
		SMTPUsername: r.str("SMTP_USERNAME", ""),
		SMTPPassword: r.str("SMTP_PASSWORD", ""),
		SMTPFrom:     r.str("SMTP_FROM", ""),

		Supabase: Supabase{
			URL:               r.url("SUPABASE_URL"),
			AnonKey:           r.str("SUPABASE_ANON_KEY", ""),
			ServiceRoleKey:    r.str("SUPABASE_SERVICE_ROLE_KEY", ""),
			BucketAudio:       r.str("SUPABASE_STORAGE_BUCKET_AUDIO", "podcast-audio"),
			BucketArt:         r.str("SUPABASE_STORAGE_BUCKET_ART", "cover-art"),
			BucketTranscripts: r.str("SUPABASE_STORAGE_BUCKET_TRANSCRIPTS", "transcripts"),
		},
		Providers: ProviderKeys{
			Gemini:       r.str("GEMINI_API_KEY", ""),
			OpenAI:       r.str("OPENAI_API_KEY", ""),
			Groq:         r.str("GROQ_API_KEY", ""),
			OpenRouter:   r.str("OPENROUTER_API_KEY", ""),
			Anthropic:    r.str("ANTHROPIC_API_KEY", ""),
			ElevenLabs:   r.str("ELEVENLABS_API_KEY", ""),
			Firecrawl:    r.str("FIRECRAWL_API_KEY", ""),
			Hyperbrowser: r.str("HYPERBROWSER_API_KEY", ""),
			ImageRouter:  r.str("IMAGEROUTER_API_KEY", ""),
		},
	}
	c.HTTPAddr = r.str("HTTP_ADDR", "")
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":" + strconv.Itoa(r.integer("PORT", 8000, 1, 65535))
	}
	c.validate(&r)
	if len(r.problems) > 0 {
		return nil, errors.New("invalid configuration:\n  " + strings.Join(r.problems, "\n  "))
	}
	return c, nil
}

func (c *Config) validate(r *reader) {
	if problem := c.roleProblem(); problem != "" {
		r.fail("SERVER_ROLE", c.Role, problem)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		r.fail("HTTP_ADDR", c.HTTPAddr, "must be host:port or :port")
	}
	if !strings.HasPrefix(c.APIPrefix, "/") || strings.HasSuffix(c.APIPrefix, "/") {
		r.fail("API_V1_PREFIX", c.APIPrefix, "must start with / and not end with /")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			r.problems = append(r.problems, "DATABASE_URL: must be a postgres:// or postgresql:// URL")
		}
	}
	if c.AuthMode == "supabase" || c.StorageBackend == "supabase" {
		for _, v := range []struct{ key, val string }{{"SUPABASE_URL", c.Supabase.URL}, {"SUPABASE_ANON_KEY", c.Supabase.AnonKey}, {"SUPABASE_SERVICE_ROLE_KEY", c.Supabase.ServiceRoleKey}} {
			switch {
			case v.val == "":
				r.problems = append(r.problems, v.key+": required with AUTH_MODE=supabase or STORAGE_BACKEND=supabase (Supabase dashboard → Project Settings → API)")
			case strings.HasPrefix(v.val, "your-"):
				r.problems = append(r.problems, v.key+": still the example value; paste the project's own")
			}
		}
	}
	if c.AuthMode == "supabase" && c.DatabaseURL == "" {
		r.problems = append(r.problems, "DATABASE_URL: required with AUTH_MODE=supabase: the project's Postgres connection string (Supabase dashboard → Connect → Session pooler)")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		r.problems = append(r.problems, "JWT_SECRET: must be at least 32 characters")
	}
	if c.Production() {
		if c.JWTSecret == "" && c.AuthMode == "builtin" {
			r.problems = append(r.problems, "JWT_SECRET: required when ENVIRONMENT=production")
		}
		if c.VaultKeys == "" {
			r.problems = append(r.problems, "VAULT_KEYS: required when ENVIRONMENT=production")
		}
	}
	if c.StorageBackend == "s3" {
		for _, v := range []struct{ key, val string }{{"S3_ENDPOINT", c.S3Endpoint}, {"S3_ACCESS_KEY_ID", c.S3AccessKeyID}, {"S3_SECRET_ACCESS_KEY", c.S3SecretAccessKey}} {
			if v.val == "" {
				r.problems = append(r.problems, v.key+": required when STORAGE_BACKEND=s3")
			}
		}
	}
	if c.Production() && c.StorageBackend == "local" && c.MediaSigningKeys == "" {
		r.problems = append(r.problems, "MEDIA_SIGNING_KEYS: required when ENVIRONMENT=production and STORAGE_BACKEND=local")
	}
	if c.IngestAllowPrivate && c.Production() {
		r.problems = append(r.problems, "INGEST_ALLOW_PRIVATE_ADDRESSES: never in production: it lets users make the server fetch internal addresses")
	}
	if c.SMTPHost != "" && c.SMTPFrom == "" {
		r.problems = append(r.problems, "SMTP_FROM: required when SMTP_HOST is set")
	}
}

// reader collects problems while reading variables, so one run reports
// every bad value at once.
type reader struct {
	get      func(string) string
	problems []string
}

func (r *reader) fail(key, val, why string) {
	r.problems = append(r.problems, fmt.Sprintf("%s=%q: %s", key, val, why))
}

func (r *reader) str(key, def string) string {
	if v := r.get(key); v != "" {
		return v
	}
	return def
}

func (r *reader) oneOf(key, def string, allowed ...string) string {
	v := r.get(key)
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.fail(key, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}

func (r *reader) integer(key string, def, lo, hi int) int {
	v := r.get(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(key, v, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

// money reads an optional amount of US dollars; unset is nil.
func (r *reader) money(key string) *float64 {
	v := r.get(key)
	if v == "" {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		r.fail(key, v, "must be an amount of US dollars such as 5 or 12.50")
		return nil
	}
	return &f
}

func (r *reader) duration(key string, def, lo, hi time.Duration) time.Duration {
	v := r.get(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail(key, v, fmt.Sprintf("must be a duration such as 90s or 2h, from %s to %s", lo, hi))
		return def
	}
	return d
}

func (r *reader) boolean(key string, def bool) bool {
	v := r.get(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, v, "must be true or false")
		return def
	}
	return b
}

func (r *reader) url(key string) string {
	v := r.get(key)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(key, v, "must be an http(s) URL")
		return ""
	}
	return strings.TrimRight(v, "/")
}

func (r *reader) list(key string, def []string) []string {
	v := r.get(key)
	if v == "" {
		return def
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// lowered compares e-mail addresses the way sign-in does.
func lowered(list []string) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = strings.ToLower(v)
	}
	return out
}
