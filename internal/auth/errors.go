package auth

import "github.com/echogen/server/internal/echogen"

// The coded errors of the built-in auth. Messages follow Supabase Auth's,
// which the client already shows. Each call returns a fresh value, so no
// caller can change another's error.

func errInvalidCredentials() *echogen.Error {
	return echogen.Errorf(echogen.KindUnauthenticated, "invalid_credentials", "Invalid login credentials")
}

func errEmailNotConfirmed() *echogen.Error {
	return echogen.Errorf(echogen.KindUnauthenticated, "email_not_confirmed", "Email not confirmed")
}

func errUserExists(cause error) *echogen.Error {
	return &echogen.Error{Kind: echogen.KindBadRequest, Code: "user_already_exists", Message: "User already registered", Err: cause}
}

func errConfirmationRequired() *echogen.Error {
	return echogen.Errorf(echogen.KindPermissionDenied, "email_confirmation_required",
		"Your account was created. Confirm your email with the link we sent you, then sign in.")
}

func errInvalidRefreshToken() *echogen.Error {
	return echogen.Errorf(echogen.KindUnauthenticated, "invalid_refresh_token", "Invalid Refresh Token")
}

func errSessionExpired() *echogen.Error {
	return echogen.Errorf(echogen.KindUnauthenticated, "session_expired", "Session expired, please sign in again")
}

func errRefreshTokenReused() *echogen.Error {
	return echogen.Errorf(echogen.KindUnauthenticated, "refresh_token_reused", "Invalid Refresh Token: Already Used")
}

func errSessionRevoked() *echogen.Error {
	return echogen.Errorf(echogen.KindUnauthenticated, "session_revoked", "Invalid or expired token")
}

func errInvalidOneTimeToken() *echogen.Error {
	return echogen.Errorf(echogen.KindBadRequest, "invalid_token", "Token has expired or is invalid")
}

func missing(field string) *echogen.Error {
	return echogen.Invalid([]string{"body", field}, "missing", "Field required")
}
