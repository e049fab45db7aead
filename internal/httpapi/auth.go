package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// bearerAuth marks an operation as needing an access token.
var bearerAuth = []map[string][]string{{"bearer": {}}}

type principalKey struct{}

// principalFrom returns the caller that authenticate put in ctx.
func principalFrom(ctx context.Context) echogen.Principal {
	p, _ := ctx.Value(principalKey{}).(echogen.Principal)
	return p
}

// authenticate is huma middleware: operations that declare bearer security
// get the verified caller in their context, or a 401 with
// WWW-Authenticate; then the per-user API rate limit applies.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if len(ctx.Operation().Security) == 0 {
		next(ctx)
		return
	}
	scheme, token, _ := strings.Cut(ctx.Header("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		s.writeHumaError(ctx, echogen.Errorf(echogen.KindUnauthenticated, "missing_token", "Missing Bearer token"))
		return
	}
	p, err := s.accounts.Authenticate(ctx.Context(), token)
	if err != nil {
		s.writeHumaError(ctx, err)
		return
	}
	requestInfoFrom(ctx.Context()).userID = p.UserID
	if ok, retry := s.apiLimit.Allow(p.UserID); !ok {
		s.writeHumaError(ctx, rateLimited(retry))
		return
	}
	next(huma.WithValue(ctx, principalKey{}, *p))
}

func (s *Server) writeHumaError(ctx huma.Context, err error) {
	resp := toErrorResponse(requestInfoFrom(ctx.Context()), err)
	for k, v := range resp.headers {
		ctx.SetHeader(k, v[0])
	}
	ctx.SetHeader("Content-Type", "application/json")
	ctx.SetStatus(resp.status)
	_ = jsonEncode(ctx.BodyWriter(), resp)
}

func rateLimited(retry time.Duration) error {
	e := echogen.Errorf(echogen.KindRateLimited, "rate_limited", "Too many requests; try again in %d seconds", int(retry.Round(time.Second)/time.Second)+1)
	e.RetryAfter = retry
	return e
}

// limitAuth applies the auth endpoints' limits: per client IP, and per
// account when the request names one.
func (s *Server) limitAuth(ctx context.Context, endpoint, account string) error {
	info := requestInfoFrom(ctx)
	if ok, retry := s.authIPLimit.Allow(endpoint + "|ip|" + info.ip); !ok {
		return rateLimited(retry)
	}
	if account != "" {
		if ok, retry := s.authAcctLimit.Allow(endpoint + "|acct|" + strings.ToLower(strings.TrimSpace(account))); !ok {
			return rateLimited(retry)
		}
	}
	return nil
}

func clientInfo(ctx context.Context, userAgent string) echogen.ClientInfo {
	return echogen.ClientInfo{UserAgent: userAgent, IP: requestInfoFrom(ctx).ip}
}

// Request and response shapes, with the client's exact keys.

type signUpRequest struct {
	Method      string  `json:"method,omitempty" enum:"email,phone,google,apple,github" default:"email"`
	Email       *string `json:"email,omitempty" nullable:"true" maxLength:"320"`
	Password    *string `json:"password,omitempty" nullable:"true" maxLength:"1024"`
	FullName    *string `json:"fullName,omitempty" nullable:"true" maxLength:"200"`
	PhoneNumber *string `json:"phoneNumber,omitempty" nullable:"true" maxLength:"32"`
}

type signInRequest struct {
	Method      string  `json:"method,omitempty" enum:"email,phone,google,apple,github" default:"email"`
	Email       *string `json:"email,omitempty" nullable:"true" maxLength:"320"`
	PhoneNumber *string `json:"phoneNumber,omitempty" nullable:"true" maxLength:"32"`
	Password    *string `json:"password,omitempty" nullable:"true" maxLength:"1024"`
	OTP         *string `json:"otp,omitempty" nullable:"true" minLength:"4" maxLength:"12" doc:"Accepted for compatibility; not used."`
}

func credentials(method string, email, phone, password, fullName *string) echogen.Credentials {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if method == "" {
		method = string(echogen.MethodEmail)
	}
	return echogen.Credentials{
		Method:   echogen.AuthMethod(method),
		Email:    strings.TrimSpace(deref(email)),
		Phone:    strings.TrimSpace(deref(phone)),
		Password: deref(password),
		FullName: strings.TrimSpace(deref(fullName)),
	}
}

type sessionTokens struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken *string `json:"refresh_token"`
	ExpiresIn    *int    `json:"expires_in"`
	TokenType    string  `json:"token_type"`
}

type authResponse struct {
	User    userProfile   `json:"user"`
	Session sessionTokens `json:"session"`
}

func toAuthResponse(r *echogen.AuthResult) authResponse {
	refresh := r.Tokens.RefreshToken
	expires := int(r.Tokens.ExpiresIn / time.Second)
	return authResponse{
		User: toUserProfile(r.Account),
		Session: sessionTokens{
			AccessToken:  r.Tokens.AccessToken,
			RefreshToken: &refresh,
			ExpiresIn:    &expires,
			TokenType:    "bearer",
		},
	}
}

type authOutput struct {
	Body authResponse
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"512"`
}

type signOutInput struct {
	Scope string `query:"scope" enum:"local,others,global" default:"local" doc:"local ends this session, others every other session, global all of them."`
}

type sessionInfo struct {
	ID         string    `json:"id"`
	Device     string    `json:"device"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

type messageResponse struct {
	Message string `json:"message"`
}

type messageOutput struct {
	Body messageResponse
}

type emailRequest struct {
	Email string `json:"email" maxLength:"320"`
}

type resetRequest struct {
	Token    string `json:"token" minLength:"1" maxLength:"512"`
	Password string `json:"password" maxLength:"1024"`
}

type tokenRequest struct {
	Token string `json:"token" minLength:"1" maxLength:"512"`
}

// The same answer whether or not the account exists, so the endpoints
// cannot be used to find out who has an account.
const (
	forgotPasswordMessage = "If an account exists for this email, we have sent a link to reset its password."
	resendMessage         = "If this email belongs to an account that still needs confirming, we have sent a new confirmation link."
)

func (s *Server) registerAuth(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "sign_up", Method: http.MethodPost, Path: s.path("/auth/signup"), Tags: []string{"auth"},
		Summary:       "Sign up",
		Description:   "Creates an account and signs in. With EMAIL_CONFIRMATION_REQUIRED=true the account is created but answers 403 `email_confirmation_required` until the emailed link is used.",
		DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *struct {
		Body      signUpRequest
		UserAgent string `header:"User-Agent"`
	}) (*authOutput, error) {
		c := credentials(in.Body.Method, in.Body.Email, in.Body.PhoneNumber, in.Body.Password, in.Body.FullName)
		if err := s.limitAuth(ctx, "signup", ""); err != nil {
			return nil, err
		}
		c.Client = clientInfo(ctx, in.UserAgent)
		res, err := s.accounts.SignUp(ctx, c)
		if err != nil {
			return nil, err
		}
		requestInfoFrom(ctx).userID = res.Account.Identity.UserID
		return &authOutput{Body: toAuthResponse(res)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "sign_in", Method: http.MethodPost, Path: s.path("/auth/signin"), Tags: []string{"auth"},
		Summary:     "Sign in",
		Description: "Opens a session. Signing in cancels a scheduled account deletion.",
	}, func(ctx context.Context, in *struct {
		Body      signInRequest
		UserAgent string `header:"User-Agent"`
	}) (*authOutput, error) {
		c := credentials(in.Body.Method, in.Body.Email, in.Body.PhoneNumber, in.Body.Password, nil)
		account := c.Email
		if c.Method == echogen.MethodPhone {
			account = c.Phone
		}
		if err := s.limitAuth(ctx, "signin", account); err != nil {
			return nil, err
		}
		c.Client = clientInfo(ctx, in.UserAgent)
		res, err := s.accounts.SignIn(ctx, c)
		if err != nil {
			return nil, err
		}
		requestInfoFrom(ctx).userID = res.Account.Identity.UserID
		return &authOutput{Body: toAuthResponse(res)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "refresh_session", Method: http.MethodPost, Path: s.path("/auth/refresh"), Tags: []string{"auth"},
		Summary:     "Refresh a session",
		Description: "Trades a refresh token for new tokens. Each refresh token works once; a replay within a few seconds (two racing requests) is tolerated, any later reuse ends the session.",
	}, func(ctx context.Context, in *struct {
		Body      refreshRequest
		UserAgent string `header:"User-Agent"`
	}) (*authOutput, error) {
		if err := s.limitAuth(ctx, "refresh", ""); err != nil {
			return nil, err
		}
		res, err := s.accounts.Refresh(ctx, in.Body.RefreshToken, clientInfo(ctx, in.UserAgent))
		if err != nil {
			return nil, err
		}
		requestInfoFrom(ctx).userID = res.Account.Identity.UserID
		return &authOutput{Body: toAuthResponse(res)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "sign_out", Method: http.MethodPost, Path: s.path("/auth/signout"), Tags: []string{"auth"},
		Summary: "Sign out", Security: bearerAuth, DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *signOutInput) (*struct{}, error) {
		return nil, s.accounts.SignOut(ctx, principalFrom(ctx), echogen.SignOutScope(in.Scope))
	})

	huma.Register(api, huma.Operation{
		OperationID: "list_sessions", Method: http.MethodGet, Path: s.path("/auth/sessions"), Tags: []string{"auth"},
		Summary: "List signed-in sessions", Security: bearerAuth,
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []sessionInfo }, error) {
		p := principalFrom(ctx)
		sessions, err := s.accounts.Sessions(ctx, p)
		if err != nil {
			return nil, err
		}
		out := make([]sessionInfo, len(sessions))
		for i, se := range sessions {
			out[i] = sessionInfo{
				ID: se.ID, Device: describeDevice(se.UserAgent), UserAgent: se.UserAgent, IP: se.IP,
				CreatedAt: ts(se.CreatedAt), LastUsedAt: ts(se.LastUsedAt), ExpiresAt: ts(se.ExpiresAt),
				Current: se.ID == p.SessionID,
			}
		}
		return &struct{ Body []sessionInfo }{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "revoke_session", Method: http.MethodDelete, Path: s.path("/auth/sessions/{session_id}"), Tags: []string{"auth"},
		Summary: "Sign out one session", Security: bearerAuth, DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		SessionID string `path:"session_id"`
	}) (*struct{}, error) {
		if !echogen.IsID(in.SessionID) {
			return nil, echogen.NotFound("Session")
		}
		return nil, s.accounts.RevokeSession(ctx, principalFrom(ctx), in.SessionID)
	})

	huma.Register(api, huma.Operation{
		OperationID: "forgot_password", Method: http.MethodPost, Path: s.path("/auth/password/forgot"), Tags: []string{"auth"},
		Summary:       "Send a password reset link",
		Description:   "Always answers 202 with the same body, whether or not the account exists.",
		DefaultStatus: http.StatusAccepted,
	}, func(ctx context.Context, in *struct{ Body emailRequest }) (*messageOutput, error) {
		if err := s.limitAuth(ctx, "forgot", in.Body.Email); err != nil {
			return nil, err
		}
		if err := s.accounts.ForgotPassword(ctx, in.Body.Email); err != nil {
			return nil, err
		}
		return &messageOutput{Body: messageResponse{Message: forgotPasswordMessage}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "reset_password", Method: http.MethodPost, Path: s.path("/auth/password/reset"), Tags: []string{"auth"},
		Summary:     "Set a new password with a reset token",
		Description: "The token from the reset mail works once, for 30 minutes. Every session of the account is signed out.",
	}, func(ctx context.Context, in *struct{ Body resetRequest }) (*messageOutput, error) {
		if err := s.limitAuth(ctx, "reset", ""); err != nil {
			return nil, err
		}
		if err := s.accounts.ResetPassword(ctx, in.Body.Token, in.Body.Password); err != nil {
			return nil, err
		}
		return &messageOutput{Body: messageResponse{Message: "Password updated. Sign in with your new password."}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "verify_email", Method: http.MethodPost, Path: s.path("/auth/email/verify"), Tags: []string{"auth"},
		Summary: "Confirm an email address with the emailed token",
	}, func(ctx context.Context, in *struct{ Body tokenRequest }) (*messageOutput, error) {
		if err := s.limitAuth(ctx, "verify", ""); err != nil {
			return nil, err
		}
		if err := s.accounts.VerifyEmail(ctx, in.Body.Token); err != nil {
			return nil, err
		}
		return &messageOutput{Body: messageResponse{Message: "Email confirmed."}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "resend_verification", Method: http.MethodPost, Path: s.path("/auth/email/resend"), Tags: []string{"auth"},
		Summary:       "Send the email confirmation link again",
		Description:   "Always answers 202 with the same body, whether or not the account exists.",
		DefaultStatus: http.StatusAccepted,
	}, func(ctx context.Context, in *struct{ Body emailRequest }) (*messageOutput, error) {
		if err := s.limitAuth(ctx, "resend", in.Body.Email); err != nil {
			return nil, err
		}
		if err := s.accounts.ResendVerification(ctx, in.Body.Email); err != nil {
			return nil, err
		}
		return &messageOutput{Body: messageResponse{Message: resendMessage}}, nil
	})
}

// describeDevice gives a short name for a User-Agent, for the sessions list.
func describeDevice(ua string) string {
	switch lower := strings.ToLower(ua); {
	case ua == "":
		return "Unknown device"
	case strings.Contains(lower, "dart"):
		return "EchoGen app"
	case strings.Contains(lower, "iphone"), strings.Contains(lower, "ipad"):
		return "iOS"
	case strings.Contains(lower, "android"):
		return "Android"
	case strings.Contains(lower, "macintosh"), strings.Contains(lower, "mac os"):
		return "Mac"
	case strings.Contains(lower, "windows"):
		return "Windows"
	case strings.Contains(lower, "linux"):
		return "Linux"
	case strings.Contains(lower, "curl"):
		return "curl"
	}
	name, _, _ := strings.Cut(ua, "/")
	if len(name) > 40 {
		name = name[:40]
	}
	return name
}

// ts is how every timestamp leaves the API: UTC, microsecond precision
// (what the database keeps and what Dart parses).
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}
