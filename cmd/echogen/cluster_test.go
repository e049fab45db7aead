package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/echogen/server/internal/storetest"
	"github.com/echogen/server/internal/testenv"
)

// cluster is API and worker processes of one installation: one PostgreSQL
// schema, one S3 server, one data folder for the generated secrets.
type cluster struct {
	apis, workers []*server
	db            *sql.DB
	tokens        []string // one signed-up user each
}

// startCluster starts the processes; each worker runs up to slots jobs at
// once (JOB_WORKERS).
func startCluster(t testing.TB, apis, workers, slots int) *cluster {
	t.Helper()
	testenv.RequireTool(t, "espeak-ng", "espeak-ng")
	dbURL := storetest.PostgresSchemaURL(t, nil)
	s3 := testenv.StartVersityGW(t)
	if dbURL == "" || s3 == "" {
		return nil
	}
	bin := buildBinary(t)
	shared := t.TempDir()
	env := func() []string {
		return []string{
			"DATA_DIR=" + shared, "HTTP_ADDR=" + freeAddr(t), "DATABASE_URL=" + dbURL,
			"STORAGE_BACKEND=s3", "S3_ENDPOINT=" + s3, "S3_ACCESS_KEY_ID=" + testenv.VersityAccessKey,
			"S3_SECRET_ACCESS_KEY=" + testenv.VersitySecretKey, "S3_FORCE_PATH_STYLE=true",
			"API_RATE_LIMIT_PER_MINUTE=0", "AUTH_RATE_LIMIT_PER_MINUTE=0", "AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE=0",
			"JOB_WORKERS=" + strconv.Itoa(slots), "MAX_RUNNING_JOBS_PER_USER=10", "LOG_LEVEL=info",
		}
	}
	// The first process migrates and writes the installation's secrets
	// before the others read them.
	c := &cluster{}
	for range apis {
		c.apis = append(c.apis, startServer(t, bin, env(), "serve", "--role=api"))
	}
	for range workers {
		c.workers = append(c.workers, startServer(t, bin, env(), "serve", "--role=worker"))
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c.db = db
	return c
}

// signUp makes n users, through the API processes in turn.
func (c *cluster) signUp(t testing.TB, n int) {
	for i := range n {
		api := c.apis[i%len(c.apis)]
		s := api.call(t, "POST", "/api/v1/auth/signup", "", fmt.Sprintf(`{"method":"email","email":"user%d@example.com","password":"longenough"}`, i))
		c.tokens = append(c.tokens, s["session"].(map[string]any)["access_token"].(string))
	}
}

// submit enqueues n offline podcast_generation jobs, spread over the users
// and the API processes, and returns their ids and owners' tokens.
func (c *cluster) submit(t testing.TB, n int) (ids, owners []string) {
	for i := range n {
		api, token := c.apis[i%len(c.apis)], c.tokens[i%len(c.tokens)]
		payload := fmt.Sprintf(`{"title":"Tide notes %d","text":%q,"target_minutes":1,"speakers":["Ada","Bob"]}`, i, tideText)
		job := api.call(t, "POST", "/api/v1/jobs", token, `{"job_type":"podcast_generation","payload":`+payload+`}`)
		ids, owners = append(ids, job["id"].(string)), append(owners, token)
	}
	return ids, owners
}

// count runs a counting query.
func (c *cluster) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := c.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitUntil polls the database (the processes are outside this test, so
// there is nothing to be told by) until ok or the deadline.
func (c *cluster) waitUntil(t testing.TB, what string, within time.Duration, ok func() bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(within)
	for !ok() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within %s", what, within)
		}
	}
}

const finishedJobs = `SELECT count(*) FROM processing_jobs WHERE job_type = 'podcast_generation' AND status IN ('succeeded', 'failed', 'cancelled')`

// TestClusterLosesNothing runs 2 API and 2 worker processes on one
// PostgreSQL database and one S3 server, submits 50 podcast_generation
// jobs through both APIs and kills one worker with SIGKILL half way: every
// job finishes exactly once, with all its files, and no row is doubled.
func TestClusterLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four server processes and 50 podcast jobs")
	}
	const jobs = 50
	c := startCluster(t, 2, 2, 4)
	// A worker serves probes and metrics, not the API.
	for path, want := range map[string]int{"/health": 200, "/ready": 200, "/metrics": 200, "/api/v1/auth/me": 404, "/docs": 404} {
		res, err := http.Get("http://" + c.workers[1].addr + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("worker GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	c.signUp(t, 5)
	start := time.Now()
	ids, owners := c.submit(t, jobs)

	// Half way, while it runs jobs, the first worker dies.
	victim := c.workers[0]
	c.waitUntil(t, "half the jobs done, the victim busy", 5*time.Minute, func() bool {
		return c.count(t, finishedJobs) >= jobs/2 && c.count(t, `SELECT count(*) FROM river_job
			WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1`, victim.workerID) > 0
	})
	interrupted := c.count(t, `SELECT count(*) FROM river_job WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1`, victim.workerID)
	if err := victim.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	victim.cmd.Wait()

	// A progress stream on the other API process follows a job to its end.
	c.apis[1].waitFinished(t, owners[0], ids[0])
	res, err := http.Get("http://" + c.apis[0].addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(metrics), `echogen_queue_jobs{state="available"}`) {
		t.Error("the API's metrics lack the queue depth")
	}
	c.waitUntil(t, "every job finished", 5*time.Minute, func() bool { return c.count(t, finishedJobs) == jobs })
	// River marks an entry completed a moment after its run returns.
	c.waitUntil(t, "every queue entry settled", time.Minute, func() bool {
		return c.count(t, `SELECT count(*) FROM river_job WHERE kind = 'echogen_job' AND state IN ('running', 'available')`) == 0
	})
	t.Logf("%d jobs in %s with a worker killed half way (%d of its jobs interrupted)", jobs, time.Since(start).Round(time.Second), interrupted)

	for _, tc := range []struct {
		what  string
		query string
		want  int
	}{
		{"succeeded jobs", `SELECT count(*) FROM processing_jobs WHERE status = 'succeeded'`, jobs},
		{"content rows", `SELECT count(*) FROM scraped_content`, jobs},
		{"script rows", `SELECT count(*) FROM podcast_scripts`, jobs},
		{"podcast rows", `SELECT count(*) FROM generated_podcasts`, jobs},
		{"scripts with a podcast", `SELECT count(DISTINCT script_id) FROM generated_podcasts`, jobs},
		{"distinct episode titles", `SELECT count(DISTINCT title) FROM podcast_scripts`, jobs},
		{"queue entries completed", `SELECT count(*) FROM river_job WHERE kind = 'echogen_job' AND state = 'completed'`, jobs},
		{"queue entries taken back from the dead worker", `SELECT count(*) FROM river_job
			WHERE array_to_string(errors, ' ') LIKE '%' || $1 || '%queued again by another worker%'`, interrupted},
	} {
		var args []any
		if strings.Contains(tc.query, "$1") {
			args = append(args, victim.workerID)
		}
		if got := c.count(t, tc.query, args...); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, got, tc.want)
		}
	}

	// Every episode's files are in the object store, served through
	// either API process.
	for i, id := range ids {
		api := c.apis[(i+1)%len(c.apis)]
		job := api.call(t, "GET", "/api/v1/jobs/"+id, owners[i], "")
		podcast, _ := job["result"].(map[string]any)["podcast_id"].(string)
		for path, wantType := range map[string]string{"/audio": "audio/", "/cover": "image/png", "/transcript?format=vtt": "text/vtt"} {
			if got := api.fetch(t, "/api/v1/podcasts/"+podcast+path, owners[i]); !strings.HasPrefix(got, wantType) {
				t.Errorf("job %s: %s is %q", id, path, got)
			}
		}
	}
}

// fetch follows a media link to the object store and returns the object's
// content type when it is there and not empty.
func (s *server) fetch(t testing.TB, path, token string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+s.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	n, _ := io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK || n == 0 {
		return fmt.Sprintf("status %d, %d bytes", res.StatusCode, n)
	}
	return res.Header.Get("Content-Type")
}

// tideText is the source of every test episode.
const tideText = `Tides are the rise and fall of the sea caused by the pull of the Moon and the Sun. ` +
	`Most coasts see two high tides and two low tides every lunar day, which lasts about twenty-four hours and fifty minutes. ` +
	`When the Sun, the Moon and the Earth line up, their pulls add together and make spring tides, the highest and lowest of the month. ` +
	`When the Sun and the Moon stand at right angles, the pulls partly cancel and the range shrinks into neap tides. ` +
	`The shape of a coastline matters as much as the sky: a funnel-shaped bay can amplify the tide many times over. ` +
	`The Bay of Fundy in Canada has the largest tidal range on Earth, more than sixteen metres between low and high water. ` +
	`Sailors have read tide tables for centuries, and harbour masters still plan every large ship's arrival around them. ` +
	`Tidal currents also carry nutrients, which is why estuaries and mud flats teem with birds and fish. ` +
	`Engineers now build turbines that turn in these currents, because unlike wind the tide arrives on a schedule known years ahead. ` +
	`Over millions of years the tides have even slowed the Earth's spin, lengthening the day by a little under two milliseconds a century.`

// BenchmarkClusterJobs measures the offline pipeline's throughput with one
// and two worker processes, each running one or four jobs at once (one API
// process, 20 podcast_generation jobs of one minute each):
// go test ./cmd/echogen -run '^$' -bench ClusterJobs -benchtime 1x
func BenchmarkClusterJobs(b *testing.B) {
	const jobs = 20
	for _, slots := range []int{1, 4} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("slots=%d/workers=%d", slots, workers), func(b *testing.B) {
				benchmarkCluster(b, workers, slots, jobs)
			})
		}
	}
}

func benchmarkCluster(b *testing.B, workers, slots, jobs int) {
	for range b.N {
		c := startCluster(b, 1, workers, slots)
		c.signUp(b, 5)
		start := time.Now()
		c.submit(b, jobs)
		c.waitUntil(b, "every job finished", 10*time.Minute, func() bool { return c.count(b, finishedJobs) == jobs })
		elapsed := time.Since(start)
		if n := c.count(b, `SELECT count(*) FROM processing_jobs WHERE status = 'succeeded'`); n != jobs {
			b.Fatalf("%d of %d jobs succeeded", n, jobs)
		}
		b.ReportMetric(float64(jobs)/elapsed.Minutes(), "jobs/min")
	}
}
