package mail

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// smtpSession is what a loopback SMTP server received.
type smtpSession struct {
	from, to string
	data     string
}

// serveSMTP answers one SMTP conversation on ln the way a plain relay does
// (no STARTTLS, no auth) and reports what it received.
func serveSMTP(t *testing.T, ln net.Listener) <-chan smtpSession {
	got := make(chan smtpSession, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		tp := textproto.NewConn(conn)
		var s smtpSession
		tp.PrintfLine("220 test ESMTP")
		for {
			line, err := tp.ReadLine()
			if err != nil {
				return
			}
			verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
			switch {
			case verb == "EHLO" || verb == "HELO":
				tp.PrintfLine("250-test greets you")
				tp.PrintfLine("250 8BITMIME")
			case strings.HasPrefix(strings.ToUpper(line), "MAIL FROM:"):
				s.from = angleAddr(line)
				tp.PrintfLine("250 OK")
			case strings.HasPrefix(strings.ToUpper(line), "RCPT TO:"):
				s.to = angleAddr(line)
				tp.PrintfLine("250 OK")
			case verb == "DATA":
				tp.PrintfLine("354 go ahead")
				b, err := tp.ReadDotBytes()
				if err != nil {
					return
				}
				s.data = string(b)
				tp.PrintfLine("250 queued")
			case verb == "QUIT":
				tp.PrintfLine("221 bye")
				got <- s
				return
			default:
				tp.PrintfLine("502 not implemented")
			}
		}
	}()
	return got
}

func TestSMTPSend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := serveSMTP(t, ln)
	addr := ln.Addr().(*net.TCPAddr)
	clock := echogen.ClockFunc(func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) })
	m := &SMTP{Host: "127.0.0.1", Port: addr.Port, From: "noreply@echogen.test", Clock: clock}
	err = m.Send(context.Background(), echogen.Mail{To: "ada@example.com", Subject: "Reset\r\nBcc: evil@example.com", Text: "line one\nline two"})
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.from != "noreply@echogen.test" || s.to != "ada@example.com" {
		t.Fatalf("envelope %q → %q", s.from, s.to)
	}
	msg, err := textproto.NewReader(bufio.NewReader(strings.NewReader(s.data))).ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	if msg.Get("Subject") != "ResetBcc: evil@example.com" || msg.Get("Bcc") != "" {
		t.Errorf("header injection not neutralised: subject %q, bcc %q", msg.Get("Subject"), msg.Get("Bcc"))
	}
	if msg.Get("Date") != "Fri, 27 Nov 2026 12:00:00 +0000" || !strings.Contains(msg.Get("Content-Type"), "utf-8") {
		t.Errorf("headers: %v", msg)
	}
	if !strings.Contains(s.data, "line one\nline two") {
		t.Errorf("body: %q", s.data)
	}
}

func TestSMTPUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	m := &SMTP{Host: "127.0.0.1", Port: port, From: "a@b.co", Clock: echogen.SystemClock{}, Timeout: 5 * time.Second}
	if err := m.Send(context.Background(), echogen.Mail{To: "x@y.co", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sending to a closed port succeeded")
	}
}

func TestLogMailer(t *testing.T) {
	for _, tc := range []struct {
		showBody bool
		wantBody bool
	}{{true, true}, {false, false}} {
		var buf bytes.Buffer
		l := &Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), ShowBody: tc.showBody}
		if err := l.Send(context.Background(), echogen.Mail{To: "a@b.co", Subject: "Reset", Text: "token-xyz"}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "token-xyz"); got != tc.wantBody {
			t.Errorf("ShowBody %v: body logged = %v: %s", tc.showBody, got, buf.String())
		}
		if !strings.Contains(buf.String(), "a@b.co") {
			t.Errorf("recipient not logged: %s", buf.String())
		}
	}
}

// angleAddr returns the address between < and > in an SMTP command.
func angleAddr(line string) string {
	_, rest, _ := strings.Cut(line, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}
