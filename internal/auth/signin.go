package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/echogen/server/internal/echogen"
)

// SignUp creates an email or phone account and opens its first session.
//
// When email confirmation is required, an email sign-up gets a
// confirmation mail and a KindPermissionDenied error whose message tells
// the user to confirm; the account exists and signing in works once the
// address is confirmed. Otherwise the confirmation mail is still sent, but
// the account works meanwhile.
func (s *Service) SignUp(ctx context.Context, c echogen.Credentials) (*echogen.Identity, *echogen.Tokens, error) {
	email, phone, err := newAccount(c)
	if err != nil {
		return nil, nil, err
	}
	hash, err := s.hasher.Hash(ctx, c.Password)
	if err != nil {
		return nil, nil, fmt.Errorf("sign up: %w", err)
	}
	now := s.clock.Now()
	u := &echogen.User{
		ID:           echogen.NewID(),
		Email:        email,
		Phone:        phone,
		PasswordHash: hash,
		Role:         "authenticated",
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	// The unique index decides, so two racing sign-ups cannot both win.
	if err := s.users.CreateUser(ctx, u); err != nil {
		if echogen.ErrorKind(err) == echogen.KindConflict {
			return nil, nil, errUserExists(err)
		}
		return nil, nil, fmt.Errorf("sign up: %w", err)
	}

	if email != "" {
		err := s.sendVerification(ctx, u)
		switch {
		case s.cfg.EmailConfirmationRequired && err != nil:
			// Without the mail the user could not finish; say so.
			return nil, nil, fmt.Errorf("sign up: %w", err)
		case s.cfg.EmailConfirmationRequired:
			// The account exists without a session: hand back who it is so
			// the profile (with the name given) is created now.
			id := identity(u)
			id.FullName = strings.TrimSpace(c.FullName)
			return id, nil, errConfirmationRequired()
		case err != nil:
			// The account works without confirmation and the user can ask
			// for the mail again; do not fail the sign-up.
			s.log.WarnContext(ctx, "sign-up verification mail not queued", "user_id", u.ID, "error", err)
		}
	}

	if err := s.users.RecordSignIn(ctx, u.ID, now); err != nil {
		return nil, nil, fmt.Errorf("sign up: %w", err)
	}
	u.LastSignInAt = &now
	tokens, err := s.openSession(ctx, u, c.Client, now)
	if err != nil {
		return nil, nil, fmt.Errorf("sign up: %w", err)
	}
	id := identity(u)
	id.FullName = strings.TrimSpace(c.FullName) // seeds the new profile
	return id, tokens, nil
}

// SignIn checks a password and opens a session. An unknown account and a
// wrong password get the same answer after the same amount of hashing
// work, so neither the message nor the timing tells which it was.
func (s *Service) SignIn(ctx context.Context, c echogen.Credentials) (*echogen.Identity, *echogen.Tokens, error) {
	email, phone, err := identifier(c)
	if err != nil {
		return nil, nil, err
	}
	if c.Password == "" {
		return nil, nil, missing("password")
	}
	var u *echogen.User
	if email != "" {
		u, err = s.users.UserByEmail(ctx, email)
	} else {
		u, err = s.users.UserByPhone(ctx, phone)
	}
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		if err := s.hasher.VerifyDummy(ctx, c.Password); err != nil {
			return nil, nil, fmt.Errorf("sign in: %w", err)
		}
		return nil, nil, errInvalidCredentials()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sign in: load user: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, c.Password, u.PasswordHash)
	if err != nil {
		return nil, nil, fmt.Errorf("sign in: verify password of user %s: %w", u.ID, err)
	}
	if !ok {
		return nil, nil, errInvalidCredentials()
	}
	// Only after the password matched, so this does not reveal accounts.
	if s.cfg.EmailConfirmationRequired && u.Email != "" && u.EmailConfirmedAt == nil {
		return nil, nil, errEmailNotConfirmed()
	}

	now := s.clock.Now()
	if err := s.users.RecordSignIn(ctx, u.ID, now); err != nil {
		return nil, nil, fmt.Errorf("sign in: %w", err)
	}
	u.LastSignInAt = &now
	tokens, err := s.openSession(ctx, u, c.Client, now)
	if err != nil {
		return nil, nil, fmt.Errorf("sign in: %w", err)
	}
	return identity(u), tokens, nil
}

// identifier returns the normalised email or phone of c; exactly one is
// set.
func identifier(c echogen.Credentials) (email, phone string, err error) {
	switch c.Method {
	case echogen.MethodEmail:
		if strings.TrimSpace(c.Email) == "" {
			return "", "", missing("email")
		}
		email, err = echogen.NormalizeEmail(c.Email)
		return email, "", err
	case echogen.MethodPhone:
		if strings.TrimSpace(c.Phone) == "" {
			return "", "", missing("phoneNumber")
		}
		phone, err = echogen.NormalizePhone(c.Phone)
		return "", phone, err
	case echogen.MethodGoogle, echogen.MethodApple, echogen.MethodGitHub:
		return "", "", echogen.Errorf(echogen.KindNotImplemented, "method_not_supported", "Selected method will be available soon")
	}
	return "", "", echogen.Invalid([]string{"body", "method"}, "enum", "method must be one of email, phone, google, apple, github")
}

// newAccount checks a sign-up's credentials, the same rules for every auth
// backend, and returns its email or phone.
func newAccount(c echogen.Credentials) (email, phone string, err error) {
	if email, phone, err = identifier(c); err != nil {
		return "", "", err
	}
	if c.Password == "" {
		return "", "", missing("password")
	}
	return email, phone, echogen.CheckPassword(c.Password)
}
