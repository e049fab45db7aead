package testenv

import (
	"bytes"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// versityGW is the S3 server the S3 tests run against.
const versityGW = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// The credentials of the test S3 server.
const (
	VersityAccessKey = "echogen-test"
	VersitySecretKey = "echogen-test-secret-key"
)

// StartVersityGW runs versitygw on a free local port, serving a fresh
// folder, until the test ends, and returns its URL.
func StartVersityGW(t testing.TB) string {
	t.Helper()
	bin := RequireGoTool(t, "versitygw", versityGW)
	if bin == "" {
		return ""
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // versitygw binds it next; the window is small and local

	var out lockedBuffer
	cmd := exec.Command(bin, "--port", addr, "--access", VersityAccessKey, "--secret", VersitySecretKey,
		"--health", "/health", "--quiet", "posix", t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})

	// Poll the health endpoint: the one wait on something outside the test.
	endpoint := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("versitygw exited: %v\n%s", err, out.String())
		default:
		}
		if resp, err := client.Get(endpoint + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not answer on %s within 20s\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
