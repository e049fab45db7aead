package echogen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// DefaultDeletionWindow is how long a scheduled account deletion waits.
const DefaultDeletionWindow = 30 * 24 * time.Hour

// Profile field limits.
const (
	maxFullNameLength    = 200
	maxBioLength         = 5000
	maxURLLength         = 2083
	maxPreferencesBytes  = 64 << 10
	maxOnboardingAnswers = 100
)

// AccountService holds the rules of accounts: sign-up and sign-in on top of
// the auth backend, the profile, onboarding and the deletion window.
type AccountService struct {
	auth           Authenticator
	store          Store
	objects        UserObjects
	clock          Clock
	deletionWindow time.Duration
	log            *slog.Logger
}

// NewAccountService returns an AccountService. A zero deletionWindow means
// DefaultDeletionWindow.
func NewAccountService(auth Authenticator, store Store, objects UserObjects, clock Clock, deletionWindow time.Duration, log *slog.Logger) *AccountService {
	if deletionWindow <= 0 {
		deletionWindow = DefaultDeletionWindow
	}
	return &AccountService{auth: auth, store: store, objects: objects, clock: clock, deletionWindow: deletionWindow, log: log}
}

// Authenticate verifies an access token.
func (s *AccountService) Authenticate(ctx context.Context, accessToken string) (*Principal, error) {
	return s.auth.Authenticate(ctx, accessToken)
}

// SignUp creates an account and its profile and opens a session.
func (s *AccountService) SignUp(ctx context.Context, c Credentials) (*AuthResult, error) {
	if err := checkMethod(c.Method, "sign-up"); err != nil {
		return nil, err
	}
	id, tokens, err := s.auth.SignUp(ctx, c)
	if err != nil {
		if id != nil { // created, awaiting email confirmation: keep the name given
			if _, perr := s.account(ctx, *id); perr != nil {
				return nil, perr
			}
		}
		return nil, err
	}
	return s.authResult(ctx, id, tokens)
}

// SignIn opens a session. Signing in cancels a scheduled deletion: the
// client tells the user their account is deleted "unless you log in again".
func (s *AccountService) SignIn(ctx context.Context, c Credentials) (*AuthResult, error) {
	if err := checkMethod(c.Method, "sign-in"); err != nil {
		return nil, err
	}
	id, tokens, err := s.auth.SignIn(ctx, c)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.CancelDeletion(ctx, id.UserID, s.clock.Now()); err != nil {
		return nil, fmt.Errorf("cancel deletion on sign-in: %w", err)
	}
	return s.authResult(ctx, id, tokens)
}

// Refresh trades a refresh token for new tokens.
func (s *AccountService) Refresh(ctx context.Context, refreshToken string, client ClientInfo) (*AuthResult, error) {
	id, tokens, err := s.auth.Refresh(ctx, refreshToken, client)
	if err != nil {
		return nil, err
	}
	return s.authResult(ctx, id, tokens)
}

func (s *AccountService) authResult(ctx context.Context, id *Identity, tokens *Tokens) (*AuthResult, error) {
	acct, err := s.account(ctx, *id)
	if err != nil {
		return nil, err
	}
	return &AuthResult{Account: acct, Tokens: *tokens}, nil
}

func checkMethod(m AuthMethod, what string) error {
	switch m {
	case MethodEmail, MethodPhone:
		return nil
	case MethodGoogle, MethodApple, MethodGitHub:
		return Errorf(KindNotImplemented, "method_not_supported", "Selected %s method will be available soon", what)
	}
	return Invalid([]string{"body", "method"}, "enum", "method must be one of email, phone, google, apple, github")
}

// Me returns the caller's account.
func (s *AccountService) Me(ctx context.Context, p Principal) (*Account, error) {
	id, err := s.auth.Identity(ctx, p)
	if err != nil {
		return nil, err
	}
	return s.account(ctx, *id)
}

// User returns the account with the given id, which must be the caller's.
func (s *AccountService) User(ctx context.Context, p Principal, userID string) (*Account, error) {
	if userID != p.UserID {
		return nil, Errorf(KindPermissionDenied, "forbidden", "You can only access your own profile")
	}
	return s.Me(ctx, p)
}

// account assembles the profile view, creating the profile row on first use
// (a Supabase user may have signed up elsewhere).
func (s *AccountService) account(ctx context.Context, id Identity) (*Account, error) {
	prof, del, err := s.store.ProfileAndDeletion(ctx, id.UserID)
	if ErrorKind(err) == KindNotFound {
		if err := s.createProfile(ctx, id); err != nil {
			return nil, err
		}
		prof, del, err = s.store.ProfileAndDeletion(ctx, id.UserID)
	}
	if err != nil {
		return nil, err
	}
	return &Account{Identity: id, Profile: *prof, PendingDeletion: del}, nil
}

func (s *AccountService) createProfile(ctx context.Context, id Identity) error {
	now := s.clock.Now()
	p := &Profile{UserID: id.UserID, CreatedAt: now, UpdatedAt: now}
	if id.FullName != "" {
		name := id.FullName
		p.FullName = &name
	}
	return s.store.CreateProfile(ctx, p)
}

// Patch is one field of a partial update: absent, null, or a value.
type Patch[T any] struct {
	Set   bool // the key was present
	Null  bool // its value was null
	Value T
}

// ProfilePatch is a PATCH of the profile. Absent fields stay as they are;
// an explicit null clears a field; Preferences is a JSON merge patch
// (RFC 7396) on the stored preferences.
type ProfilePatch struct {
	FullName    Patch[string]
	AvatarURL   Patch[string]
	Bio         Patch[string]
	Preferences Patch[map[string]any]
}

// UpdateProfile applies a patch to the caller's profile.
func (s *AccountService) UpdateProfile(ctx context.Context, p Principal, patch ProfilePatch) (*Account, error) {
	if err := patch.validate(); err != nil {
		return nil, err
	}
	_, err := s.store.UpdateProfile(ctx, p.UserID, s.clock.Now(), func(prof *Profile) error {
		applyString(&prof.FullName, patch.FullName)
		applyString(&prof.AvatarURL, patch.AvatarURL)
		applyString(&prof.Bio, patch.Bio)
		switch {
		case patch.Preferences.Null:
			prof.Preferences = nil
		case patch.Preferences.Set:
			merged, _ := MergePatch(prof.Preferences, patch.Preferences.Value).(map[string]any)
			prof.Preferences = merged
		}
		return checkPreferencesSize(prof.Preferences)
	})
	if ErrorKind(err) == KindNotFound {
		if _, err := s.Me(ctx, p); err != nil { // creates the missing profile
			return nil, err
		}
		return s.UpdateProfile(ctx, p, patch)
	}
	if err != nil {
		return nil, err
	}
	return s.Me(ctx, p)
}

func applyString(field **string, p Patch[string]) {
	switch {
	case p.Null:
		*field = nil
	case p.Set:
		v := p.Value
		*field = &v
	}
}

func (p ProfilePatch) validate() error {
	if p.FullName.Set && !p.FullName.Null && len([]rune(p.FullName.Value)) > maxFullNameLength {
		return Invalid([]string{"body", "fullName"}, "string_too_long", fmt.Sprintf("fullName must be at most %d characters", maxFullNameLength))
	}
	if p.Bio.Set && !p.Bio.Null && len([]rune(p.Bio.Value)) > maxBioLength {
		return Invalid([]string{"body", "bio"}, "string_too_long", fmt.Sprintf("bio must be at most %d characters", maxBioLength))
	}
	if p.AvatarURL.Set && !p.AvatarURL.Null {
		if err := CheckHTTPURL(p.AvatarURL.Value); err != nil {
			return Invalid([]string{"body", "avatarUrl"}, "url_parsing", "avatarUrl must be an http or https URL")
		}
	}
	return nil
}

// CheckHTTPURL accepts absolute http(s) URLs with a host, up to 2083 bytes.
func CheckHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxURLLength || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}

func checkPreferencesSize(prefs map[string]any) error {
	b, err := json.Marshal(prefs)
	if err != nil {
		return Invalid([]string{"body", "preferences"}, "value_error", "preferences must be JSON")
	}
	if len(b) > maxPreferencesBytes {
		return Invalid([]string{"body", "preferences"}, "too_long", fmt.Sprintf("preferences must be at most %d bytes of JSON", maxPreferencesBytes))
	}
	return nil
}

// MergePatch applies an RFC 7396 JSON merge patch to target and returns the
// result; target is not modified.
func MergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, _ := target.(map[string]any)
	out := make(map[string]any, len(t)+len(p))
	for k, v := range t {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = MergePatch(out[k], v)
	}
	return out
}

// SubmitOnboarding records the questionnaire and marks onboarding complete.
// completedAt may be zero, meaning now.
func (s *AccountService) SubmitOnboarding(ctx context.Context, p Principal, answers []OnboardingAnswer, completedAt time.Time) (*Account, error) {
	if len(answers) > maxOnboardingAnswers {
		return nil, Invalid([]string{"body", "responses"}, "too_long", fmt.Sprintf("at most %d responses", maxOnboardingAnswers))
	}
	for i, a := range answers {
		if a.QuestionID == "" {
			return nil, Invalid([]string{"body", "responses", fmt.Sprint(i), "questionId"}, "missing", "questionId must not be empty")
		}
	}
	if completedAt.IsZero() {
		completedAt = s.clock.Now()
	}
	completedAt = completedAt.UTC()
	if _, err := s.Me(ctx, p); err != nil { // make sure the profile exists
		return nil, err
	}
	_, err := s.store.SaveOnboarding(ctx, p.UserID, answers, completedAt, func(prof *Profile) error {
		prefs := MergePatch(prof.Preferences, map[string]any{
			"onboarding": map[string]any{
				"responses":   answers,
				"completedAt": completedAt.Format(time.RFC3339Nano),
			},
		}).(map[string]any)
		// Round-trip through JSON so the stored value has plain JSON types.
		b, err := json.Marshal(prefs)
		if err != nil {
			return Invalid([]string{"body", "responses"}, "value_error", "answers must be JSON")
		}
		prof.Preferences = nil
		if err := json.Unmarshal(b, &prof.Preferences); err != nil {
			return err
		}
		prof.OnboardingCompleted = true
		return checkPreferencesSize(prof.Preferences)
	})
	if err != nil {
		return nil, err
	}
	return s.Me(ctx, p)
}

// ScheduleDeletion schedules the caller's account for deletion after the
// deletion window; scheduling again moves the date.
func (s *AccountService) ScheduleDeletion(ctx context.Context, p Principal) (*DeletionRequest, error) {
	now := s.clock.Now()
	return s.store.ScheduleDeletion(ctx, p.UserID, now, now.Add(s.deletionWindow))
}

// CancelDeletion cancels the caller's scheduled deletion and returns it with
// cancelled_at set, or nil when none was scheduled.
func (s *AccountService) CancelDeletion(ctx context.Context, p Principal) (*DeletionRequest, error) {
	return s.store.CancelDeletion(ctx, p.UserID, s.clock.Now())
}

// PurgeDueAccounts deletes the accounts whose deletion window has passed:
// stored objects first, then the auth identity, then every row, with an
// audit row that outlives the user. Each step can be repeated, so a purge
// cut short by a crash is finished by the next run.
func (s *AccountService) PurgeDueAccounts(ctx context.Context, limit int) (int, error) {
	due, err := s.store.DueDeletions(ctx, s.clock.Now(), limit)
	if err != nil {
		return 0, err
	}
	purged := 0
	for _, d := range due {
		if err := s.purge(ctx, d); err != nil {
			return purged, fmt.Errorf("purge account %s: %w", d.UserID, err)
		}
		purged++
	}
	return purged, nil
}

func (s *AccountService) purge(ctx context.Context, d DeletionRequest) error {
	if err := s.store.StartDeletionAudit(ctx, d, s.clock.Now()); err != nil {
		return err
	}
	n, err := s.objects.DeleteUserObjects(ctx, d.UserID)
	if err != nil {
		return fmt.Errorf("delete objects: %w", err)
	}
	if err := s.auth.DeleteIdentity(ctx, d.UserID); err != nil {
		return fmt.Errorf("delete identity: %w", err)
	}
	if err := s.store.FinishDeletion(ctx, d, s.clock.Now(), n); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "account purged", "user_id", d.UserID, "request_id", d.ID, "objects_deleted", n)
	return nil
}

// SignOut ends the caller's session, the others, or all of them.
func (s *AccountService) SignOut(ctx context.Context, p Principal, scope SignOutScope) error {
	return s.auth.SignOut(ctx, p, scope)
}

// Sessions lists the caller's active sessions.
func (s *AccountService) Sessions(ctx context.Context, p Principal) ([]Session, error) {
	return s.auth.Sessions(ctx, p)
}

// RevokeSession ends one of the caller's sessions.
func (s *AccountService) RevokeSession(ctx context.Context, p Principal, sessionID string) error {
	return s.auth.RevokeSession(ctx, p, sessionID)
}

// ForgotPassword sends a reset mail if the account exists.
func (s *AccountService) ForgotPassword(ctx context.Context, email string) error {
	return s.auth.ForgotPassword(ctx, email)
}

// ResetPassword sets a new password with a reset token.
func (s *AccountService) ResetPassword(ctx context.Context, token, password string) error {
	return s.auth.ResetPassword(ctx, token, password)
}

// VerifyEmail confirms an email address with a verification token.
func (s *AccountService) VerifyEmail(ctx context.Context, token string) error {
	return s.auth.VerifyEmail(ctx, token)
}

// ResendVerification sends the confirmation mail again if it is needed.
func (s *AccountService) ResendVerification(ctx context.Context, email string) error {
	return s.auth.ResendVerification(ctx, email)
}
