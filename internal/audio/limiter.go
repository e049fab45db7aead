package audio

import (
	"math"
)

// Limiter timing.
const (
	limiterLookahead = 0.005 // seconds: the gain ramps down over this before a peak
	limiterRelease   = 0.100 // seconds: the time constant of its recovery
	// limiterSpread is how many samples either side of a peak the gain is
	// held down: the interpolator reads 12 samples around each
	// inter-sample point, and a gain that changes within them would let
	// the reconstructed peak slip past the ceiling.
	limiterSpread = 6
	// limiterMargin keeps the true peak this far under the ceiling, in dB,
	// for what the gain's own movement and rounding to 16 bits add.
	limiterMargin = 0.05
)

// limiter is a look-ahead true-peak limiter: it delays the signal and
// lowers the gain smoothly, before the fact, wherever the signal's true
// peak would pass the ceiling.
//
// The gain is the moving average, over the look-ahead, of a running
// minimum of the gain each sample needs: every sample the average covers
// has a minimum no greater than the peak's need, so the gain at a peak is
// at most what it needs, with no overshoot. An exponential release lets
// the gain recover.
type limiter struct {
	ceiling float64 // linear
	release float64 // per-sample recovery coefficient
	over    oversampler
	quiet   int     // samples since the last that could make a peak above the ceiling
	prev    float64 // the largest interpolated magnitude in the previous sample interval
	need    slidingMin
	env     float64   // the released minimum
	avg     []float64 // the moving average's window, a ring
	avgSum  float64
	avgPos  int
	delay   []float64 // the delayed signal, a ring
	delayAt int
	pending int // outputs still to drop: the signal's delay
}

// newLimiter returns a limiter holding the true peak of a signal at rate
// under ceilingDB dBTP.
func newLimiter(rate int, ceilingDB float64) *limiter {
	ahead := int(limiterLookahead * float64(rate))
	// The needed gain of sample n is known truePeakDelay samples after it
	// (the interpolator's lag), is spread over a window of ahead +
	// 2·limiterSpread samples, and the average then takes ahead - 1 more.
	latency := truePeakDelay + ahead - 1 + limiterSpread
	l := &limiter{
		ceiling: math.Pow(10, (ceilingDB-limiterMargin)/20),
		release: 1 - math.Exp(-1/(limiterRelease*float64(rate))),
		need:    newSlidingMin(ahead + 2*limiterSpread),
		env:     1,
		avg:     make([]float64, ahead),
		avgSum:  float64(ahead),
		delay:   make([]float64, latency),
		pending: latency,
	}
	for i := range l.avg {
		l.avg[i] = 1
	}
	return l
}

// process limits x and appends the result to out. Its output lags its
// input by the limiter's latency; finish emits what is still inside.
func (l *limiter) process(x, out []float64) []float64 {
	for _, v := range x {
		g := l.gain(v)
		// The sample leaving the delay line is the one g was computed for.
		y := l.delay[l.delayAt] * g
		l.delay[l.delayAt] = v
		if l.delayAt++; l.delayAt == len(l.delay) {
			l.delayAt = 0
		}
		if l.pending > 0 {
			l.pending-- // still the silence the delay line started with
			continue
		}
		out = append(out, y)
	}
	return out
}

// finish flushes the delay line, appending the last samples to out.
func (l *limiter) finish(out []float64) []float64 {
	return l.process(make([]float64, len(l.delay)), out)
}

// gain takes the next sample and returns the gain for the sample leaving
// the delay line.
func (l *limiter) gain(v float64) float64 {
	l.over.push(v)
	// The sample the interpolator has just passed, and its magnitude.
	at := l.delayAt - truePeakDelay
	if at < 0 {
		at += len(l.delay)
	}
	a := math.Abs(l.delay[at])
	var between float64
	if math.Abs(v)*interpolationGain > l.ceiling {
		l.quiet = 0
	} else {
		l.quiet++
	}
	if l.quiet < 12 {
		between = l.over.peak()
	}
	peak := max(a, l.prev, between)
	l.prev = between
	need := 1.0
	if peak > l.ceiling {
		need = l.ceiling / peak
	}
	l.env = min(l.need.push(need), l.env+(1-l.env)*l.release)
	l.avgSum += l.env - l.avg[l.avgPos]
	l.avg[l.avgPos] = l.env
	if l.avgPos++; l.avgPos == len(l.avg) {
		l.avgPos = 0
	}
	return l.avgSum / float64(len(l.avg))
}

// slidingMin is the minimum of the last width values pushed, by a
// monotonic queue: amortised constant time per value.
type slidingMin struct {
	// vals and ages are a ring, of a power-of-two size so that indices
	// wrap with a mask, holding increasing values from head on.
	vals       []float64
	ages       []int64 // when each was pushed
	mask       int
	head, n    int
	now, width int64
}

func newSlidingMin(width int) slidingMin {
	size := 1
	for size < width {
		size *= 2
	}
	return slidingMin{vals: make([]float64, size), ages: make([]int64, size), mask: size - 1, width: int64(width)}
}

// push adds v and returns the minimum of the window ending with it.
func (s *slidingMin) push(v float64) float64 {
	// Values no smaller than v can never be the minimum again.
	for s.n > 0 && s.vals[(s.head+s.n-1)&s.mask] >= v {
		s.n--
	}
	if s.n > 0 && s.ages[s.head] <= s.now-s.width {
		s.head = (s.head + 1) & s.mask
		s.n--
	}
	tail := (s.head + s.n) & s.mask
	s.vals[tail], s.ages[tail] = v, s.now
	s.n++
	s.now++
	return s.vals[s.head]
}
