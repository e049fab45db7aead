package blob

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestHandlerRanges checks the conditional and range requests the media
// player and browsers send, on a real HTTP server.
func TestHandlerRanges(t *testing.T) {
	l, _, _, srv := newTestLocal(t)
	body := strings.Repeat("abcdefghij", 100) // 1000 bytes
	put(t, l, audio, "u1/a.mp3", body, "audio/mpeg")
	u := srv.URL + mustSign(t, l, audio, "u1/a.mp3", time.Hour, false)
	info, err := l.Stat(t.Context(), audio, "u1/a.mp3")
	if err != nil {
		t.Fatal(err)
	}
	lastModified := info.ModTime.Format(http.TimeFormat)

	tests := []struct {
		name       string
		header     []string
		wantStatus int
		wantBody   string
		wantRange  string
	}{
		{name: "whole", wantStatus: 200, wantBody: body},
		{name: "first byte", header: []string{"Range", "bytes=0-0"}, wantStatus: 206, wantBody: "a", wantRange: "bytes 0-0/1000"},
		{name: "middle", header: []string{"Range", "bytes=100-199"}, wantStatus: 206, wantBody: body[100:200], wantRange: "bytes 100-199/1000"},
		{name: "open-ended", header: []string{"Range", "bytes=990-"}, wantStatus: 206, wantBody: body[990:], wantRange: "bytes 990-999/1000"},
		{name: "suffix", header: []string{"Range", "bytes=-100"}, wantStatus: 206, wantBody: body[900:], wantRange: "bytes 900-999/1000"},
		{name: "past the end is clipped", header: []string{"Range", "bytes=995-5000"}, wantStatus: 206, wantBody: body[995:], wantRange: "bytes 995-999/1000"},
		{name: "unsatisfiable", header: []string{"Range", "bytes=1000-1001"}, wantStatus: 416, wantRange: "bytes */1000"},
		// net/http would answer 206 "bytes 1000-999/1000" (golang/go#81262).
		{name: "zero-length suffix is ignored", header: []string{"Range", "bytes=-0"}, wantStatus: 200, wantBody: body},
		{name: "zero-length suffix among others", header: []string{"Range", "bytes=0-1,-0"}, wantStatus: 200, wantBody: body},
		{name: "if-range matches", header: []string{"Range", "bytes=0-9", "If-Range", info.ETag}, wantStatus: 206, wantBody: body[:10], wantRange: "bytes 0-9/1000"},
		{name: "if-range stale", header: []string{"Range", "bytes=0-9", "If-Range", `"stale"`}, wantStatus: 200, wantBody: body},
		{name: "if-none-match", header: []string{"If-None-Match", info.ETag}, wantStatus: 304},
		{name: "if-none-match other", header: []string{"If-None-Match", `"other"`}, wantStatus: 200, wantBody: body},
		{name: "if-modified-since", header: []string{"If-Modified-Since", lastModified}, wantStatus: 304},
		{name: "if-modified-since earlier", header: []string{"If-Modified-Since", info.ModTime.Add(-time.Hour).Format(http.TimeFormat)}, wantStatus: 200, wantBody: body},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := fetch(t, u, tt.header...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %.60q)", resp.StatusCode, tt.wantStatus, got)
			}
			if tt.wantStatus != 416 && got != tt.wantBody {
				t.Errorf("body = %.40q (%d bytes), want %.40q (%d bytes)", got, len(got), tt.wantBody, len(tt.wantBody))
			}
			if cr := resp.Header.Get("Content-Range"); cr != tt.wantRange {
				t.Errorf("Content-Range = %q, want %q", cr, tt.wantRange)
			}
			if tt.wantStatus == 200 || tt.wantStatus == 206 {
				if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(tt.wantBody)) {
					t.Errorf("Content-Length = %q, want %d", cl, len(tt.wantBody))
				}
			}
		})
	}
	t.Run("multiple ranges", func(t *testing.T) {
		resp, got := fetch(t, u, "Range", "bytes=0-1,10-11")
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 206 || !strings.HasPrefix(ct, "multipart/byteranges; boundary=") {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, ct)
		}
		if !strings.Contains(got, "Content-Range: bytes 0-1/1000\r\nContent-Type: audio/mpeg\r\n\r\nab") ||
			!strings.Contains(got, "Content-Range: bytes 10-11/1000\r\nContent-Type: audio/mpeg\r\n\r\nab") {
			t.Errorf("multipart body:\n%s", got)
		}
	})
}

func TestHandlerHeaders(t *testing.T) {
	l, _, clock, srv := newTestLocal(t)
	put(t, l, audio, "u1/Épisode 1.mp3", "data", "audio/mpeg")
	info, _ := l.Stat(t.Context(), audio, "u1/Épisode 1.mp3")
	inline := srv.URL + mustSign(t, l, audio, "u1/Épisode 1.mp3", time.Hour, false)
	download := srv.URL + mustSign(t, l, audio, "u1/Épisode 1.mp3", time.Hour, true)
	clock.Advance(10 * time.Minute)

	want := map[string]string{
		"Content-Type":            "audio/mpeg",
		"Content-Length":          "4",
		"Cache-Control":           "private, max-age=3000",
		"Accept-Ranges":           "bytes",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"Etag":                    info.ETag,
		"Last-Modified":           testStart.Format(http.TimeFormat),
		"Content-Disposition":     "",
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, dl := range []bool{false, true} {
			u, w := inline, want
			if dl {
				u, w = download, clone(want)
				w["Content-Disposition"] = `attachment; filename*=utf-8''%C3%89pisode%201.mp3`
			}
			req, _ := http.NewRequest(method, u, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 16)
			n, _ := resp.Body.Read(buf)
			resp.Body.Close()
			got := map[string]string{}
			for k := range w {
				got[k] = resp.Header.Get(k)
			}
			if diff := cmp.Diff(w, got); diff != "" || resp.StatusCode != 200 {
				t.Errorf("%s download=%v: status %d, headers (-want +got):\n%s", method, dl, resp.StatusCode, diff)
			}
			if wantBody := map[string]string{http.MethodGet: "data", http.MethodHead: ""}[method]; string(buf[:n]) != wantBody {
				t.Errorf("%s body = %q, want %q", method, buf[:n], wantBody)
			}
		}
	}
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestHandlerErrors(t *testing.T) {
	l, _, clock, srv := newTestLocal(t)
	put(t, l, audio, "u1/a.mp3", "data", "audio/mpeg")
	put(t, l, audio, "u1/b.mp3", "data", "audio/mpeg")
	valid := mustSign(t, l, audio, "u1/a.mp3", time.Minute, false)
	deleted := mustSign(t, l, audio, "u1/b.mp3", time.Hour, false)
	if err := l.Delete(t.Context(), audio, "u1/b.mp3"); err != nil {
		t.Fatal(err)
	}
	expiring := mustSign(t, l, audio, "u1/a.mp3", time.Minute, false)
	tests := []struct {
		name       string
		method     string
		url        string
		advance    time.Duration
		wantStatus int
		wantCode   string
	}{
		{"tampered", "GET", strings.Replace(valid, "a.mp3", "b.mp3", 1), 0, 403, "invalid_signature"},
		{"unsigned", "GET", "/media/" + audio + "/u1/a.mp3", 0, 403, "invalid_signature"},
		{"deleted object", "GET", deleted, 0, 404, "not_found"},
		{"post", "POST", valid, 0, 405, "method_not_allowed"},
		{"expired", "GET", expiring, time.Minute, 403, "url_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			req, _ := http.NewRequest(tt.method, srv.URL+tt.url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct{ Detail, Code string }
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tt.wantStatus || got.Code != tt.wantCode || got.Detail == "" {
				t.Errorf("%d %+v, want %d %s", resp.StatusCode, got, tt.wantStatus, tt.wantCode)
			}
			if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
		})
	}
}
