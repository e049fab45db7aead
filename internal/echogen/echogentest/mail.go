package echogentest

import (
	"context"
	"sync"

	"github.com/echogen/server/internal/echogen"
)

// Mailbox is an echogen.MailQueue that records instead of enqueuing.
type Mailbox struct {
	mu    sync.Mutex
	mails []echogen.Mail
}

// EnqueueMail records m.
func (b *Mailbox) EnqueueMail(_ context.Context, m echogen.Mail) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mails = append(b.mails, m)
	return nil
}

// Take returns the mail recorded since the last Take.
func (b *Mailbox) Take() []echogen.Mail {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.mails
	b.mails = nil
	return out
}

// Last returns the newest mail to the address, and whether there is one.
func (b *Mailbox) Last(to string) (echogen.Mail, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.mails) - 1; i >= 0; i-- {
		if b.mails[i].To == to {
			return b.mails[i], true
		}
	}
	return echogen.Mail{}, false
}
