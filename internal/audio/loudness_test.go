package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestIntegratedLoudness(t *testing.T) {
	concat := func(parts ...[]float64) []float64 {
		var x []float64
		for _, p := range parts {
			x = append(x, p...)
		}
		return x
	}
	noise := func(db, seconds float64) []float64 {
		r := rand.New(rand.NewPCG(1, 2))
		x := make([]float64, int(seconds*rate))
		for i := range x {
			x[i] = dbfs(db) * (2*r.Float64() - 1)
		}
		return x
	}
	tests := []struct {
		name string
		rate int
		x    []float64
		want float64 // LUFS; −∞ for none
	}{
		{"997 Hz at 0 dBFS", rate, sine(rate, 997, 1, 0, 10), -3.01},
		{"997 Hz at -20 dBFS", rate, sine(rate, 997, dbfs(-20), 0, 10), -23.01},
		{"997 Hz at -20 dBFS, 48 kHz", 48000, sine(48000, 997, dbfs(-20), 0, 10), -23.01},
		{"997 Hz at -20 dBFS, 44.1 kHz", 44100, sine(44100, 997, dbfs(-20), 0, 10), -23.01},
		// Gating: the near-silence is under the absolute gate, and the
		// quiet tone 30 dB down under the relative one.
		{"a tone then near-silence", rate, concat(sine(rate, 997, dbfs(-20), 0, 10), noise(-90, 20)), -23.01},
		{"a tone then a much quieter tone", rate, concat(sine(rate, 997, dbfs(-20), 0, 10), sine(rate, 997, dbfs(-50), 0, 10)), -23.01},
		// Two tones 6 dB apart, equally long, are both above the relative
		// gate: their energies average.
		{"two tones 6 dB apart", rate, concat(sine(rate, 997, dbfs(-20), 0, 10), sine(rate, 997, dbfs(-26), 0, 10)), -23.01 + 10*math.Log10((1+math.Pow(10, -0.6))/2)},
		{"digital silence", rate, make([]float64, 5*rate), math.Inf(-1)},
		{"shorter than a block", rate, sine(rate, 997, 1, 0, 0.3), math.Inf(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMeter(tt.rate)
			// In uneven pieces, as streams arrive.
			for x := tt.x; len(x) > 0; {
				n := min(len(x), 1000+len(x)%777)
				m.add(x[:n])
				x = x[n:]
			}
			got := m.integrated()
			if math.IsInf(tt.want, -1) {
				if !math.IsInf(got, -1) {
					t.Errorf("integrated = %.2f LUFS, want -Inf", got)
				}
				return
			}
			if math.Abs(got-tt.want) > 0.1 {
				t.Errorf("integrated = %.3f LUFS, want %.2f ± 0.1", got, tt.want)
			}
		})
	}
}

// TestKWeighting48k checks the filter design against the coefficients
// BS.1770-4 tabulates for 48 kHz.
func TestKWeighting48k(t *testing.T) {
	shelf, pass := kWeighting(48000)
	got := []float64{shelf.b0, shelf.b1, shelf.b2, shelf.a1, shelf.a2, pass.a1, pass.a2}
	want := []float64{1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585, -1.99004745483398, 0.99007225036621}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-8 {
			t.Errorf("coefficient %d = %.14f, want %.14f", i, got[i], want[i])
		}
	}
}

func TestTruePeak(t *testing.T) {
	tests := []struct {
		name             string
		x                []float64
		wantMin, wantMax float64 // dBTP
	}{
		// Samples at ±0.707 of a full-scale sine: the peaks fall between them.
		{"fs/4 sine, 45° off", sine(rate, rate/4, 1, math.Pi/4, 1), -0.3, 0.1},
		{"fs/4 sine on the samples", sine(rate, rate/4, 1, 0, 1), -0.1, 0.1},
		{"997 Hz at -6 dBFS", sine(rate, 997, dbfs(-6), 0, 1), -6.1, -5.9},
		{"a single sample", append(make([]float64, 100), 0.5), -6.1, -5.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p peakMeter
			p.add(tt.x)
			p.finish()
			if got := p.dBTP(); got < tt.wantMin || got > tt.wantMax {
				t.Errorf("true peak = %.3f dBTP, want %.1f to %.1f", got, tt.wantMin, tt.wantMax)
			}
		})
	}

	t.Run("exceeds the sample peak", func(t *testing.T) {
		x := sine(rate, rate/4, dbfs(-3), math.Pi/4, 1)
		var samplePeak float64
		for _, v := range x {
			samplePeak = max(samplePeak, math.Abs(v))
		}
		var p peakMeter
		p.add(x)
		if got, sp := p.dBTP(), 20*math.Log10(samplePeak); got < sp+2.5 {
			t.Errorf("true peak %.2f dBTP is not clearly above the sample peak %.2f dBFS", got, sp)
		}
	})

	t.Run("skipping quiet stretches changes nothing", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		x := make([]float64, 50000)
		for i := range x {
			x[i] = r.NormFloat64() * (0.05 + 0.3*math.Abs(math.Sin(float64(i)/3000)))
		}
		var p peakMeter
		p.add(x)
		var o oversampler
		var want float64
		for _, v := range x {
			o.push(v)
			want = max(want, math.Abs(v), o.peak())
		}
		if p.peak != want {
			t.Errorf("peak = %v, want %v as without skipping", p.peak, want)
		}
	})
}
