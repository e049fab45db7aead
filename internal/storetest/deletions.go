package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

const day = 24 * time.Hour

func testDeletions(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("none active", func(t *testing.T) {
		for _, id := range []string{echogen.NewID(), "not-a-uuid"} {
			d, err := s.ActiveDeletion(ctx, id)
			if err != nil || d != nil {
				t.Errorf("ActiveDeletion(%q) = %v, %v; want nil, nil", id, d, err)
			}
			d, err = s.CancelDeletion(ctx, id, t0())
			if err != nil || d != nil {
				t.Errorf("CancelDeletion(%q) = %v, %v; want nil, nil", id, d, err)
			}
		}
	})

	t.Run("schedule, reschedule, cancel", func(t *testing.T) {
		userID, otherID := echogen.NewID(), echogen.NewID()
		other, err := s.ScheduleDeletion(ctx, otherID, t0(), t0().Add(30*day))
		if err != nil {
			t.Fatal(err)
		}

		first, err := s.ScheduleDeletion(ctx, userID, t0(), t0().Add(30*day))
		if err != nil {
			t.Fatal(err)
		}
		want := &echogen.DeletionRequest{ID: first.ID, UserID: userID, RequestedAt: t0(), ScheduledFor: t0().Add(30 * day)}
		if diff := cmp.Diff(want, first); diff != "" {
			t.Errorf("ScheduleDeletion (-want +got):\n%s", diff)
		}
		if !echogen.IsID(first.ID) {
			t.Errorf("request id %q is not a UUID", first.ID)
		}
		wantActive(t, s, userID, want)

		// Scheduling again moves the date of the same request.
		again, err := s.ScheduleDeletion(ctx, userID, t0().Add(day), t0().Add(31*day))
		if err != nil {
			t.Fatal(err)
		}
		want.ScheduledFor = t0().Add(31 * day)
		if diff := cmp.Diff(want, again); diff != "" {
			t.Errorf("second ScheduleDeletion (-want +got):\n%s", diff)
		}
		wantActive(t, s, userID, want)

		cancelledAt := t0().Add(2 * day)
		cancelled, err := s.CancelDeletion(ctx, userID, cancelledAt)
		if err != nil {
			t.Fatal(err)
		}
		want.CancelledAt = &cancelledAt
		if diff := cmp.Diff(want, cancelled); diff != "" {
			t.Errorf("CancelDeletion (-want +got):\n%s", diff)
		}
		wantActive(t, s, userID, nil)
		if d, err := s.CancelDeletion(ctx, userID, cancelledAt); err != nil || d != nil {
			t.Errorf("second CancelDeletion = %v, %v; want nil, nil", d, err)
		}

		// After a cancellation, scheduling starts a new request.
		fresh, err := s.ScheduleDeletion(ctx, userID, t0().Add(3*day), t0().Add(33*day))
		if err != nil {
			t.Fatal(err)
		}
		if fresh.ID == first.ID {
			t.Error("scheduling after a cancellation reused the cancelled request")
		}
		wantActive(t, s, userID, fresh)
		wantActive(t, s, otherID, other)
	})

	t.Run("racing schedules keep one request", func(t *testing.T) {
		userID := echogen.NewID()
		const racers = 10
		var wg sync.WaitGroup
		got := make([]*echogen.DeletionRequest, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				got[i], errs[i] = s.ScheduleDeletion(ctx, userID, t0(), t0().Add(time.Duration(i+1)*day))
			})
		}
		close(start)
		wg.Wait()
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("ScheduleDeletion: %v", errs[i])
			}
			if got[i].ID != got[0].ID {
				t.Fatalf("racing schedules returned requests %s and %s", got[0].ID, got[i].ID)
			}
		}
	})

	t.Run("due", func(t *testing.T) {
		s := newStore(t) // alone in its database: DueDeletions is not per user
		now := t0().Add(40 * day)
		schedule := func(scheduledFor time.Time) *echogen.DeletionRequest {
			d, err := s.ScheduleDeletion(ctx, echogen.NewID(), t0(), scheduledFor)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		oldest := schedule(now.Add(-2 * day))
		older := schedule(now.Add(-day))
		atNow := schedule(now)
		schedule(now.Add(time.Microsecond)) // not yet
		cancelled := schedule(now.Add(-3 * day))
		if _, err := s.CancelDeletion(ctx, cancelled.UserID, now); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name  string
			now   time.Time
			limit int
			want  []echogen.DeletionRequest
		}{
			{"all due, oldest first", now, 10, []echogen.DeletionRequest{*oldest, *older, *atNow}},
			{"limited", now, 2, []echogen.DeletionRequest{*oldest, *older}},
			{"zero limit", now, 0, nil},
			{"none due yet", t0(), 10, nil},
			{"now in another zone", now.In(time.FixedZone("UTC-8", -8*3600)), 10, []echogen.DeletionRequest{*oldest, *older, *atNow}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.DueDeletions(ctx, tt.now, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(tt.want) == 0 && len(got) == 0 {
					return
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("DueDeletions (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("audit", func(t *testing.T) {
		d, err := s.ScheduleDeletion(ctx, echogen.NewID(), t0(), t0().Add(30*day))
		if err != nil {
			t.Fatal(err)
		}
		started := t0().Add(31 * day)
		for _, at := range []time.Time{started, started.Add(time.Hour)} { // the second start is harmless
			if err := s.StartDeletionAudit(ctx, *d, at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.DeletionAudit(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := &echogen.DeletionAudit{RequestID: d.ID, UserID: d.UserID, RequestedAt: d.RequestedAt, ScheduledFor: d.ScheduledFor, StartedAt: started}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DeletionAudit (-want +got):\n%s", diff)
		}
		for _, id := range []string{echogen.NewID(), "not-a-uuid"} {
			_, err := s.DeletionAudit(ctx, id)
			wantKind(t, err, echogen.KindNotFound)
		}
	})
}

// wantActive checks the user's active deletion request.
func wantActive(t *testing.T, s echogen.Store, userID string, want *echogen.DeletionRequest) {
	t.Helper()
	got, err := s.ActiveDeletion(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ActiveDeletion (-want +got):\n%s", diff)
	}
}
