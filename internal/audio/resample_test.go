package audio

import (
	"math"
	"math/cmplx"
	"strconv"
	"testing"
)

// tone fits a sine at hz to x (sampled at sr) and returns its amplitude,
// its frequency, estimated from the phase drift between the two halves,
// and how far below it the rest of x is, in dB.
func tone(x []float64, sr int, hz float64) (amplitude, freq, residualDB float64) {
	project := func(x []float64, offset int) complex128 {
		var sum complex128
		for i, v := range x {
			sum += complex(v, 0) * cmplx.Exp(complex(0, -2*math.Pi*hz*float64(i+offset)/float64(sr)))
		}
		return sum * complex(2/float64(len(x)), 0)
	}
	whole := project(x, 0)
	half := len(x) / 2
	first, second := project(x[:half], 0), project(x[half:2*half], half)
	drift := cmplx.Phase(second / first)
	freq = hz + drift/(2*math.Pi*float64(half)/float64(sr))
	var residual, signal float64
	for i, v := range x {
		fit := real(whole * cmplx.Exp(complex(0, 2*math.Pi*hz*float64(i)/float64(sr))))
		residual += (v - fit) * (v - fit)
		signal += fit * fit
	}
	return cmplx.Abs(whole), freq, 10 * math.Log10(residual/signal)
}

func TestResample(t *testing.T) {
	tests := []struct {
		from int
		hz   float64
	}{
		{22050, 1000},
		{44100, 1000},
		{48000, 1000},
		{16000, 1000},
		{8000, 1000},
		{11111, 1000}, // no common factor with 24000: phases computed as needed
		{24000, 1000},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.from)+" Hz", func(t *testing.T) {
			const amplitude = 0.5
			in := sine(tt.from, tt.hz, amplitude, 0.3, 2)
			x := make([]float32, len(in))
			for i, v := range in {
				x[i] = float32(v)
			}
			out := resample(x, tt.from, rate)
			if want := (len(x)*rate + tt.from - 1) / tt.from; len(out) != want {
				t.Fatalf("%d samples out, want %d", len(out), want)
			}
			// Away from the edges, where the filter sees zeros.
			y := make([]float64, 0, len(out))
			for _, v := range out[rate/4 : len(out)-rate/4] {
				y = append(y, float64(v))
			}
			a, f, residual := tone(y, rate, tt.hz)
			if db := 20 * math.Log10(a/amplitude); math.Abs(db) > 0.1 {
				t.Errorf("amplitude changed by %.3f dB", db)
			}
			if math.Abs(f-tt.hz) > 0.01 {
				t.Errorf("frequency = %.4f Hz, want %v", f, tt.hz)
			}
			t.Logf("amplitude %+.4f dB, frequency %.5f Hz, residual %.1f dB", 20*math.Log10(a/amplitude), f, residual)
			if residual > -80 {
				t.Errorf("noise and distortion only %.1f dB below the tone", residual)
			}
		})
	}

	t.Run("no aliasing of a 15 kHz tone from 44.1 kHz", func(t *testing.T) {
		in := sine(44100, 15000, 1, 0, 1)
		x := make([]float32, len(in))
		for i, v := range in {
			x[i] = float32(v)
		}
		out := resample(x, 44100, rate)
		var energy float64
		middle := out[rate/4 : len(out)-rate/4]
		for _, v := range middle {
			energy += float64(v) * float64(v)
		}
		rms := math.Sqrt(energy / float64(len(middle)))
		db := 20 * math.Log10(rms/math.Sqrt(0.5))
		t.Logf("attenuated by %.1f dB", -db)
		if db > -40 {
			t.Errorf("the tone is only %.1f dB down", db)
		}
	})
}
