package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/echogen/server/internal/apptest"
)

// server is the real application, in-process, on a loopback port, with
// the benchmarks' helpers.
type server struct{ *apptest.Server }

func startServer(ctx context.Context, databaseURL string, extra map[string]string) (server, error) {
	s, err := apptest.Start(ctx, apptest.Options{DatabaseURL: databaseURL, Env: extra})
	return server{s}, err
}

// user is a signed-up account with its access token.
type user struct {
	email, password, token string
}

func (s server) signUp(client *http.Client, email, password string) (user, error) {
	body := fmt.Sprintf(`{"method":"email","email":%q,"password":%q}`, email, password)
	res, err := client.Post(s.URL+"/api/v1/auth/signup", "application/json", strings.NewReader(body))
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

func (s server) signIn(client *http.Client, u user) error {
	body := fmt.Sprintf(`{"method":"email","email":%q,"password":%q}`, u.email, u.password)
	res, err := client.Post(s.URL+"/api/v1/auth/signin", "application/json", strings.NewReader(body))
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
