package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchMe compares an authenticated GET /api/v1/auth/me with a bare
// net/http handler that returns the same bytes, in the same run.
func benchMe(ctx context.Context, out io.Writer, databaseURL string, conns int, d time.Duration) error {
	srv, err := startServer(ctx, databaseURL, nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	u, err := srv.signUp(http.DefaultClient, "bench@example.com", "bench-password-1")
	if err != nil {
		return err
	}
	header := http.Header{"Authorization": {"Bearer " + u.token}, "Accept": {"application/json"}}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/auth/me", nil)
	req.Header = header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /auth/me: %d %s", res.StatusCode, body)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go bare.Serve(ln)
	defer bare.Close()

	db := "sqlite"
	if databaseURL != "" {
		db = "postgres"
	}
	fmt.Fprintf(out, "# %d connections, %s per phase, database %s, response %d bytes\n", conns, d, db, len(body))
	load(ctx, srv.URL+"/api/v1/auth/me", header, body, conns, d/5) // warm up
	api := load(ctx, srv.URL+"/api/v1/auth/me", header, body, conns, d)
	baseline := load(ctx, "http://"+ln.Addr().String()+"/", header, body, conns, d)
	fmt.Fprintf(out, "GET /api/v1/auth/me  %s\n", api)
	fmt.Fprintf(out, "bare net/http        %s\n", baseline)
	fmt.Fprintf(out, "ratio (api/bare req/s) %.2f\n", api.rps()/baseline.rps())
	if api.errors > 0 || baseline.errors > 0 {
		return fmt.Errorf("%d and %d requests failed", api.errors, baseline.errors)
	}
	return nil
}

// benchSignIn measures one sign-in at a time with the default argon2id
// parameters, then the process's peak memory while n sign in at once.
func benchSignIn(ctx context.Context, out io.Writer, databaseURL string, n, hashConcurrency int) error {
	srv, err := startServer(ctx, databaseURL, map[string]string{"PASSWORD_HASH_CONCURRENCY": strconv.Itoa(hashConcurrency)})
	if err != nil {
		return err
	}
	defer srv.Close()
	users := make([]user, n)
	for i := range users {
		if users[i], err = srv.signUp(http.DefaultClient, fmt.Sprintf("user%d@example.com", i), "bench-password-1"); err != nil {
			return err
		}
	}
	var serial []time.Duration
	for i := range 20 {
		t0 := time.Now()
		if err := srv.signIn(http.DefaultClient, users[i%n]); err != nil {
			return err
		}
		serial = append(serial, time.Since(t0))
	}
	slices.Sort(serial)
	fmt.Fprintf(out, "sign-in, one at a time (argon2id m=19456 KiB t=2 p=1): median %.1f ms, min %.1f ms, max %.1f ms\n",
		ms(serial[len(serial)/2]), ms(serial[0]), ms(serial[len(serial)-1]))

	runtime.GC()
	before := rssKiB("VmRSS")
	resetPeakRSS()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	t0 := time.Now()
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.signIn(http.DefaultClient, u); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	peak := rssKiB("VmHWM")
	fmt.Fprintf(out, "PASSWORD_HASH_CONCURRENCY=%d (0 = max(2, GOMAXPROCS)); ", hashConcurrency)
	fmt.Fprintf(out, "%d concurrent sign-ins: all done in %.0f ms; RSS before %.1f MiB, peak %.1f MiB (+%.1f MiB)\n",
		n, ms(elapsed), float64(before)/1024, float64(peak)/1024, float64(peak-before)/1024)
	return nil
}

// benchStartup builds the binary, starts it on an empty data folder and
// times the first 200 from /ready, then reads its resident memory at rest.
func benchStartup(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "echogen-startup-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "echogen")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/echogen")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	var runs []time.Duration
	var rss []int
	for i := range 5 {
		port, err := freePort()
		if err != nil {
			return err
		}
		data := filepath.Join(dir, fmt.Sprintf("data%d", i))
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = append(os.Environ(), "DATA_DIR="+data, "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "LOG_LEVEL=error")
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		ready := waitReady(ctx, "http://127.0.0.1:"+strconv.Itoa(port)+"/ready", 30*time.Second)
		elapsed := time.Since(t0)
		if ready == nil {
			// Idle for a moment so start-up garbage is collected, as it would be at rest.
			time.Sleep(2 * time.Second)
			rss = append(rss, procRSSKiB(cmd.Process.Pid))
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if ready != nil {
			return ready
		}
		runs = append(runs, elapsed)
	}
	slices.Sort(runs)
	slices.Sort(rss)
	fmt.Fprintf(out, "start to /ready 200 on SQLite (fresh data folder, 5 runs): median %.0f ms, min %.0f ms, max %.0f ms\n",
		ms(runs[len(runs)/2]), ms(runs[0]), ms(runs[len(runs)-1]))
	fmt.Fprintf(out, "idle RSS after start: median %.1f MiB (min %.1f, max %.1f)\n",
		float64(rss[len(rss)/2])/1024, float64(rss[0])/1024, float64(rss[len(rss)-1])/1024)
	return nil
}

// waitReady polls url until it answers 200. Polling is the measurement
// here: the probe is what a load balancer would do, every 2 ms.
func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s", url, limit)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func rssKiB(field string) int { return statusField("/proc/self/status", field) }

func procRSSKiB(pid int) int { return statusField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS") }

func statusField(path, field string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := strings.CutPrefix(string(line), field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}

// resetPeakRSS restarts the kernel's peak-RSS (VmHWM) count for this process.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
