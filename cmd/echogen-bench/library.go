package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"
)

// benchLibrary compares GET /api/v1/podcasts?limit=20 over 20 podcasts
// (each answer signs 40 media URLs) with GET /api/v1/auth/me, in one run.
func benchLibrary(ctx context.Context, out io.Writer, databaseURL string, conns int, d time.Duration) error {
	srv, err := startServer(ctx, databaseURL, nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	u, err := srv.signUp(http.DefaultClient, "library@example.com", "bench-password-1")
	if err != nil {
		return err
	}
	script, err := srv.postJSON(u, "/api/v1/scripts", `{"prompt":"p","model":"m","segments":[{"speaker":"Alex","content":"Hello"}]}`)
	if err != nil {
		return err
	}
	audio, err := srv.uploadFile(u, "audio", "a.mp3", bytes.NewReader(benchMP3(64<<10)))
	if err != nil {
		return err
	}
	cover, err := srv.uploadFile(u, "image", "c.png", bytes.NewReader(benchPNG()))
	if err != nil {
		return err
	}
	for range 20 {
		body := fmt.Sprintf(`{"script_id":%q,"audio_storage_path":%q,"cover_art_storage_path":%q,"duration_seconds":600}`, script, audio, cover)
		if _, err := srv.postJSON(u, "/api/v1/podcasts", body); err != nil {
			return err
		}
	}
	header := http.Header{"Authorization": {"Bearer " + u.token}}
	// Each answer carries freshly signed URLs, so bodies differ: check the
	// status only (want = nil).
	load(ctx, srv.URL+"/api/v1/podcasts?limit=20", header, nil, conns, d/5)
	list := load(ctx, srv.URL+"/api/v1/podcasts?limit=20", header, nil, conns, d)
	me := load(ctx, srv.URL+"/api/v1/auth/me", header, nil, conns, d)
	fmt.Fprintf(out, "# %d connections, %s per phase\n", conns, d)
	fmt.Fprintf(out, "GET /api/v1/podcasts?limit=20  %s\n", list)
	fmt.Fprintf(out, "GET /api/v1/auth/me            %s\n", me)
	fmt.Fprintf(out, "ratio (podcasts/me req/s) %.2f\n", list.rps()/me.rps())
	if list.errors > 0 || me.errors > 0 {
		return fmt.Errorf("%d and %d requests failed", list.errors, me.errors)
	}
	return nil
}

// benchUpload measures the process's peak memory while a 100 MB file is
// uploaded through the API, then while it is read back with concurrent
// range requests.
func benchUpload(ctx context.Context, out io.Writer, databaseURL string) error {
	srv, err := startServer(ctx, databaseURL, nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	u, err := srv.signUp(http.DefaultClient, "upload@example.com", "bench-password-1")
	if err != nil {
		return err
	}
	const size = 100 << 20
	runtime.GC()
	before := rssKiB("VmRSS")
	resetPeakRSS()
	t0 := time.Now()
	path, err := srv.uploadFile(u, "audio", "long.mp3", &patternReader{pattern: benchMP3(4096), left: size})
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	peak := rssKiB("VmHWM")
	fmt.Fprintf(out, "upload of 100 MiB through POST /api/v1/uploads: %.0f ms (%.0f MiB/s); RSS before %.1f MiB, peak +%.1f MiB\n",
		ms(elapsed), float64(size>>20)/elapsed.Seconds(), float64(before)/1024, float64(peak-before)/1024)

	script, err := srv.postJSON(u, "/api/v1/scripts", `{"prompt":"p","model":"m","segments":[{"speaker":"Alex","content":"Hello"}]}`)
	if err != nil {
		return err
	}
	pod, err := srv.postJSON(u, "/api/v1/podcasts", fmt.Sprintf(`{"script_id":%q,"audio_storage_path":%q}`, script, path))
	if err != nil {
		return err
	}
	var p struct {
		AudioURL string `json:"audio_url"`
	}
	if err := srv.getJSON(u, "/api/v1/podcasts/"+pod, &p); err != nil {
		return err
	}
	runtime.GC()
	before = rssKiB("VmRSS")
	resetPeakRSS()
	const readers, chunk = 16, 1 << 20
	t0 = time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var read int64
	var firstErr error
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each reader seeks through the file in 1 MiB ranges, as a
			// player scrubbing would.
			for off := int64(i) * chunk; off < size; off += readers * chunk {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.AudioURL, nil)
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+chunk-1))
				res, err := http.DefaultClient.Do(req)
				if err == nil && res.StatusCode != http.StatusPartialContent {
					err = fmt.Errorf("range read: %s", res.Status)
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				read += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	elapsed = time.Since(t0)
	peak = rssKiB("VmHWM")
	fmt.Fprintf(out, "range reads of the whole file, 1 MiB each, %d at a time: %d MiB in %.0f ms; RSS before %.1f MiB, peak +%.1f MiB\n",
		readers, read>>20, ms(elapsed), float64(before)/1024, float64(peak-before)/1024)
	return nil
}

// patternReader yields left bytes by repeating pattern, holding nothing more.
type patternReader struct {
	pattern []byte
	left    int64
	off     int
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = p.pattern[p.off]
		p.off = (p.off + 1) % len(p.pattern)
	}
	p.left -= int64(len(b))
	return len(b), nil
}

func benchMP3(n int) []byte {
	b := []byte("ID3\x04\x00\x00\x00\x00\x00\x00")
	for len(b) < n {
		b = append(b, 0xFF, 0xFB, 0x90, 0x64, 0x00)
	}
	return b[:n]
}

func benchPNG() []byte {
	return append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 200)...)
}

func (s server) postJSON(u user, path, body string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.token)
	return s.idFrom(req, "id")
}

func (s server) getJSON(u user, path string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+u.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// uploadFile streams data as a multipart upload and returns its storage path.
func (s server) uploadFile(u user, kind, name string, data io.Reader) (string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("kind", kind)
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("file", name); err == nil {
				_, err = io.Copy(part, data)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/uploads", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+u.token)
	return s.idFrom(req, "storage_path")
}

func (s server) idFrom(req *http.Request, key string) (string, error) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("%s %s: %s %s", req.Method, req.URL.Path, res.Status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return "", err
	}
	v, _ := m[key].(string)
	return v, nil
}
