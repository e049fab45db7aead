package auth

import (
	"fmt"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// The mails of the built-in auth, plain text. Each carries the token
// itself (to paste into the app) and, when a link prefix is configured, a
// link with the token.

func resetMail(cfg Config, to, token string) echogen.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "Someone asked to reset the password of your %s account.\n\n", cfg.AppName)
	writeTokenLines(&b, "choose a new password", link(cfg.PasswordResetURL, token), token)
	fmt.Fprintf(&b, "This expires in %s and works once. If you did not ask for it, ignore this mail: your password stays as it is.\n", humanDuration(cfg.ResetTokenTTL))
	return echogen.Mail{To: to, Subject: "Reset your " + cfg.AppName + " password", Text: b.String()}
}

func verifyMail(cfg Config, to, token string) echogen.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "Welcome to %s! Please confirm that this is your email address.\n\n", cfg.AppName)
	writeTokenLines(&b, "confirm it", link(cfg.EmailVerifyURL, token), token)
	fmt.Fprintf(&b, "This expires in %s. If you did not sign up, ignore this mail.\n", humanDuration(cfg.VerifyTokenTTL))
	return echogen.Mail{To: to, Subject: "Confirm your " + cfg.AppName + " email", Text: b.String()}
}

func writeTokenLines(b *strings.Builder, action, link, token string) {
	if link != "" {
		fmt.Fprintf(b, "Open this link to %s:\n%s\n\nOr enter this code in the app:\n%s\n\n", action, link, token)
		return
	}
	fmt.Fprintf(b, "Enter this code in the app to %s:\n%s\n\n", action, token)
}

// humanDuration writes d as "30 minutes", "24 hours" or "3 days".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d/time.Second), "second")
}
