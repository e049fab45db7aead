package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echogen/server/internal/echogen"
)

// broker tells watchers in this process that a job changed.
type broker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newBroker() *broker { return &broker{subs: map[string]map[chan struct{}]struct{}{}} }

// Publish implements echogen.JobEvents.
func (b *broker) Publish(_ context.Context, j *echogen.Job) { b.signal(j.ID) }

// signal tells the watchers of one job.
func (b *broker) signal(jobID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[jobID] {
		notify(ch)
	}
}

// signalAll tells every watcher to look again.
func (b *broker) signalAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, subs := range b.subs {
		for ch := range subs {
			notify(ch)
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a signal is pending already; the watcher rereads the row
	}
}

// Subscribe implements echogen.JobEvents.
func (b *broker) Subscribe(jobID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs[jobID] == nil {
		b.subs[jobID] = map[chan struct{}]struct{}{}
	}
	b.subs[jobID][ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.subs[jobID], ch)
			if len(b.subs[jobID]) == 0 {
				delete(b.subs, jobID)
			}
		})
	}
}

// jobEventsChannel is the PostgreSQL channel on which every process says
// which job changed; its payload is the job id.
const jobEventsChannel = "echogen_job_events"

// pgEvents carries job changes between processes with LISTEN/NOTIFY, so a
// progress stream served by one API process follows a job that a worker
// elsewhere runs. Watchers in this process hear of changes made here at
// once, whatever the database does.
type pgEvents struct {
	*broker
	revocations revocationFeed
	pool        *pgxpool.Pool
	connect     func(context.Context) (*pgx.Conn, error)
	log         *slog.Logger
}

// Publish implements echogen.JobEvents.
func (e *pgEvents) Publish(ctx context.Context, j *echogen.Job) {
	e.broker.Publish(ctx, j)
	// A run's context may be ending; the notice still goes out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.notify(ctx, jobEventsChannel, j.ID); err != nil {
		e.log.WarnContext(ctx, "telling other processes that a job changed", "job_id", j.ID, "error", err)
	}
}

func (e *pgEvents) notify(ctx context.Context, channel, payload string) error {
	_, err := e.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload)
	return err
}

// listen relays other processes' notices to this process's watchers until
// ctx ends. After a lost connection every watcher is told to look again,
// since notices sent meanwhile are gone.
func (e *pgEvents) listen(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		err := e.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		e.broker.signalAll()
		e.log.WarnContext(ctx, "job event listener lost its connection; reconnecting", "error", err, "in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (e *pgEvents) listenOnce(ctx context.Context) error {
	conn, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, channel := range []string{jobEventsChannel, revocationsChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
			return err
		}
	}
	e.broker.signalAll() // changes made before the LISTEN took hold
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case jobEventsChannel:
			e.broker.signal(n.Payload)
		case revocationsChannel:
			e.revocations.deliver(ctx, n.Payload, e.log)
		}
	}
}

// revocationsChannel carries echogen.Revocation values, as JSON, between
// the processes; see auth.SupabaseConfig.Revocations.
const revocationsChannel = "echogen_revocations"

// revocationFeed is the echogen.RevocationFeed of a pgEvents.
type revocationFeed struct {
	events *pgEvents
	mu     sync.Mutex
	subs   []func(echogen.Revocation)
}

// Publish implements echogen.RevocationFeed.
func (f *revocationFeed) Publish(ctx context.Context, r echogen.Revocation) {
	payload, err := json.Marshal(r)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = f.events.notify(ctx, revocationsChannel, string(payload))
	}
	if err != nil {
		f.events.log.WarnContext(ctx, "telling other processes of a revoked session", "error", err)
	}
}

// Subscribe implements echogen.RevocationFeed.
func (f *revocationFeed) Subscribe(fn func(echogen.Revocation)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}

func (f *revocationFeed) deliver(ctx context.Context, payload string, log *slog.Logger) {
	var r echogen.Revocation
	if err := json.Unmarshal([]byte(payload), &r); err != nil {
		log.WarnContext(ctx, "an unreadable revocation notice", "error", err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fn := range f.subs {
		fn(r)
	}
}

// dedicatedConn opens a connection outside the pool, for a session that
// lives as long as the process: the pool's connections are for queries.
func dedicatedConn(pool *pgxpool.Pool) func(context.Context) (*pgx.Conn, error) {
	return func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	}
}
