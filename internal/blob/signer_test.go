package blob

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
)

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// testKeys holds two signing keys: "new" signs, "old" still verifies.
var testKeys = "new:" + b64(strings.Repeat("n", 32)) + ",old:" + b64(strings.Repeat("o", 32))

func newTestSigner(t testing.TB, keys string, clock echogen.Clock) *Signer {
	t.Helper()
	s, err := NewSigner(keys, clock)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSigner(t *testing.T) {
	key := strings.Repeat("x", 32)
	tests := []struct {
		name, keys string
		wantIDs    []string
		wantErr    string
	}{
		{name: "one key", keys: "a:" + b64(key), wantIDs: []string{"a"}},
		{name: "two keys, spaces", keys: " a:" + b64(key) + " , b_2-x:" + b64(key), wantIDs: []string{"a", "b_2-x"}},
		{name: "raw URL alphabet", keys: "a:" + base64.RawURLEncoding.EncodeToString([]byte("\xfb\xff"+key)), wantIDs: []string{"a"}},
		{name: "empty", keys: "", wantErr: "want <id>:<base64 secret>"},
		{name: "no id", keys: b64(key), wantErr: "want <id>:<base64 secret>"},
		{name: "bad id", keys: "a b:" + b64(key), wantErr: "want <id>:<base64 secret>"},
		{name: "long id", keys: strings.Repeat("i", 33) + ":" + b64(key), wantErr: "want <id>:<base64 secret>"},
		{name: "duplicate", keys: "a:" + b64(key) + ",a:" + b64(key), wantErr: "appears twice"},
		{name: "not base64", keys: "a:!!!", wantErr: "not base64"},
		{name: "short", keys: "a:" + b64("short"), wantErr: "at least 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.keys, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewSigner error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), b64(key)) {
					t.Fatalf("error %q shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range s.keys {
				ids = append(ids, k.id)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("key ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignedURLFormat(t *testing.T) {
	s := newTestSigner(t, testKeys, echogentest.NewClock(testStart))
	got, err := s.SignedURL("podcast-audio", "u/Épisode 1?.mp3", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/media/podcast-audio/u/Épisode 1?.mp3" || u.Host != "" {
		t.Errorf("URL %q: path %q", got, u.Path)
	}
	wantPrefix := "/media/podcast-audio/u/%C3%89pisode%201%3F.mp3?exp=1772370000&kid=new&sig="
	if !strings.HasPrefix(got, wantPrefix) || !strings.HasSuffix(got, "&dl=1") {
		t.Errorf("URL = %q, want %q…&dl=1", got, wantPrefix)
	}
	for _, ttl := range []time.Duration{0, -time.Second, MaxSignedURLTTL + time.Second} {
		if _, err := s.SignedURL("podcast-audio", "u/a", ttl, false); err == nil {
			t.Errorf("SignedURL with ttl %v: no error", ttl)
		}
	}
	if _, err := s.SignedURL("podcast-audio", "../a", time.Hour, false); err == nil {
		t.Error("SignedURL signed an invalid key")
	}
	if _, err := s.SignedURL("a/b", "u/a", time.Hour, false); err == nil {
		t.Error("SignedURL signed an invalid bucket")
	}
}

func TestVerify(t *testing.T) {
	clock := echogentest.NewClock(testStart)
	s := newTestSigner(t, testKeys, clock)
	sign := func(bucket, key string, ttl time.Duration, dl bool) string {
		u, err := s.SignedURL(bucket, key, ttl, dl)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	inline := sign("podcast-audio", "u/a.mp3", time.Hour, false)
	download := sign("podcast-audio", "u/a.mp3", time.Hour, true)
	longer := sign("podcast-audio", "u/a.mp3", 2*time.Hour, false)
	q := func(raw string) url.Values { u, _ := url.Parse(raw); return u.Query() }
	oldOnly := newTestSigner(t, "old:"+b64(strings.Repeat("o", 32)), clock)
	byOld, _ := oldOnly.SignedURL("podcast-audio", "u/a.mp3", time.Hour, false)
	other := newTestSigner(t, "new:"+b64(strings.Repeat("z", 32)), clock)
	byStranger, _ := other.SignedURL("podcast-audio", "u/a.mp3", time.Hour, false)

	tests := []struct {
		name     string
		url      string
		wantCode string // "" means valid
		want     Grant
	}{
		{name: "inline", url: inline, want: Grant{Bucket: "podcast-audio", Key: "u/a.mp3", Expires: testStart.Add(time.Hour)}},
		{name: "download", url: download, want: Grant{Bucket: "podcast-audio", Key: "u/a.mp3", Expires: testStart.Add(time.Hour), Download: true}},
		{name: "signed by the older key", url: byOld, want: Grant{Bucket: "podcast-audio", Key: "u/a.mp3", Expires: testStart.Add(time.Hour)}},
		{name: "extra parameter is ignored", url: inline + "&utm=x", want: Grant{Bucket: "podcast-audio", Key: "u/a.mp3", Expires: testStart.Add(time.Hour)}},
		{name: "other key", url: strings.Replace(inline, "/u/a.mp3", "/u/b.mp3", 1), wantCode: "invalid_signature"},
		{name: "other user", url: strings.Replace(inline, "/u/", "/v/", 1), wantCode: "invalid_signature"},
		{name: "other bucket", url: strings.Replace(inline, "/podcast-audio/", "/cover-art/", 1), wantCode: "invalid_signature"},
		{name: "longer expiry", url: strings.Replace(inline, "exp="+q(inline).Get("exp"), "exp="+q(longer).Get("exp"), 1), wantCode: "invalid_signature"},
		{name: "dl added", url: inline + "&dl=1", wantCode: "invalid_signature"},
		{name: "dl removed", url: strings.TrimSuffix(download, "&dl=1"), wantCode: "invalid_signature"},
		{name: "dl other value", url: strings.Replace(download, "dl=1", "dl=0", 1), wantCode: "invalid_signature"},
		{name: "kid swapped", url: strings.Replace(inline, "kid=new", "kid=old", 1), wantCode: "invalid_signature"},
		{name: "unknown kid", url: strings.Replace(inline, "kid=new", "kid=gone", 1), wantCode: "invalid_signature"},
		{name: "signed by a stranger", url: byStranger, wantCode: "invalid_signature"},
		{name: "sig from another URL", url: strings.Replace(inline, "sig="+q(inline).Get("sig"), "sig="+q(download).Get("sig"), 1), wantCode: "invalid_signature"},
		{name: "sig missing", url: strings.Split(inline, "&sig=")[0], wantCode: "invalid_signature"},
		{name: "sig repeated", url: inline + "&sig=" + q(inline).Get("sig"), wantCode: "invalid_signature"},
		{name: "sig truncated", url: inline[:len(inline)-2], wantCode: "invalid_signature"},
		{name: "exp with plus", url: strings.Replace(inline, "exp=", "exp=%2B", 1), wantCode: "invalid_signature"},
		{name: "exp with leading zero", url: strings.Replace(inline, "exp=", "exp=0", 1), wantCode: "invalid_signature"},
		{name: "other path prefix", url: strings.Replace(inline, "/media/", "/files/", 1), wantCode: "invalid_signature"},
		{name: "bucket only", url: "/media/podcast-audio?" + q(inline).Encode(), wantCode: "invalid_signature"},
		{name: "bad query", url: inline + "&%zz", wantCode: "invalid_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			g, err := s.Verify(u)
			if tt.wantCode != "" {
				if echogen.ErrorKind(err) != echogen.KindPermissionDenied || echogen.ErrorCode(err) != tt.wantCode {
					t.Fatalf("Verify(%s) = %+v, %v; want %s", tt.url, g, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify(%s): %v", tt.url, err)
			}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("grant (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyExpiry(t *testing.T) {
	clock := echogentest.NewClock(testStart)
	s := newTestSigner(t, testKeys, clock)
	raw, err := s.SignedURL("podcast-audio", "u/a.mp3", 90*time.Second+time.Millisecond, false)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	tests := []struct {
		after    time.Duration
		wantCode string
	}{
		{0, ""},
		{90*time.Second + time.Millisecond, ""}, // the lifetime is rounded up, never down
		{91*time.Second - time.Nanosecond, ""},
		{91 * time.Second, "url_expired"},
		{24 * time.Hour, "url_expired"},
	}
	for _, tt := range tests {
		c := echogentest.NewClock(testStart.Add(tt.after))
		_, err := newTestSigner(t, testKeys, c).Verify(u)
		if echogen.ErrorCode(err) != tt.wantCode && !(tt.wantCode == "" && err == nil) {
			t.Errorf("after %v: Verify = %v, want %q", tt.after, err, tt.wantCode)
		}
	}
	// A tampered URL says so even once expired: expiry is not revealed to forgers.
	clock.Advance(time.Hour)
	bad, _ := url.Parse(strings.Replace(raw, "u/a.mp3", "u/b.mp3", 1))
	if _, err := s.Verify(bad); echogen.ErrorCode(err) != "invalid_signature" {
		t.Errorf("tampered and expired: %v, want invalid_signature", err)
	}
}
