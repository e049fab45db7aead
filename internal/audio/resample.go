package audio

import (
	"math"
)

// The resampler's low-pass filter: flat to within a few thousandths of a
// dB up to 90 % of the lower Nyquist frequency, at least 90 dB down from
// that Nyquist frequency on, so nothing aliases audibly.
const (
	resamplePassband    = 0.90
	resampleAttenuation = 90.0 // dB
	// maxPhases bounds the coefficient table: rates as odd as 44101 Hz
	// would need tens of thousands of filter phases. Past it, the taps for
	// an output time are interpolated between the two nearest of
	// maxPhases+1 evenly spaced phases, which keeps a provider's odd rate
	// from costing minutes of CPU (computing every phase afresh did).
	maxPhases = 1024
)

// resample converts x from rate from to rate to by band-limited (Kaiser-
// windowed sinc) interpolation. The output lasts as long as the input:
// ceil(len(x)·to/from) samples.
func resample(x []float32, from, to int) []float32 {
	if from == to || len(x) == 0 {
		return x
	}
	r := newResampler(from, to)
	n := (int64(len(x))*int64(r.up) + int64(r.down) - 1) / int64(r.down)
	out := make([]float32, n)
	// Padding the input with zeros spares the inner loop the edges.
	padded := make([]float32, len(x)+2*r.half)
	copy(padded[r.half:], x)
	coefs := make([]float64, 2*r.half)
	for i := range out {
		// Output sample i falls at input time t = i·down/up = pos + phase/up.
		pos, phase := i*r.down/r.up, i*r.down%r.up
		h := r.phase(phase, coefs)
		// The taps cover input samples pos-half+1 … pos+half.
		window := padded[pos+1 : pos+1+2*r.half]
		var acc float64
		for k, c := range h {
			acc += c * float64(window[k])
		}
		out[i] = float32(acc)
	}
	return out
}

// resampler holds the polyphase filter converting between two rates whose
// ratio is up/down in lowest terms.
type resampler struct {
	up, down int
	half     int     // taps on each side of the output time, in input samples
	cutoff   float64 // of the low-pass, as a fraction of the input's Nyquist frequency
	beta     float64 // Kaiser window shape
	phases   int     // rows of table: up, or maxPhases+1 when rounded
	table    []float64
}

func newResampler(from, to int) *resampler {
	g := gcd(from, to)
	r := &resampler{up: to / g, down: from / g}
	// Relative to the input's Nyquist frequency, the output band ends at
	// rho; the transition band runs from resamplePassband·rho to rho.
	rho := min(1, float64(to)/float64(from))
	r.cutoff = rho * (1 + resamplePassband) / 2
	transition := rho * (1 - resamplePassband) / 2 // cycles per input sample
	// Kaiser's formulas for the window's shape and length.
	r.beta = 0.1102 * (resampleAttenuation - 8.7)
	length := (resampleAttenuation - 8) / (2.285 * 2 * math.Pi * transition)
	r.half = int(math.Ceil(length / 2))
	steps := r.up // the table's phases are p/steps of an input sample
	r.phases = r.up
	if r.up > maxPhases {
		steps, r.phases = maxPhases, maxPhases+1
	}
	r.table = make([]float64, r.phases*2*r.half)
	for p := range r.phases {
		r.compute(float64(p)/float64(steps), r.table[p*2*r.half:(p+1)*2*r.half])
	}
	return r
}

// phase returns the taps for output times phase/up past an input sample:
// a row of the table, or, past maxPhases, a blend of the two nearest rows
// written into scratch.
func (r *resampler) phase(phase int, scratch []float64) []float64 {
	n := 2 * r.half
	if r.phases == r.up {
		return r.table[phase*n : (phase+1)*n]
	}
	at := float64(phase) * maxPhases / float64(r.up)
	i := int(at)
	w := at - float64(i)
	lo, hi := r.table[i*n:(i+1)*n], r.table[(i+1)*n:(i+2)*n]
	for k := range scratch {
		scratch[k] = lo[k] + w*(hi[k]-lo[k])
	}
	return scratch
}

// compute fills h with the taps for an output time frac of an input
// sample past the last one, normalised to unit gain at 0 Hz so that no
// phase is louder than another.
func (r *resampler) compute(frac float64, h []float64) {
	var sum float64
	for k := range h {
		// Tap k weighs input sample pos-half+1+k, d input samples from the output time.
		d := frac + float64(r.half-1-k)
		h[k] = r.cutoff * sinc(r.cutoff*d) * kaiser(d/float64(r.half), r.beta)
		sum += h[k]
	}
	for k := range h {
		h[k] /= sum
	}
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// kaiser is the Kaiser window at x in [-1, 1].
func kaiser(x, beta float64) float64 {
	if x <= -1 || x >= 1 {
		return 0
	}
	return besselI0(beta*math.Sqrt(1-x*x)) / besselI0(beta)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; term > 1e-12*sum; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
