package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// deletionStatus is the client's AccountDeletionStatus.
type deletionStatus struct {
	ScheduledFor *time.Time `json:"scheduled_for"`
	RequestedAt  *time.Time `json:"requested_at"`
	CancelledAt  *time.Time `json:"cancelled_at"`
	CompletedAt  *time.Time `json:"completed_at"`
}

func toDeletionStatus(d *echogen.DeletionRequest) *deletionStatus {
	if d == nil {
		return nil
	}
	return &deletionStatus{
		ScheduledFor: tsPtr(&d.ScheduledFor),
		RequestedAt:  tsPtr(&d.RequestedAt),
		CancelledAt:  tsPtr(d.CancelledAt),
		CompletedAt:  tsPtr(d.CompletedAt),
	}
}

type deletionOutput struct {
	Body *deletionStatus
}

func (s *Server) registerAccount(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "schedule_account_deletion", Method: http.MethodDelete, Path: s.path("/auth/account"), Tags: []string{"auth"},
		Summary:     "Schedule the account's deletion",
		Description: "The account and everything it stored are deleted after the deletion window (30 days by default) unless the user signs in or cancels.",
		Security:    bearerAuth,
	}, func(ctx context.Context, _ *struct{}) (*deletionOutput, error) {
		d, err := s.accounts.ScheduleDeletion(ctx, principalFrom(ctx))
		if err != nil {
			return nil, err
		}
		return &deletionOutput{Body: toDeletionStatus(d)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "cancel_account_deletion", Method: http.MethodPost, Path: s.path("/auth/account/cancel"), Tags: []string{"auth"},
		Summary:     "Cancel a scheduled deletion",
		Description: "Returns the cancelled request with cancelled_at set, or null when none was scheduled.",
		Security:    bearerAuth,
	}, func(ctx context.Context, _ *struct{}) (*deletionOutput, error) {
		d, err := s.accounts.CancelDeletion(ctx, principalFrom(ctx))
		if err != nil {
			return nil, err
		}
		return &deletionOutput{Body: toDeletionStatus(d)}, nil
	})
}
