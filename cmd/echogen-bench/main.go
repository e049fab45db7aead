// Command echogen-bench measures the server on this machine and prints the
// figures recorded in docs/benchmarks.md. Every load it makes goes to
// servers it starts itself on 127.0.0.1, bounded in time and count.
//
//	go run ./cmd/echogen-bench me        # GET /auth/me vs a bare net/http handler
//	go run ./cmd/echogen-bench signin    # sign-in latency and memory under 50 concurrent sign-ins
//	go run ./cmd/echogen-bench startup   # process start to /ready, idle RSS (builds the binary)
//	go run ./cmd/echogen-bench library   # GET /podcasts?limit=20 vs GET /auth/me
//	go run ./cmd/echogen-bench upload    # memory while uploading 100 MiB and reading it back in ranges
//	go run ./cmd/echogen-bench jobs      # enqueue-to-start latency and no-op jobs per second
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echogen-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("echogen-bench", flag.ContinueOnError)
	duration := fs.Duration("duration", 10*time.Second, "how long each load phase runs")
	conns := fs.Int("c", 32, "concurrent connections")
	databaseURL := fs.String("database-url", "", "PostgreSQL URL; empty runs on SQLite in a temporary folder")
	signins := fs.Int("signins", 50, "concurrent sign-ins for the memory measurement")
	hashConcurrency := fs.Int("hash-concurrency", 0, "PASSWORD_HASH_CONCURRENCY for the signin benchmark (0: the server's default)")
	jobCount := fs.Int("jobs", 1000, "no-op jobs for the jobs benchmark")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if len(args) == 0 {
		return fmt.Errorf("usage: echogen-bench me|signin|startup|library|upload|jobs [flags]")
	}
	cmd := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(out, "# %s, %s, GOMAXPROCS=%d, %s\n", cmd, runtime.Version(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	switch cmd {
	case "me":
		return benchMe(ctx, out, *databaseURL, *conns, *duration)
	case "signin":
		return benchSignIn(ctx, out, *databaseURL, *signins, *hashConcurrency)
	case "startup":
		return benchStartup(ctx, out)
	case "library":
		return benchLibrary(ctx, out, *databaseURL, *conns, *duration)
	case "upload":
		return benchUpload(ctx, out, *databaseURL)
	case "jobs":
		return benchJobs(ctx, out, *databaseURL, *jobCount)
	}
	return fmt.Errorf("unknown benchmark %q", cmd)
}
