package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/echogen/server/internal/echogen"
)

// mailAAD binds sealed mail to its use, so a sealed value from elsewhere
// cannot be replayed as mail.
var mailAAD = []byte("echogen/send_email")

// SendMailArgs is a mail to deliver. The message is sealed: it may carry a
// password-reset or confirmation token, which must not sit in the jobs
// table in clear text.
type SendMailArgs struct {
	Sealed []byte `json:"sealed"`
}

// Kind names the job.
func (SendMailArgs) Kind() string { return "send_email" }

// InsertOpts retries delivery for about a day.
func (SendMailArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 12} }

// EnqueueMail implements echogen.MailQueue.
func (q *Queue) EnqueueMail(ctx context.Context, m echogen.Mail) error {
	plain, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode mail: %w", err)
	}
	sealed, err := q.sealer.Seal(plain, mailAAD)
	if err != nil {
		return fmt.Errorf("seal mail: %w", err)
	}
	if _, err := q.client.Insert(ctx, SendMailArgs{Sealed: sealed}, nil); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	return nil
}

type mailWorker struct {
	river.WorkerDefaults[SendMailArgs]
	mailer echogen.Mailer
	sealer Sealer
}

func (w *mailWorker) Work(ctx context.Context, job *river.Job[SendMailArgs]) error {
	plain, err := w.sealer.Open(job.Args.Sealed, mailAAD)
	if err != nil {
		// The vault key that sealed it is gone; retrying cannot help.
		return river.JobCancel(fmt.Errorf("open sealed mail: %w", err))
	}
	var m echogen.Mail
	if err := json.Unmarshal(plain, &m); err != nil {
		return river.JobCancel(fmt.Errorf("decode mail: %w", err))
	}
	return w.mailer.Send(ctx, m)
}

// Purger deletes accounts whose deletion window has passed.
type Purger interface {
	PurgeDueAccounts(ctx context.Context, limit int) (int, error)
}

// PurgeAccountsArgs runs the account purge.
type PurgeAccountsArgs struct{}

// Kind names the job.
func (PurgeAccountsArgs) Kind() string { return "account_purge" }

// InsertOpts keeps one purge queued at a time.
func (PurgeAccountsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable}}}
}

// purgeBatch is how many accounts one purge job deletes before it yields;
// the next run takes the rest.
const purgeBatch = 100

type purgeWorker struct {
	river.WorkerDefaults[PurgeAccountsArgs]
	accounts Purger
	log      *slog.Logger
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeAccountsArgs]) error {
	n, err := w.accounts.PurgeDueAccounts(ctx, purgeBatch)
	if n > 0 {
		w.log.InfoContext(ctx, "account purge", "purged", n)
	}
	return err
}
