package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLimiter(t *testing.T) {
	loudNoise := func(seed uint64) []float64 {
		r := rand.New(rand.NewPCG(seed, 9))
		x := make([]float64, 3*rate)
		for i := range x {
			// Bursts up to 12 dB over full scale, with high frequencies.
			x[i] = r.NormFloat64() * 0.6 * (1 + 3*math.Abs(math.Sin(float64(i)/2000)))
		}
		return x
	}
	speech := func(peakDB float64) []float64 {
		s := speechLike(5, peakDB, 7)
		x := make([]float64, len(s))
		for i, v := range s {
			x[i] = float64(v) / (1 << 15)
		}
		return x
	}
	tests := []struct {
		name      string
		x         []float64
		ceilingDB float64
		untouched bool // the signal is under the ceiling: out is in, delayed
	}{
		{"quiet speech passes untouched", speech(-6), -1, true},
		{"hot speech", speech(+6), -1, false},
		{"loud noise", loudNoise(1), -1, false},
		{"loud noise, low ceiling", loudNoise(2), -6, false},
		{"fs/4 sine with its peaks between samples", sine(rate, rate/4, 1, math.Pi/4, 1), -1, false},
		{"full-scale square wave", square(3*rate, 48), -2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(rate, tt.ceilingDB)
			var out []float64
			// In uneven pieces, as the second pass reads.
			for x := tt.x; len(x) > 0; {
				n := min(len(x), 999+len(x)%1234)
				out = l.process(x[:n], out)
				x = x[n:]
			}
			out = l.finish(out)
			if len(out) != len(tt.x) {
				t.Fatalf("%d samples out of %d", len(out), len(tt.x))
			}
			var p peakMeter
			p.add(out)
			p.finish()
			if p.dBTP() > tt.ceilingDB {
				t.Errorf("true peak %.3f dBTP is above the ceiling, %.1f", p.dBTP(), tt.ceilingDB)
			}
			if tt.untouched && !equalFloats(out, tt.x) {
				t.Error("a signal under the ceiling was changed")
			}
			// Limiting must not move the signal in time: correlate.
			if !tt.untouched {
				var dot, nx, ny float64
				for i := range out {
					dot += out[i] * tt.x[i]
					nx += tt.x[i] * tt.x[i]
					ny += out[i] * out[i]
				}
				if c := dot / math.Sqrt(nx*ny); c < 0.9 {
					t.Errorf("output correlates with input only %.2f", c)
				}
			}
		})
	}
}

func square(n, period int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = 1
		if i%period >= period/2 {
			x[i] = -1
		}
	}
	return x
}

func TestSlidingMin(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const width = 7
	s := newSlidingMin(width)
	var all []float64
	for i := range 1000 {
		v := float64(r.IntN(20))
		all = append(all, v)
		want := math.Inf(1)
		for _, w := range all[max(0, len(all)-width):] {
			want = min(want, w)
		}
		if got := s.push(v); got != want {
			t.Fatalf("push %d: min = %v, want %v", i, got, want)
		}
	}
}
