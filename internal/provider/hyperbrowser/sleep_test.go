package hyperbrowser

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The default Wait ends at once when its context does.
func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep(canceled, 1h) = %v, want context.Canceled", err)
	}
	if err := sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep(canceled, 0) = %v, want context.Canceled", err)
	}
	if err := sleep(context.Background(), 0); err != nil {
		t.Errorf("sleep(live, 0) = %v", err)
	}
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleep(live, 1ms) = %v", err)
	}
}
