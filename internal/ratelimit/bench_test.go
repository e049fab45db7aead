package ratelimit

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/echogen/server/internal/echogen"
)

func BenchmarkAllowParallel(b *testing.B) {
	tests := []struct {
		name    string
		keys    int
		maxKeys int
	}{
		{"keys=10k", 10_000, 100_000},
		{"keys=1", 1, 100_000},
		{"churn/keys=100k/max=10k", 100_000, 10_000},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			keys := make([]string, tt.keys)
			for i := range keys {
				keys[i] = fmt.Sprintf("198.51.100.%d/%d", i%256, i)
			}
			l := New(echogen.SystemClock{}, 600, 20, tt.maxKeys)
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine walks the keys from its own offset.
				i := int(next.Add(7919))
				for pb.Next() {
					l.Allow(keys[i%len(keys)])
					i++
				}
			})
		})
	}
}
