package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.HTTPAddr, c.APIPrefix, c.Environment, c.JWTAlgorithm, c.AccessTokenTTL, c.APIRateLimitPerMinute, c.AccountDeletionWindow, c.Supabase.BucketAudio, c.Supabase.BucketArt, c.Supabase.BucketTranscripts, c.SQLitePath(), c.EmailConfirmationRequired}
	want := []any{":8000", "/api/v1", "local", "HS256", 15 * time.Minute, 120, 30 * 24 * time.Hour, "podcast-audio", "cover-art", "transcripts", filepath.Join("data", "echogen.db"), false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadPrecedence(t *testing.T) {
	c, err := Load(env(map[string]string{"PORT": "9001", "PROJECT_NAME": "from env"}), map[string]string{"PROJECT_NAME": "from file", "ENVIRONMENT": "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":9001" || c.ProjectName != "from env" || c.Environment != "staging" {
		t.Errorf("got addr %q, name %q, env %q", c.HTTPAddr, c.ProjectName, c.Environment)
	}
	c, _ = Load(env(map[string]string{"PORT": "9001", "HTTP_ADDR": "127.0.0.1:7000"}), nil)
	if c.HTTPAddr != "127.0.0.1:7000" {
		t.Errorf("HTTP_ADDR must win over PORT, got %q", c.HTTPAddr)
	}
}

func TestLoadReportsEveryBadValue(t *testing.T) {
	bad := map[string]string{
		"PORT":                        "eighty",
		"JWT_ALGORITHM":               "none",
		"ACCESS_TOKEN_TTL":            "forever",
		"API_RATE_LIMIT_PER_MINUTE":   "-1",
		"EMAIL_CONFIRMATION_REQUIRED": "maybe",
		"DATABASE_URL":                "mysql://x",
		"JWT_SECRET":                  "short-secret-value",
		"SUPABASE_URL":                "ftp://x",
		"API_V1_PREFIX":               "api/",
		"SMTP_HOST":                   "mail.example.com",
	}
	_, err := Load(env(bad), nil)
	if err == nil {
		t.Fatal("Load accepted bad values")
	}
	msg := err.Error()
	for _, key := range []string{"PORT", "JWT_ALGORITHM", "ACCESS_TOKEN_TTL", "API_RATE_LIMIT_PER_MINUTE", "EMAIL_CONFIRMATION_REQUIRED", "DATABASE_URL", "JWT_SECRET", "SUPABASE_URL", "API_V1_PREFIX", "SMTP_FROM"} {
		if !strings.Contains(msg, key) {
			t.Errorf("error does not name %s:\n%s", key, msg)
		}
	}
	if strings.Contains(msg, "short-secret-value") {
		t.Error("the error printed the JWT secret")
	}
	if got := strings.Count(msg, "\n"); got != len(bad) {
		t.Errorf("want one line per bad value (%d), got %d:\n%s", len(bad), got, msg)
	}
}

func TestProductionNeedsSecrets(t *testing.T) {
	_, err := Load(env(map[string]string{"ENVIRONMENT": "production"}), nil)
	if err == nil || !strings.Contains(err.Error(), "JWT_SECRET") || !strings.Contains(err.Error(), "VAULT_KEYS") {
		t.Fatalf("production without secrets: %v", err)
	}
}

func TestEnsureSecrets(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DataDir: dir}
	generated, err := EnsureSecrets(c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"JWT_SECRET", "VAULT_KEYS", "MEDIA_SIGNING_KEYS"}, generated); diff != "" {
		t.Errorf("generated (-want +got):\n%s", diff)
	}
	info, err := os.Stat(filepath.Join(dir, SecretsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v %v", info, err)
	}
	// A second start reuses them.
	again := &Config{DataDir: dir}
	generated, err = EnsureSecrets(again)
	if err != nil || len(generated) != 0 || again.JWTSecret != c.JWTSecret || again.VaultKeys != c.VaultKeys {
		t.Fatalf("second start: generated %v, err %v, same secrets %v", generated, err, again.JWTSecret == c.JWTSecret)
	}
	// Configured values win and nothing is written.
	other := t.TempDir()
	set := &Config{DataDir: other, JWTSecret: "x", VaultKeys: "y", MediaSigningKeys: "z"}
	if generated, err := EnsureSecrets(set); err != nil || generated != nil {
		t.Fatalf("configured secrets: %v %v", generated, err)
	}
	if _, err := os.Stat(filepath.Join(other, SecretsFile)); !os.IsNotExist(err) {
		t.Error("a secrets file was written although both secrets were configured")
	}
}

func TestSupabaseMode(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // problems named; nil: loads
	}{
		{"nothing set", map[string]string{"AUTH_MODE": "supabase"}, []string{"SUPABASE_URL: required", "SUPABASE_ANON_KEY: required", "SUPABASE_SERVICE_ROLE_KEY: required", "DATABASE_URL: required"}},
		{"example keys", map[string]string{"AUTH_MODE": "supabase", "SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_ANON_KEY": "your-anon-key",
			"SUPABASE_SERVICE_ROLE_KEY": "your-service-role-key", "DATABASE_URL": "postgres://x@h/db"}, []string{"SUPABASE_ANON_KEY: still the example value", "SUPABASE_SERVICE_ROLE_KEY: still the example value"}},
		{"storage only", map[string]string{"STORAGE_BACKEND": "supabase"}, []string{"SUPABASE_URL: required"}},
		{"complete, production, no JWT secret (JWKS)", map[string]string{"AUTH_MODE": "supabase", "ENVIRONMENT": "production", "SUPABASE_URL": "https://abc.supabase.co",
			"SUPABASE_ANON_KEY": "anon", "SUPABASE_SERVICE_ROLE_KEY": "service", "DATABASE_URL": "postgres://x@h/db", "VAULT_KEYS": "k1:x", "STORAGE_BACKEND": "supabase"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(tc.env), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if generated, err := EnsureSecrets(&Config{DataDir: t.TempDir(), AuthMode: c.AuthMode}); err != nil || len(generated) != 2 {
					t.Errorf("supabase mode generated %v, %v; never a JWT secret", generated, err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not say %q", err, w)
				}
			}
		})
	}
}

func TestRoles(t *testing.T) {
	pg := "postgres://x@h/db"
	for _, tc := range []struct {
		name, envRole, database, flag string
		want                          string // the role in force, or "" for an error
	}{
		{"default", "", "", "", RoleAll},
		{"SQLite, all", "", "", RoleAll, RoleAll},
		{"SQLite cannot split", "", "", RoleWorker, ""},
		{"SQLite cannot split, from the environment", RoleAPI, "", "", ""},
		{"PostgreSQL, api", "", pg, RoleAPI, RoleAPI},
		{"PostgreSQL, worker from the environment", RoleWorker, pg, "", RoleWorker},
		{"the flag wins", RoleWorker, pg, RoleAPI, RoleAPI},
		{"unknown", "", pg, "scheduler", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"SERVER_ROLE": tc.envRole, "DATABASE_URL": tc.database}), nil)
			if err == nil && tc.flag != "" {
				err = c.SetRole(tc.flag)
			}
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("role %q accepted", c.Role)
			case tc.want == "" && !strings.Contains(err.Error(), "must be one of") && !strings.Contains(err.Error(), "DATABASE_URL"):
				t.Errorf("the error does not say what to do: %v", err)
			case tc.want != "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && c.Role != tc.want:
				t.Errorf("role %q, want %q", c.Role, tc.want)
			}
		})
	}
}
