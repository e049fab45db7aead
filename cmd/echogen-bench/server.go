package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/echogen/server/internal/app"
	"github.com/echogen/server/internal/config"
)

// server is the real application, in-process, on a loopback port.
type server struct {
	url     string
	stop    func()
	dataDir string
}

func startServer(ctx context.Context, databaseURL string, extra map[string]string) (*server, error) {
	dir, err := os.MkdirTemp("", "echogen-bench-*")
	if err != nil {
		return nil, err
	}
	dropSchema := func() {}
	if databaseURL != "" {
		if databaseURL, dropSchema, err = benchSchema(ctx, databaseURL); err != nil {
			return nil, err
		}
	}
	env := map[string]string{
		"DATA_DIR":                           dir,
		"DATABASE_URL":                       databaseURL,
		"LOG_LEVEL":                          "error",
		"API_RATE_LIMIT_PER_MINUTE":          "0", // measure the server, not the limiter's refusals
		"AUTH_RATE_LIMIT_PER_MINUTE":         "0",
		"AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE": "0",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Serve(sctx, ln); err != nil {
			log.Error("serve", "error", err)
		}
	}()
	return &server{url: "http://" + ln.Addr().String(), dataDir: dir, stop: func() {
		cancel()
		<-done
		a.Close()
		os.RemoveAll(dir)
		dropSchema()
	}}, nil
}

// benchSchema creates a schema of its own for one run in the PostgreSQL
// database at url, and returns a URL whose connections use it and a
// function that drops it.
func benchSchema(ctx context.Context, url string) (string, func(), error) {
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	exec := func(stmt string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		return "", nil, fmt.Errorf("create bench schema: %w", err)
	}
	u, err := neturl.Parse(url)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { _ = exec("DROP SCHEMA " + schema + " CASCADE") }, nil
}

// user is a signed-up account with its access token.
type user struct {
	email, password, token string
}

func (s *server) signUp(client *http.Client, email, password string) (user, error) {
	body := fmt.Sprintf(`{"method":"email","email":%q,"password":%q}`, email, password)
	res, err := client.Post(s.url+"/api/v1/auth/signup", "application/json", strings.NewReader(body))
	if err != nil {
		return user{}, err
	}
	defer res.Body.Close()
	var out struct {
		Session struct {
			AccessToken string `json:"access_token"`
		} `json:"session"`
	}
	if res.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(res.Body)
		return user{}, fmt.Errorf("sign-up: %d %s", res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return user{}, err
	}
	return user{email: email, password: password, token: out.Session.AccessToken}, nil
}

func (s *server) signIn(client *http.Client, u user) error {
	body := fmt.Sprintf(`{"method":"email","email":%q,"password":%q}`, u.email, u.password)
	res, err := client.Post(s.url+"/api/v1/auth/signin", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("sign-in: %d", res.StatusCode)
	}
	return nil
}

// result is one load phase.
type result struct {
	requests  int
	errors    int
	firstErr  string
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

func (r result) String() string {
	s := fmt.Sprintf("%8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  (%d requests, %d errors)",
		r.rps(), ms(r.percentile(0.50)), ms(r.percentile(0.99)), r.requests, r.errors)
	if r.firstErr != "" {
		s += "\n  first error: " + r.firstErr
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// load sends GET url with header from conns clients for d and records each
// latency. A request counts as an error unless it answers 200 with want.
func load(ctx context.Context, url string, header http.Header, want []byte, conns int, d time.Duration) result {
	transport := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all result
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local result
			buf := make([]byte, 0, 4096)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header = header.Clone()
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						local.errors++
						local.firstErr = err.Error()
					}
					continue
				}
				buf = buf[:0]
				body := bytes.NewBuffer(buf)
				_, err = io.Copy(body, res.Body)
				res.Body.Close()
				local.latencies = append(local.latencies, time.Since(t0))
				local.requests++
				if err != nil || res.StatusCode != http.StatusOK || (want != nil && !bytes.Equal(body.Bytes(), want)) {
					local.errors++
					local.firstErr = fmt.Sprintf("%d %.300s", res.StatusCode, body.Bytes())
				}
			}
			mu.Lock()
			all.requests += local.requests
			all.errors += local.errors
			all.latencies = append(all.latencies, local.latencies...)
			if all.firstErr == "" {
				all.firstErr = local.firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	slices.Sort(all.latencies)
	return all
}
