package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// ForgotPassword mails a password-reset token when an account has this
// email. The answer is nil either way, so it does not reveal which emails
// have accounts; only a malformed email is an error.
func (s *Service) ForgotPassword(ctx context.Context, email string) error {
	u, err := s.userForMail(ctx, email)
	if err != nil || u == nil {
		return err
	}
	token, err := s.issueOneTimeToken(ctx, u, echogen.PurposePasswordReset, s.cfg.ResetTokenTTL)
	if err != nil {
		return fmt.Errorf("forgot password: %w", err)
	}
	m := resetMail(s.cfg, u.Email, token)
	if err := s.mail.EnqueueMail(ctx, m); err != nil {
		return fmt.Errorf("forgot password: queue mail: %w", err)
	}
	return nil
}

// ResetPassword sets a new password with a token from ForgotPassword and
// ends every session of the user, since whoever held the old password may
// hold one. The token works once.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if password == "" {
		return missing("password")
	}
	if err := echogen.CheckPassword(password); err != nil {
		return err
	}
	if token == "" {
		return errInvalidOneTimeToken()
	}
	// Hash before consuming, so a failure here does not burn the token.
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	now := s.clock.Now()
	t, err := s.consume(ctx, echogen.PurposePasswordReset, token, now)
	if err != nil {
		return err
	}
	if err := s.users.SetPasswordHash(ctx, t.UserID, hash, now); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	// The reset link reached the inbox, which proves the address.
	if err := s.users.ConfirmEmail(ctx, t.UserID, now); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if err := s.sessions.RevokeUserSessions(ctx, t.UserID, "", now); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	return nil
}

// VerifyEmail confirms an email address with a token from a verification
// mail.
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	if token == "" {
		return errInvalidOneTimeToken()
	}
	now := s.clock.Now()
	t, err := s.consume(ctx, echogen.PurposeEmailVerification, token, now)
	if err != nil {
		return err
	}
	if err := s.users.ConfirmEmail(ctx, t.UserID, now); err != nil {
		return fmt.Errorf("verify email: %w", err)
	}
	return nil
}

// ResendVerification mails a new verification token when an email account
// with this address is still unconfirmed. Like ForgotPassword it answers
// nil either way.
func (s *Service) ResendVerification(ctx context.Context, email string) error {
	u, err := s.userForMail(ctx, email)
	if err != nil || u == nil || u.EmailConfirmedAt != nil {
		return err
	}
	if err := s.sendVerification(ctx, u); err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	return nil
}

// userForMail returns the account with this email, or nil when there is
// none.
func (s *Service) userForMail(ctx context.Context, email string) (*echogen.User, error) {
	if strings.TrimSpace(email) == "" {
		return nil, missing("email")
	}
	email, err := echogen.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := s.users.UserByEmail(ctx, email)
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// sendVerification issues an email-verification token for u and queues
// the mail.
func (s *Service) sendVerification(ctx context.Context, u *echogen.User) error {
	token, err := s.issueOneTimeToken(ctx, u, echogen.PurposeEmailVerification, s.cfg.VerifyTokenTTL)
	if err != nil {
		return err
	}
	if err := s.mail.EnqueueMail(ctx, verifyMail(s.cfg, u.Email, token)); err != nil {
		return fmt.Errorf("queue verification mail: %w", err)
	}
	return nil
}

// issueOneTimeToken stores the hash of a new token and returns the token.
func (s *Service) issueOneTimeToken(ctx context.Context, u *echogen.User, purpose echogen.TokenPurpose, ttl time.Duration) (string, error) {
	token, hash := newOpaqueToken()
	now := s.clock.Now()
	t := &echogen.OneTimeToken{
		ID:        echogen.NewID(),
		UserID:    u.ID,
		Purpose:   purpose,
		TokenHash: hash,
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	}
	if err := s.tokens.CreateOneTimeToken(ctx, t); err != nil {
		return "", fmt.Errorf("issue %s token: %w", purpose, err)
	}
	return token, nil
}

// consume uses up a one-time token. Unknown, used, expired and
// wrong-purpose tokens all get the same answer.
func (s *Service) consume(ctx context.Context, purpose echogen.TokenPurpose, token string, now time.Time) (*echogen.OneTimeToken, error) {
	t, err := s.tokens.ConsumeOneTimeToken(ctx, purpose, hashToken(strings.TrimSpace(token)), now)
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		return nil, errInvalidOneTimeToken()
	}
	if err != nil {
		return nil, fmt.Errorf("consume %s token: %w", purpose, err)
	}
	return t, nil
}
