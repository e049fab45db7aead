package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// server is the echogen binary running as a child process.
type server struct {
	cmd      *exec.Cmd
	addr     string
	workerID string // the River client id, when the process works jobs
}

func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echogen")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServer starts the binary with args and waits for its "listening"
// log line.
func startServer(t testing.TB, bin string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := make(chan *server, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if os.Getenv("ECHOGEN_TEST_SERVER_LOGS") != "" {
				fmt.Fprintln(os.Stderr, sc.Text())
			}
			var entry struct {
				Msg      string `json:"msg"`
				Addr     string `json:"addr"`
				WorkerID string `json:"worker_id"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "listening" {
				listening <- &server{cmd: cmd, addr: entry.Addr, workerID: entry.WorkerID}
			}
		}
	}()
	select {
	case s := <-listening:
		return s
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start")
	}
	return nil
}

func (s *server) call(t testing.TB, method, path, token, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if res.StatusCode >= 300 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return out
}

// waitFinished follows the job's event stream until the server ends it.
func (s *server) waitFinished(t testing.TB, token, jobID string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/api/v1/jobs/"+jobID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 75 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestJobSurvivesKill9 kills the server while a job runs and starts it
// again: the job finishes exactly once and nothing is lost or doubled.
func TestJobSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it twice")
	}
	var hits atomic.Int32
	firstHit := make(chan struct{})
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			close(firstHit)
			<-r.Context().Done() // the first fetch hangs until its server dies
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Slow page</title></head><body><article><h1>Slow page</h1>`+
			`<p>This page took its time, and the server that fetched it first was killed while waiting for it.</p>`+
			`<p>After a restart, the job queue found the stuck job and ran it again, exactly once.</p></article></body></html>`)
	}))
	defer site.Close()

	bin := buildBinary(t)
	dataDir := t.TempDir()
	env := []string{
		"DATA_DIR=" + dataDir,
		"HTTP_ADDR=" + freeAddr(t),
		// Default JOB_RESCUE_AFTER and INGEST_JOB_TIMEOUT: the restarted
		// server takes the killed run back at start-up, not by River's
		// rescuer, which would wait minutes for them (internal/jobs/recover.go).
		"INGEST_ALLOW_PRIVATE_ADDRESSES=true",
		"LOG_LEVEL=debug",
	}
	first := startServer(t, bin, env)
	session := first.call(t, "POST", "/api/v1/auth/signup", "", `{"method":"email","email":"ada@example.com","password":"longenough"}`)
	token := session["session"].(map[string]any)["access_token"].(string)
	job := first.call(t, "POST", "/api/v1/content/ingest", token, `{"url":"`+site.URL+`/page"}`)
	id := job["id"].(string)
	select {
	case <-firstHit:
	case <-time.After(60 * time.Second):
		t.Fatal("the job never started")
	}
	if err := first.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()

	second := startServer(t, bin, env)
	second.waitFinished(t, token, id)
	done := second.call(t, "GET", "/api/v1/jobs/"+id, token, "")
	if done["status"] != "succeeded" {
		if db, err := sql.Open("sqlite", filepath.Join(dataDir, "echogen.db")); err == nil {
			rows, _ := db.Query("SELECT id, kind, state, attempt, max_attempts, attempted_at, scheduled_at, coalesce(errors,'') FROM river_job")
			for rows != nil && rows.Next() {
				var id, attempt, maxAttempts int
				var kind, state, errs string
				var attemptedAt, scheduledAt any
				rows.Scan(&id, &kind, &state, &attempt, &maxAttempts, &attemptedAt, &scheduledAt, &errs)
				t.Logf("river_job %d %s %s attempt %d/%d attempted %v scheduled %v errors %s", id, kind, state, attempt, maxAttempts, attemptedAt, scheduledAt, errs)
			}
			db.Close()
		}
	}
	if done["status"] != "succeeded" || done["attempt"] != float64(2) {
		t.Fatalf("after the restart: status %v, attempt %v, error %v", done["status"], done["attempt"], done["error"])
	}
	contents := second.call(t, "GET", "/api/v1/content", token, "")
	if contents["total"] != float64(1) {
		t.Errorf("%v content items, want exactly 1", contents["total"])
	}
	res, err := http.Get("http://" + second.addr + "/health")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("health after restart: %v", err)
	}
	res.Body.Close()
	if n := hits.Load(); n != 2 {
		t.Errorf("the page was fetched %d times, want 2 (the killed attempt and the rescued one)", n)
	}
}
