package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// userProfile is the client's UserProfile: camelCase for fullName,
// avatarUrl, onboardingCompleted and pendingAccountDeletion, snake_case for
// the rest. Every key is always present, null when empty.
type userProfile struct {
	ID                     string          `json:"id"`
	Email                  string          `json:"email"`
	FullName               *string         `json:"fullName"`
	CreatedAt              time.Time       `json:"created_at"`
	LastSignInAt           *time.Time      `json:"last_sign_in_at"`
	AvatarURL              *string         `json:"avatarUrl"`
	Bio                    *string         `json:"bio"`
	Preferences            map[string]any  `json:"preferences"`
	OnboardingCompleted    bool            `json:"onboardingCompleted"`
	PendingAccountDeletion *deletionStatus `json:"pendingAccountDeletion"`
}

func toUserProfile(a *echogen.Account) userProfile {
	return userProfile{
		ID:                     a.Identity.UserID,
		Email:                  a.Identity.Email,
		FullName:               a.Profile.FullName,
		CreatedAt:              ts(a.Identity.CreatedAt),
		LastSignInAt:           tsPtr(a.Identity.LastSignInAt),
		AvatarURL:              a.Profile.AvatarURL,
		Bio:                    a.Profile.Bio,
		Preferences:            a.Profile.Preferences,
		OnboardingCompleted:    a.Profile.OnboardingCompleted,
		PendingAccountDeletion: toDeletionStatus(a.PendingDeletion),
	}
}

type profileOutput struct {
	Body userProfile
}

// optional is a PATCH field that tells absent, null and a value apart.
type optional[T any] struct {
	echogen.Patch[T]
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Schema describes the field as T or null, so huma validates the type.
func (o optional[T]) Schema(r huma.Registry) *huma.Schema {
	s := *r.Schema(reflect.TypeFor[T](), true, "")
	s.Nullable = true
	return &s
}

type profileUpdateRequest struct {
	FullName    optional[string]         `json:"fullName,omitempty"`
	AvatarURL   optional[string]         `json:"avatarUrl,omitempty" doc:"An http(s) URL."`
	Bio         optional[string]         `json:"bio,omitempty"`
	Preferences optional[map[string]any] `json:"preferences,omitempty" doc:"A JSON merge patch (RFC 7396) on the stored preferences; null clears them."`
}

type onboardingAnswer struct {
	QuestionID      string `json:"questionId,omitempty" maxLength:"200"`
	QuestionIDSnake string `json:"question_id,omitempty" maxLength:"200" doc:"Alias of questionId."`
	Question        string `json:"question" maxLength:"2000"`
	Answer          any    `json:"answer"`
}

type onboardingRequest struct {
	Responses   []onboardingAnswer `json:"responses" maxItems:"100"`
	CompletedAt *time.Time         `json:"completed_at,omitempty" nullable:"true"`
}

func (s *Server) registerProfile(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "get_current_user", Method: http.MethodGet, Path: s.path("/auth/me"), Tags: []string{"auth"},
		Summary: "The signed-in user's profile", Security: bearerAuth,
	}, func(ctx context.Context, _ *struct{}) (*profileOutput, error) {
		a, err := s.accounts.Me(ctx, principalFrom(ctx))
		if err != nil {
			return nil, err
		}
		return &profileOutput{Body: toUserProfile(a)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get_user", Method: http.MethodGet, Path: s.path("/auth/users/{user_id}"), Tags: []string{"auth"},
		Summary: "A user's profile (your own only)", Security: bearerAuth,
	}, func(ctx context.Context, in *struct {
		UserID string `path:"user_id"`
	}) (*profileOutput, error) {
		a, err := s.accounts.User(ctx, principalFrom(ctx), in.UserID)
		if err != nil {
			return nil, err
		}
		return &profileOutput{Body: toUserProfile(a)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update_profile", Method: http.MethodPatch, Path: s.path("/auth/profile"), Tags: []string{"auth"},
		Summary:     "Update the profile",
		Description: "Absent keys stay as they are; an explicit null clears a field; preferences is merged as a JSON merge patch.",
		Security:    bearerAuth,
	}, func(ctx context.Context, in *struct{ Body profileUpdateRequest }) (*profileOutput, error) {
		a, err := s.accounts.UpdateProfile(ctx, principalFrom(ctx), echogen.ProfilePatch{
			FullName:    in.Body.FullName.Patch,
			AvatarURL:   in.Body.AvatarURL.Patch,
			Bio:         in.Body.Bio.Patch,
			Preferences: in.Body.Preferences.Patch,
		})
		if err != nil {
			return nil, err
		}
		return &profileOutput{Body: toUserProfile(a)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "submit_onboarding", Method: http.MethodPost, Path: s.path("/auth/onboarding"), Tags: []string{"auth"},
		Summary: "Submit the onboarding answers", Security: bearerAuth,
	}, func(ctx context.Context, in *struct{ Body onboardingRequest }) (*profileOutput, error) {
		answers := make([]echogen.OnboardingAnswer, len(in.Body.Responses))
		for i, r := range in.Body.Responses {
			id := r.QuestionID
			if id == "" {
				id = r.QuestionIDSnake
			}
			answers[i] = echogen.OnboardingAnswer{QuestionID: id, Question: r.Question, Answer: r.Answer}
		}
		var completedAt time.Time
		if in.Body.CompletedAt != nil {
			completedAt = *in.Body.CompletedAt
		}
		a, err := s.accounts.SubmitOnboarding(ctx, principalFrom(ctx), answers, completedAt)
		if err != nil {
			return nil, err
		}
		return &profileOutput{Body: toUserProfile(a)}, nil
	})
}
