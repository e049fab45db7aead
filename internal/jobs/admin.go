package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
)

// adminFactory builds the River UI for the queue's working client, whose
// transaction type (pgx or database/sql) only newQueue knows.
type adminFactory func(prefix string) (http.Handler, error)

func newAdminFactory[TTx any](client *river.Client[TTx], log *slog.Logger) adminFactory {
	return func(prefix string) (http.Handler, error) {
		h, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(client, nil),
			Logger:    log.With("component", "riverui"),
			Prefix:    prefix,
		})
		if err != nil {
			return nil, fmt.Errorf("job dashboard: %w", err)
		}
		return h, nil
	}
}

// AdminHandler returns River's web UI for this queue's database (SQLite or
// PostgreSQL): the dashboard's HTML and assets, and the JSON API under
// prefix/api it calls (jobs, queues, states; cancel, retry, delete jobs,
// pause queues). Mount it at prefix and prefix/ behind access control: it
// checks no caller itself.
//
// It starts no goroutine: River UI's background count cache stays off, so
// the jobs of each state are counted when asked, exactly up to 10,000 and
// estimated or shown as "more than 10,000" beyond.
func (q *Queue) AdminHandler(prefix string) (http.Handler, error) {
	if q == nil || q.admin == nil {
		return nil, errors.New("job dashboard: queue has no River client")
	}
	return q.admin(prefix)
}
