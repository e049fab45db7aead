package ratelimit

import (
	"time"

	"github.com/echogen/server/internal/echogen/echogentest"
)

func newFakeClock() *echogentest.Clock {
	return echogentest.NewClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
}
