// Package mail delivers the server's mail: by SMTP when configured, else
// into the log so a developer can follow reset and confirmation links.
package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// SMTP sends mail through an SMTP server, upgrading to TLS with STARTTLS
// when the server offers it.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	Clock    echogen.Clock
	// Timeout bounds a whole delivery; zero means 30 seconds.
	Timeout time.Duration
}

// Send delivers m.
func (s *SMTP) Send(ctx context.Context, m echogen.Mail) error {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", addr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp hello: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("smtp RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(s.message(m)); err != nil {
		return fmt.Errorf("smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp end of data: %w", err)
	}
	return c.Quit()
}

func (s *SMTP) message(m echogen.Mail) []byte {
	var b strings.Builder
	header := func(k, v string) {
		fmt.Fprintf(&b, "%s: %s\r\n", k, strings.NewReplacer("\r", "", "\n", "").Replace(v))
	}
	header("From", s.From)
	header("To", m.To)
	header("Subject", m.Subject)
	header("Date", s.Clock.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+echogen.NewID()+"@"+s.Host+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String())
}

// Log writes mail to the log instead of sending it. With ShowBody false (in
// production) only the recipient and subject are logged, never the links
// and tokens a body carries.
type Log struct {
	Logger   *slog.Logger
	ShowBody bool
}

// Send logs m.
func (l *Log) Send(ctx context.Context, m echogen.Mail) error {
	if !l.ShowBody {
		l.Logger.WarnContext(ctx, "mail not sent: SMTP_HOST is not set", "to", m.To, "subject", m.Subject)
		return nil
	}
	l.Logger.InfoContext(ctx, "mail (SMTP_HOST is not set, so it is logged instead of sent)", "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
