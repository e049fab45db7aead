package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/golang-jwt/jwt/v5"
)

// Audience is the aud claim of our access tokens, the one Supabase uses.
const Audience = "authenticated"

// DefaultAccessTokenTTL is how long an access token lives when SignerConfig
// does not say.
const DefaultAccessTokenTTL = 15 * time.Minute

// MinSecretLength is the shortest HMAC secret we accept, in bytes.
const MinSecretLength = 32

// SignerConfig configures a TokenSigner.
type SignerConfig struct {
	Algorithm string // HS256 (default), HS384 or HS512: JWT_ALGORITHM
	Secret    []byte // JWT_SECRET
	TTL       time.Duration
	Issuer    string // optional; when set it is written and required
}

// TokenSigner signs and verifies the HMAC JWT access tokens of the built-in
// auth.
type TokenSigner struct {
	method *jwt.SigningMethodHMAC
	secret []byte
	ttl    time.Duration
	issuer string
	clock  echogen.Clock
	parser *jwt.Parser
}

// accessClaims are the claims of an access token.
type accessClaims struct {
	SessionID string `json:"sid"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	jwt.RegisteredClaims
}

// NewTokenSigner returns a signer for cfg that reads the time from clock.
func NewTokenSigner(cfg SignerConfig, clock echogen.Clock) (*TokenSigner, error) {
	if cfg.Algorithm == "" {
		cfg.Algorithm = "HS256"
	}
	var method *jwt.SigningMethodHMAC
	switch cfg.Algorithm {
	case "HS256":
		method = jwt.SigningMethodHS256
	case "HS384":
		method = jwt.SigningMethodHS384
	case "HS512":
		method = jwt.SigningMethodHS512
	default:
		return nil, fmt.Errorf("JWT algorithm %q: want HS256, HS384 or HS512", cfg.Algorithm)
	}
	if len(cfg.Secret) < MinSecretLength {
		return nil, fmt.Errorf("JWT secret: want at least %d bytes, got %d", MinSecretLength, len(cfg.Secret))
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("access token TTL %v is negative", cfg.TTL)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultAccessTokenTTL
	}
	opts := []jwt.ParserOption{
		// Only the configured algorithm: "none" and algorithm swaps fail.
		jwt.WithValidMethods([]string{method.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(clock.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	return &TokenSigner{
		method: method,
		secret: append([]byte(nil), cfg.Secret...),
		ttl:    cfg.TTL,
		issuer: cfg.Issuer,
		clock:  clock,
		parser: jwt.NewParser(opts...),
	}, nil
}

// TTL is the lifetime of the access tokens Sign makes.
func (s *TokenSigner) TTL() time.Duration { return s.ttl }

// Sign returns an access token for p that expires after TTL.
func (s *TokenSigner) Sign(p echogen.Principal) (string, error) {
	now := s.clock.Now()
	claims := accessClaims{
		SessionID: p.SessionID,
		Email:     p.Email,
		Role:      p.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   p.UserID,
			Audience:  jwt.ClaimStrings{Audience},
			Issuer:    s.issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
		},
	}
	tok, err := jwt.NewWithClaims(s.method, claims).SignedString(s.secret)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return tok, nil
}

// Parse verifies an access token and returns its principal. Every failure
// is a KindUnauthenticated *echogen.Error: code token_expired for an
// expired but otherwise valid token, invalid_token for anything else.
func (s *TokenSigner) Parse(token string) (*echogen.Principal, error) {
	var c accessClaims
	_, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, tokenError("token_expired", err)
	case err != nil:
		return nil, tokenError("invalid_token", err)
	case c.Subject == "" || c.SessionID == "":
		return nil, tokenError("invalid_token", errors.New("token lacks sub or sid"))
	}
	return &echogen.Principal{UserID: c.Subject, SessionID: c.SessionID, Email: c.Email, Role: c.Role}, nil
}

func tokenError(code string, cause error) *echogen.Error {
	return &echogen.Error{Kind: echogen.KindUnauthenticated, Code: code, Message: "Invalid or expired token", Err: cause}
}
