package jobs_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/goleak"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/jobs"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/storetest"
	"github.com/echogen/server/internal/vault"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql and pgx keep connection openers alive until Close,
		// which the tests' cleanups do after goleak's check of each test.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
	)
}

// backend is one database with a queue constructor.
type backend struct {
	db       *sql.DB
	store    echogen.Store
	newQueue func(echogen.Mailer, jobs.Sealer) (*jobs.Queue, error)
}

var quiet = slog.New(slog.DiscardHandler)

// fast makes River look for work often, so tests wait milliseconds.
var fast = jobs.Options{PollInterval: 100 * time.Millisecond, ReapInterval: 50 * time.Millisecond,
	RetryDelay: func(int) time.Duration { return 50 * time.Millisecond }}

func backends(t *testing.T) map[string]func(t *testing.T) backend {
	return map[string]func(t *testing.T) backend{
		"sqlite": func(t *testing.T) backend {
			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "echogen.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return backend{db: db.Write, store: db.Store(), newQueue: func(m echogen.Mailer, s jobs.Sealer) (*jobs.Queue, error) {
				return jobs.NewSQLite(db.Write, db.Store(), m, s, quiet, fast)
			}}
		},
		"postgres": func(t *testing.T) backend {
			db := storetest.OpenPostgres(t)
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return backend{db: db.SQL, store: db.Store(), newQueue: func(m echogen.Mailer, s jobs.Sealer) (*jobs.Queue, error) {
				return jobs.NewPostgres(db.Pool, db.SQL, db.Store(), m, s, quiet, fast)
			}}
		},
		// Behind a transaction pooler: no prepared statements, no LISTEN.
		"postgres-transaction-pooler": func(t *testing.T) backend {
			store := storetest.NewPostgresSimpleProtocol(t)
			_, db := storetest.Handles(store)
			return backend{db: db.SQL, store: store, newQueue: func(m echogen.Mailer, s jobs.Sealer) (*jobs.Queue, error) {
				opts := fast
				opts.PollOnly = true
				return jobs.NewPostgres(db.Pool, db.SQL, db.Store(), m, s, quiet, opts)
			}}
		},
	}
}

type mailerFunc func(context.Context, echogen.Mail) error

func (f mailerFunc) Send(ctx context.Context, m echogen.Mail) error { return f(ctx, m) }

type purgerFunc func(context.Context, int) (int, error)

func (f purgerFunc) PurgeDueAccounts(ctx context.Context, limit int) (int, error) {
	return f(ctx, limit)
}

func newKeyring(t *testing.T) *vault.Keyring {
	t.Helper()
	spec, err := vault.FormatKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	k, err := vault.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newMailQueue is a queue whose mail goes nowhere.
func newMailQueue(t *testing.T, b backend) *jobs.Queue {
	t.Helper()
	q, err := b.newQueue(mailerFunc(func(context.Context, echogen.Mail) error { return nil }), newKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func start(t *testing.T, q *jobs.Queue) {
	t.Helper()
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

func TestMailIsSealedThenDelivered(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			delivered := make(chan echogen.Mail, 1)
			failures := 0
			q, err := b.newQueue(mailerFunc(func(_ context.Context, m echogen.Mail) error {
				if failures == 0 { // the first attempt fails, like a mail server hiccup
					failures++
					return context.DeadlineExceeded
				}
				delivered <- m
				return nil
			}), newKeyring(t))
			if err != nil {
				t.Fatal(err)
			}
			want := echogen.Mail{To: "ada@example.com", Subject: "Reset your password", Text: "Your code: SECRET-TOKEN-123"}
			if err := q.EnqueueMail(t.Context(), want); err != nil {
				t.Fatal(err)
			}
			// The job row holds no clear text of the mail.
			var args string
			if err := b.db.QueryRowContext(t.Context(), "SELECT CAST(args AS TEXT) FROM river_job WHERE kind = 'send_email'").Scan(&args); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(args, "SECRET-TOKEN-123") || strings.Contains(args, "ada@example.com") {
				t.Fatalf("mail stored in clear text: %s", args)
			}
			// The first failure is retried after River's backoff (about a
			// second); move the retry forward instead of waiting.
			events, cancel := q.Subscribe(river.EventKindJobFailed)
			defer cancel()
			start(t, q)
			select {
			case <-events:
			case <-time.After(30 * time.Second):
				t.Fatal("the first delivery attempt never ran")
			}
			if _, err := b.db.ExecContext(t.Context(), "UPDATE river_job SET scheduled_at = CURRENT_TIMESTAMP WHERE kind = 'send_email'"); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-delivered:
				if got != want {
					t.Fatalf("delivered %+v, want %+v", got, want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("mail was not delivered")
			}
		})
	}
}

func TestMailSealedUnderAnotherKeyIsCancelled(t *testing.T) {
	b := backends(t)["sqlite"](t)
	producer, err := b.newQueue(mailerFunc(func(context.Context, echogen.Mail) error { return nil }), newKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.EnqueueMail(t.Context(), echogen.Mail{To: "a@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	sent := false
	q, err := b.newQueue(mailerFunc(func(context.Context, echogen.Mail) error { sent = true; return nil }), newKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := q.Subscribe(river.EventKindJobCancelled, river.EventKindJobCompleted)
	defer cancel()
	start(t, q)
	select {
	case ev := <-events:
		if ev.Kind != river.EventKindJobCancelled || sent {
			t.Fatalf("event %s, sent %v: want the job cancelled, nothing sent", ev.Kind, sent)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
	}
}

func TestPurgeRunsOnStart(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			q := newMailQueue(t, b)
			ran := make(chan int, 1)
			q.SchedulePurge(purgerFunc(func(_ context.Context, limit int) (int, error) {
				ran <- limit
				return 0, nil
			}), time.Hour)
			start(t, q)
			select {
			case limit := <-ran:
				if limit <= 0 {
					t.Fatalf("purge limit %d", limit)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the purge did not run at start")
			}
		})
	}
}
