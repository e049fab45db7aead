package audio

import (
	"math"
)

// Loudness and true peak after ITU-R BS.1770-4 (EBU R128), for one channel.

// Finite stand-ins for the −∞ of silence, so results stay comparable and
// JSON-encodable.
const (
	// SilenceLUFS is reported for audio with no block above the absolute
	// gate: integrated loudness is never measured below it.
	SilenceLUFS = -70.0
	// SilenceDBTP is reported as the true peak of digital silence.
	SilenceDBTP = -120.0
)

const (
	blockSeconds    = 0.4 // gating block
	subBlocks       = 4   // 75 % overlap: a block every 100 ms
	absoluteGate    = -70 // LUFS
	relativeGate    = -10 // LU below the loudness of the blocks above the absolute gate
	loudnessCorrect = -0.691
)

// meter measures integrated loudness. It keeps the K-weighted energy of
// every 100 ms, not the samples: an hour costs 288 kB.
type meter struct {
	stage1, stage2 biquad
	step           int       // samples per 100 ms
	energy         float64   // of the sub-block being filled
	filled         int       // samples in it
	sub            []float64 // energies of the finished sub-blocks
}

func newMeter(rate int) *meter {
	shelf, highPass := kWeighting(float64(rate))
	return &meter{stage1: shelf, stage2: highPass, step: int(math.Round(blockSeconds / subBlocks * float64(rate)))}
}

// add measures the next samples, in [-1, 1].
func (m *meter) add(x []float64) {
	for _, v := range x {
		y := m.stage2.filter(m.stage1.filter(v))
		m.energy += y * y
		if m.filled++; m.filled == m.step {
			m.sub = append(m.sub, m.energy)
			m.energy, m.filled = 0, 0
		}
	}
}

// integrated returns the gated integrated loudness in LUFS, or −∞ when no
// 400 ms block is above the absolute gate (silence, or under 400 ms).
func (m *meter) integrated() float64 {
	blocks := make([]float64, 0, max(0, len(m.sub)-subBlocks+1))
	for i := 0; i+subBlocks <= len(m.sub); i++ {
		var e float64
		for _, s := range m.sub[i : i+subBlocks] {
			e += s
		}
		blocks = append(blocks, e/float64(subBlocks*m.step))
	}
	mean := func(threshold float64) float64 {
		var sum float64
		var n int
		for _, b := range blocks {
			if b > threshold {
				sum += b
				n++
			}
		}
		if n == 0 {
			return 0
		}
		return sum / float64(n)
	}
	ungated := mean(energyOf(absoluteGate))
	if ungated == 0 {
		return math.Inf(-1)
	}
	return lufs(mean(energyOf(lufs(ungated) + relativeGate)))
}

// lufs converts a mean square of K-weighted samples to LUFS.
func lufs(meanSquare float64) float64 { return loudnessCorrect + 10*math.Log10(meanSquare) }

// energyOf is the mean square of a block as loud as l LUFS.
func energyOf(l float64) float64 { return math.Pow(10, (l-loudnessCorrect)/10) }

// kWeighting returns the two stages of the K-weighting filter, a high
// shelf modelling the head and a high-pass, designed for rate by the
// bilinear transform of their analogue prototypes (which reproduces
// BS.1770's coefficients at 48 kHz).
func kWeighting(rate float64) (shelf, highPass biquad) {
	const (
		shelfHz   = 1681.974450955533
		shelfGain = 3.999843853973347 // dB
		shelfQ    = 0.7071752369554196
		passHz    = 38.13547087602444
		passQ     = 0.5003270373238773
	)
	k := math.Tan(math.Pi * shelfHz / rate)
	vh := math.Pow(10, shelfGain/20)
	vb := math.Pow(vh, 0.4996667741545416)
	a0 := 1 + k/shelfQ + k*k
	shelf = biquad{
		b0: (vh + vb*k/shelfQ + k*k) / a0,
		b1: 2 * (k*k - vh) / a0,
		b2: (vh - vb*k/shelfQ + k*k) / a0,
		a1: 2 * (k*k - 1) / a0,
		a2: (1 - k/shelfQ + k*k) / a0,
	}
	k = math.Tan(math.Pi * passHz / rate)
	a0 = 1 + k/passQ + k*k
	highPass = biquad{
		b0: 1, b1: -2, b2: 1,
		a1: 2 * (k*k - 1) / a0,
		a2: (1 - k/passQ + k*k) / a0,
	}
	return shelf, highPass
}

// biquad is a second-order IIR filter in transposed direct form II.
type biquad struct {
	b0, b1, b2, a1, a2 float64
	z1, z2             float64
}

func (f *biquad) filter(x float64) float64 {
	y := f.b0*x + f.z1
	f.z1 = f.b1*x - f.a1*y + f.z2
	f.z2 = f.b2*x - f.a2*y
	return y
}

// The interpolator of BS.1770-4 Annex 2: a 48-tap FIR filter in four
// phases of 12, oversampling four times. Phase p's taps are listed for the
// newest sample first.
var truePeakPhases = [4][12]float64{
	{0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875, 0.1373291015625,
		0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500},
	{-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500, 0.4650878906250,
		0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375},
	{-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125, 0.7797851562500,
		0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000, 0.0292968750000, -0.0291748046875},
	{-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750, 0.9721679687500,
		0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125, 0.0109863281250, 0.0017089843750},
}

// truePeakDelay is how many samples the interpolator lags: the values it
// computes when sample n arrives lie between samples n-6 and n-5.
const truePeakDelay = 6

// oversampler interpolates a stream four times, one sample at a time.
type oversampler struct {
	// hist holds the last 12 samples twice over, so that hist[pos:pos+12]
	// is always the window, oldest first, without copying.
	hist [24]float64
	pos  int
}

// interpolationGain bounds the interpolator's output relative to its
// input: the largest sum of a phase's absolute taps is 2.02. A window whose
// samples are all below some level times 1/interpolationGain cannot
// produce a value above that level, which lets meters skip the filter.
const interpolationGain = 2.03

// push takes the next sample.
func (o *oversampler) push(x float64) {
	o.hist[o.pos], o.hist[o.pos+12] = x, x
	if o.pos++; o.pos == 12 {
		o.pos = 0
	}
}

// peak returns the largest magnitude among the four values interpolated
// between the samples truePeakDelay and truePeakDelay-1 back.
func (o *oversampler) peak() float64 {
	w := (*[12]float64)(o.hist[o.pos : o.pos+12])
	var peak float64
	for p := range truePeakPhases {
		h := &truePeakPhases[p]
		var y float64
		for k := range 12 {
			y += h[11-k] * w[k]
		}
		peak = max(peak, math.Abs(y))
	}
	return peak
}

// peakMeter measures the true peak of a stream.
type peakMeter struct {
	o    oversampler
	peak float64 // linear
	// quiet counts the samples since the last one that could lift an
	// interpolated value above peak.
	quiet int
}

func (p *peakMeter) add(x []float64) {
	for _, v := range x {
		p.o.push(v)
		a := math.Abs(v)
		p.peak = max(p.peak, a)
		if a*interpolationGain > p.peak {
			p.quiet = 0
		} else if p.quiet++; p.quiet >= 12 {
			continue
		}
		p.peak = max(p.peak, p.o.peak())
	}
}

// finish measures the peaks between the last samples, which the
// interpolator has not reached yet.
func (p *peakMeter) finish() {
	var zeros [truePeakDelay]float64
	p.add(zeros[:])
}

// dBTP returns the true peak in dB relative to full scale, or −∞ for
// silence.
func (p *peakMeter) dBTP() float64 { return 20 * math.Log10(p.peak) }
