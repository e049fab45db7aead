package auth

import (
	"context"
	"fmt"

	"github.com/echogen/server/internal/echogen"
)

// Refresh trades a refresh token for a new one and a fresh access token,
// and moves the session's expiry.
//
// Each refresh token works once. Presenting it again within
// RefreshReuseGrace of its first use is tolerated and yields another child
// token (two requests raced, or a response was lost); presenting it later
// means someone else holds a copy, so the whole session is revoked.
//
// client is not recorded: a session keeps the device it was opened from.
func (s *Service) Refresh(ctx context.Context, refreshToken string, client echogen.ClientInfo) (*echogen.Identity, *echogen.Tokens, error) {
	if refreshToken == "" {
		return nil, nil, errInvalidRefreshToken()
	}
	rt, err := s.sessions.RefreshTokenByHash(ctx, hashToken(refreshToken))
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		return nil, nil, errInvalidRefreshToken()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: load token: %w", err)
	}
	now := s.clock.Now()
	sess, err := s.sessions.Session(ctx, rt.SessionID)
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		return nil, nil, errSessionExpired()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: load session: %w", err)
	}
	if !sess.ActiveAt(now) {
		return nil, nil, errSessionExpired()
	}

	first, err := s.sessions.MarkRefreshTokenUsed(ctx, rt.ID, now)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: %w", err)
	}
	if !first {
		// Read it again: a racing refresh may have used it after our read.
		rt, err = s.sessions.RefreshTokenByHash(ctx, rt.TokenHash)
		if err != nil {
			return nil, nil, fmt.Errorf("refresh: reload token: %w", err)
		}
		if rt.UsedAt == nil || now.Sub(*rt.UsedAt) > s.cfg.RefreshReuseGrace {
			if err := s.sessions.RevokeSession(ctx, sess.UserID, sess.ID, now); err != nil {
				return nil, nil, fmt.Errorf("refresh: revoke session after token reuse: %w", err)
			}
			s.log.WarnContext(ctx, "refresh token reused after the grace window; session revoked",
				"user_id", sess.UserID, "session_id", sess.ID)
			return nil, nil, errRefreshTokenReused()
		}
	}

	u, err := s.users.UserByID(ctx, sess.UserID)
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		return nil, nil, errSessionExpired()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: load user: %w", err)
	}
	next, hash := newOpaqueToken()
	child := &echogen.RefreshToken{ID: echogen.NewID(), SessionID: sess.ID, TokenHash: hash, ParentID: rt.ID, CreatedAt: now}
	if err := s.sessions.CreateRefreshToken(ctx, child); err != nil {
		return nil, nil, fmt.Errorf("refresh: %w", err)
	}
	if err := s.sessions.TouchSession(ctx, sess.ID, now, now.Add(s.cfg.SessionTTL)); err != nil {
		return nil, nil, fmt.Errorf("refresh: %w", err)
	}
	tokens, err := s.tokensFor(u, sess.ID, next)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: %w", err)
	}
	return identity(u), tokens, nil
}

// Authenticate verifies an access token and checks that its session is
// still open, so signing out or revoking a session takes effect at once
// rather than when the token expires.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*echogen.Principal, error) {
	p, err := s.signer.Parse(accessToken)
	if err != nil {
		return nil, err
	}
	sess, err := s.sessions.Session(ctx, p.SessionID)
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		return nil, errSessionRevoked()
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: load session: %w", err)
	}
	now := s.clock.Now()
	if sess.UserID != p.UserID || !sess.ActiveAt(now) {
		return nil, errSessionRevoked()
	}
	// Use keeps the session alive, but a write per request would be waste.
	if now.Sub(sess.LastUsedAt) >= touchInterval {
		if err := s.sessions.TouchSession(ctx, sess.ID, now, now.Add(s.cfg.SessionTTL)); err != nil {
			// The caller is authenticated either way; a missed touch only
			// costs the session some of its sliding lifetime.
			s.log.WarnContext(ctx, "record session use", "session_id", sess.ID, "error", err)
		}
	}
	return p, nil
}

// SignOut ends the caller's session (local), their other sessions
// (others) or all of them (global). An empty scope means local. Ending a
// session that has already ended is not an error.
func (s *Service) SignOut(ctx context.Context, p echogen.Principal, scope echogen.SignOutScope) error {
	now := s.clock.Now()
	var err error
	switch scope {
	case echogen.SignOutLocal, "":
		err = s.sessions.RevokeSession(ctx, p.UserID, p.SessionID, now)
		if echogen.ErrorKind(err) == echogen.KindNotFound {
			err = nil
		}
	case echogen.SignOutOthers:
		err = s.sessions.RevokeUserSessions(ctx, p.UserID, p.SessionID, now)
	case echogen.SignOutGlobal:
		err = s.sessions.RevokeUserSessions(ctx, p.UserID, "", now)
	default:
		return echogen.Invalid([]string{"query", "scope"}, "enum", "scope must be one of local, others, global")
	}
	if err != nil {
		return fmt.Errorf("sign out (%s): %w", scope, err)
	}
	return nil
}

// Sessions lists the caller's active sessions, newest first.
func (s *Service) Sessions(ctx context.Context, p echogen.Principal) ([]echogen.Session, error) {
	list, err := s.sessions.ListSessions(ctx, p.UserID, s.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// RevokeSession ends one of the caller's sessions. Another user's session,
// like a missing one, is "Session not found".
func (s *Service) RevokeSession(ctx context.Context, p echogen.Principal, sessionID string) error {
	if !echogen.IsID(sessionID) {
		return echogen.NotFound("Session")
	}
	err := s.sessions.RevokeSession(ctx, p.UserID, sessionID, s.clock.Now())
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		return echogen.NotFound("Session")
	}
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}
