package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// apiKeyResponse is the client's ApiKey plus what the vault adds. It never
// carries the secret.
type apiKeyResponse struct {
	ID             string         `json:"id"`
	Provider       string         `json:"provider"`
	KeyAlias       *string        `json:"key_alias"`
	Metadata       map[string]any `json:"metadata"`
	KeyHint        string         `json:"key_hint" doc:"The key's last four characters."`
	Status         string         `json:"status" enum:"unverified,valid,invalid"`
	StatusMessage  *string        `json:"status_message" doc:"Why the provider refused the key, in its words."`
	LastVerifiedAt *time.Time     `json:"last_verified_at"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

func toAPIKeyResponse(k *echogen.APIKey) apiKeyResponse {
	r := apiKeyResponse{
		ID: k.ID, Provider: string(k.Provider), KeyAlias: k.Alias, Metadata: orEmptyMap(k.Metadata), KeyHint: k.Hint,
		Status: k.Status, LastVerifiedAt: tsPtr(k.LastVerifiedAt), CreatedAt: ts(k.CreatedAt), UpdatedAt: ts(k.UpdatedAt),
	}
	if k.StatusMessage != "" {
		msg := k.StatusMessage
		r.StatusMessage = &msg
	}
	return r
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

type apiKeyCreateRequest struct {
	Provider     string         `json:"provider" maxLength:"40" doc:"openai, gemini, elevenlabs, groq, openrouter, anthropic, imagerouter, firecrawl, hyperbrowser, ollama or openai_compatible."`
	KeyAlias     *string        `json:"key_alias,omitempty" nullable:"true" maxLength:"200"`
	EncryptedKey *string        `json:"encrypted_key,omitempty" nullable:"true" maxLength:"4096" doc:"The provider key, in clear text over TLS: the server seals it (the name is the original API's)."`
	APIKey       *string        `json:"api_key,omitempty" nullable:"true" maxLength:"4096" doc:"Alias of encrypted_key."`
	Metadata     map[string]any `json:"metadata,omitempty" nullable:"true" doc:"ollama and openai_compatible keys need base_url."`
}

type apiKeyUpdateRequest struct {
	KeyAlias     optional[string]         `json:"key_alias,omitempty"`
	EncryptedKey optional[string]         `json:"encrypted_key,omitempty"`
	APIKey       optional[string]         `json:"api_key,omitempty"`
	Metadata     optional[map[string]any] `json:"metadata,omitempty"`
}

type apiKeyOutput struct {
	Body apiKeyResponse
}

type keyIDInput struct {
	KeyID string `path:"key_id"`
}

func (s *Server) registerAPIKeys(api huma.API) {
	tags := []string{"api-keys"}
	huma.Register(api, huma.Operation{
		OperationID: "create_api_key", Method: http.MethodPost, Path: s.path("/api-keys"), Tags: tags,
		Summary: "Store a provider key", Security: bearerAuth, DefaultStatus: http.StatusCreated,
		Description: "The key is sealed with AES-256-GCM envelope encryption; no response ever contains it.",
	}, func(ctx context.Context, in *struct{ Body apiKeyCreateRequest }) (*apiKeyOutput, error) {
		secret := in.Body.EncryptedKey
		if secret == nil {
			secret = in.Body.APIKey
		}
		if secret == nil {
			return nil, echogen.Invalid([]string{"body", "encrypted_key"}, "missing", "Field required")
		}
		k, err := s.library.CreateAPIKey(ctx, principalFrom(ctx), echogen.APIKeyInput{
			Provider: in.Body.Provider, Alias: in.Body.KeyAlias, Secret: *secret, Metadata: in.Body.Metadata,
		})
		if err != nil {
			return nil, err
		}
		return &apiKeyOutput{Body: toAPIKeyResponse(k)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list_api_keys", Method: http.MethodGet, Path: s.path("/api-keys"), Tags: tags,
		Summary: "List stored provider keys", Security: bearerAuth,
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []apiKeyResponse }, error) {
		keys, err := s.library.ListAPIKeys(ctx, principalFrom(ctx))
		if err != nil {
			return nil, err
		}
		out := make([]apiKeyResponse, len(keys))
		for i := range keys {
			out[i] = toAPIKeyResponse(&keys[i])
		}
		return &struct{ Body []apiKeyResponse }{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update_api_key", Method: http.MethodPatch, Path: s.path("/api-keys/{key_id}"), Tags: tags,
		Summary: "Change a key's alias, secret or metadata", Security: bearerAuth,
		Description: "A new secret makes the key unverified again.",
	}, func(ctx context.Context, in *struct {
		KeyID string `path:"key_id"`
		Body  apiKeyUpdateRequest
	}) (*apiKeyOutput, error) {
		secret := in.Body.EncryptedKey.Patch
		if !secret.Set {
			secret = in.Body.APIKey.Patch
		}
		if secret.Null {
			return nil, echogen.Invalid([]string{"body", "encrypted_key"}, "value_error", "the key cannot be null; delete the record instead")
		}
		k, err := s.library.UpdateAPIKey(ctx, principalFrom(ctx), in.KeyID, echogen.APIKeyPatch{
			Alias: in.Body.KeyAlias.Patch, Secret: secret, Metadata: in.Body.Metadata.Patch,
		})
		if err != nil {
			return nil, err
		}
		return &apiKeyOutput{Body: toAPIKeyResponse(k)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "delete_api_key", Method: http.MethodDelete, Path: s.path("/api-keys/{key_id}"), Tags: tags,
		Summary: "Delete a key", Security: bearerAuth, DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *keyIDInput) (*struct{}, error) {
		return nil, s.library.DeleteAPIKey(ctx, principalFrom(ctx), in.KeyID)
	})

	huma.Register(api, huma.Operation{
		OperationID: "verify_api_key", Method: http.MethodPost, Path: s.path("/api-keys/{key_id}/verify"), Tags: tags,
		Summary:     "Check a key with its provider",
		Description: "Calls the provider's cheapest authenticated endpoint (its model list) and records valid or invalid. 503 when the provider cannot be reached; nothing is recorded then.",
		Security:    bearerAuth,
	}, func(ctx context.Context, in *keyIDInput) (*apiKeyOutput, error) {
		k, err := s.library.VerifyAPIKey(ctx, principalFrom(ctx), in.KeyID)
		if err != nil {
			return nil, err
		}
		return &apiKeyOutput{Body: toAPIKeyResponse(k)}, nil
	})
}
