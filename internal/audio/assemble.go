package audio

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/echogen/server/internal/echogen"
)

// Defaults of an AssembleRequest's zero fields.
const (
	defaultTargetLUFS  = -16.0
	defaultMaxTruePeak = -1.0
)

// blockSamples is how much audio each pass handles at a time, and how
// often they look at their context.
const blockSamples = 16 << 10

// Assemble joins the turns with gaps into one episode, normalises its
// loudness when asked and encodes it into w.
//
// It makes two passes. The first joins the turns into a temporary 16-bit
// file while measuring the integrated loudness; the second reads it back,
// applies the gain and the true-peak limiter, measures the result and
// streams it into the encoder. Memory use does not grow with the episode.
func (e *Engine) Assemble(ctx context.Context, req echogen.AssembleRequest, w io.Writer) (*echogen.AssembleResult, error) {
	if err := checkRequest(&req); err != nil {
		return nil, err
	}
	enc, err := e.chooseEncoding(req.Format, req.Bitrate)
	if err != nil {
		return nil, err
	}
	pcm, err := os.CreateTemp(e.tempDir, "echogen-episode-*.pcm")
	if err != nil {
		return nil, fmt.Errorf("creating the episode's temporary file: %w", err)
	}
	defer func() {
		pcm.Close()
		os.Remove(pcm.Name())
	}()

	j, err := join(ctx, req, pcm)
	if err != nil {
		return nil, err
	}
	res := &echogen.AssembleResult{
		Format:      enc.format,
		ContentType: enc.contentType,
		Encoder:     enc.encoder,
		Bitrate:     enc.bitrate,
		Samples:     j.samples,
		Turns:       j.turns,
		InputLUFS:   reportedLUFS(j.loudness),
		Note:        enc.note,
	}
	tags := req.Tags
	if len(req.Chapters) > 0 {
		res.Chapters = chapterTimes(req.Chapters, j.turns, j.samples)
		tags.Chapters = res.Chapters
	} else {
		res.Chapters = tags.Chapters
	}

	var lim *limiter
	if req.Normalize && !math.IsInf(j.loudness, -1) { // silence gets no gain
		ceiling := req.MaxTruePeak - enc.headroom()
		newLim := func() *limiter { return newLimiter(echogen.SampleRate, ceiling) }
		if res.GainDB, err = fitGain(ctx, pcm, j, req.TargetLUFS, ceiling, newLim); err != nil {
			return nil, err
		}
		lim = newLim()
	}

	if _, err := pcm.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewinding the episode's temporary file: %w", err)
	}
	out, err := e.openSink(ctx, enc, j.samples, tags, w)
	if err != nil {
		return nil, fmt.Errorf("starting the %s encoder: %w", enc.encoder, err)
	}
	loudness, peak, err := render(ctx, pcm, math.Pow(10, res.GainDB/20), lim, out)
	if err != nil {
		out.Abort()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("encoding the episode: %w", err)
	}
	if err := out.Close(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("encoding the episode: %w", err)
	}
	res.OutputLUFS, res.TruePeak = reportedLUFS(loudness), reportedDBTP(peak)
	return res, nil
}

// checkRequest validates req and fills in its defaults.
func checkRequest(req *echogen.AssembleRequest) error {
	bad := func(format string, args ...any) error {
		return echogen.Errorf(echogen.KindBadRequest, "bad_assembly", format, args...)
	}
	switch {
	case req.Turns <= 0:
		return bad("an episode needs at least one turn")
	case req.OpenTurn == nil:
		return errors.New("audio: AssembleRequest.OpenTurn is nil")
	case req.GapMs < 0:
		return bad("the gap between turns (%d ms) is negative", req.GapMs)
	case len(req.Chapters) > maxChapters:
		return bad("%d chapters are more than the %d an episode can have", len(req.Chapters), maxChapters)
	}
	for i, c := range req.Chapters {
		if c.FirstTurn < 0 || c.FirstTurn >= req.Turns {
			return bad("chapter %q starts at turn %d, but the episode has turns 0 to %d", c.Title, c.FirstTurn, req.Turns-1)
		}
		if i > 0 && c.FirstTurn <= req.Chapters[i-1].FirstTurn {
			return bad("chapter %q starts at turn %d, not after the previous chapter's turn %d", c.Title, c.FirstTurn, req.Chapters[i-1].FirstTurn)
		}
	}
	if req.TargetLUFS == 0 {
		req.TargetLUFS = defaultTargetLUFS
	}
	if req.MaxTruePeak == 0 {
		req.MaxTruePeak = defaultMaxTruePeak
	}
	return nil
}

// joined is what the first pass learnt.
type joined struct {
	samples  int64
	turns    []echogen.TurnSpan
	loudness float64 // integrated, LUFS; −∞ for silence
	peak     float64 // true peak, dBTP
}

// join is the first pass: it copies the turns' samples, with GapMs of
// silence between turns, to out, measuring their loudness on the way.
func join(ctx context.Context, req echogen.AssembleRequest, out io.Writer) (*joined, error) {
	j := &joined{turns: make([]echogen.TurnSpan, 0, req.Turns)}
	m := &measurer{meter: newMeter(echogen.SampleRate)}
	bw := bufio.NewWriterSize(out, 256<<10)
	buf := make([]byte, 2*blockSamples)
	x := make([]float64, blockSamples)
	gap := int64(req.GapMs) * echogen.SampleRate / 1000
	for i := range req.Turns {
		if i > 0 {
			if err := writeSilence(bw, m, gap, buf, x); err != nil {
				return nil, fmt.Errorf("writing the episode's temporary file: %w", err)
			}
			j.samples += gap
		}
		n, err := copyTurn(ctx, req.OpenTurn, i, bw, m, buf, x)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, fmt.Errorf("turn %d: %w", i, err)
		}
		j.turns = append(j.turns, echogen.TurnSpan{Start: j.samples, End: j.samples + n})
		j.samples += n
	}
	if j.samples > maxWAVSamples {
		return nil, echogen.Errorf(echogen.KindBadRequest, "episode_too_long", "the episode lasts %.0f hours, more than one file can hold", float64(j.samples)/echogen.SampleRate/3600)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing the episode's temporary file: %w", err)
	}
	m.peak.finish()
	j.loudness, j.peak = m.meter.integrated(), m.peak.dBTP()
	return j, nil
}

// measurer measures loudness and true peak together.
type measurer struct {
	meter *meter
	peak  peakMeter
}

func (m *measurer) add(x []float64) {
	m.meter.add(x)
	m.peak.add(x)
}

// copyTurn copies the samples of turn i to w and m, returning how many
// there were. buf and x are scratch space of blockSamples.
func copyTurn(ctx context.Context, open func(context.Context, int) (io.ReadCloser, error), i int, w io.Writer, m *measurer, buf []byte, x []float64) (int64, error) {
	rc, err := open(ctx, i)
	if err != nil {
		return 0, fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	samples, err := readCanonicalHeader(rc)
	if err != nil {
		return 0, err
	}
	for left := samples; left > 0; {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n := min(left, blockSamples)
		if got, err := io.ReadFull(rc, buf[:2*n]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, fmt.Errorf("the WAV ends %d samples short of the %d its header announces", left-int64(got/2), samples)
			}
			return 0, fmt.Errorf("reading: %w", err)
		}
		m.add(pcmToFloat(buf[:2*n], x))
		if _, err := w.Write(buf[:2*n]); err != nil {
			return 0, fmt.Errorf("writing the episode's temporary file: %w", err)
		}
		left -= n
	}
	return samples, nil
}

// writeSilence writes n samples of silence to w and m, using buf and x
// as scratch space.
func writeSilence(w io.Writer, m *measurer, n int64, buf []byte, x []float64) error {
	clear(buf)
	for n > 0 {
		k := min(n, int64(len(x)))
		if _, err := w.Write(buf[:2*k]); err != nil {
			return err
		}
		m.add(pcmToFloat(buf[:2*k], x))
		n -= k
	}
	return nil
}

// Fitting the gain to the limiter.
const (
	fitTolerance = 0.1 // LU
	maxFitRuns   = 4
	maxMakeup    = 6.0 // dB: beyond this the limiter is crushing the audio anyway
	// firstSlope is what the first correction assumes loudness gains per
	// dB of gain: speech that the limiter has started to squash gains
	// about 0.4 to 0.6 LU.
	firstSlope = 0.6
)

// fitGain returns the gain, in dB, that brings the joined episode in pcm
// to target LUFS through the limiters newLim makes. Where the limiter acts
// it takes loudness away, so when the plain gain would lift true peaks
// past the ceiling, dry runs of the second pass measure what the limiter
// leaves, and the gain grows to make up for it by the secant method.
func fitGain(ctx context.Context, pcm io.ReadSeeker, j *joined, target, ceiling float64, newLim func() *limiter) (float64, error) {
	plain := target - j.loudness
	if j.peak+plain <= ceiling {
		return plain, nil // the limiter will not touch it
	}
	gain, best, bestMiss := plain, plain, math.Inf(1)
	var prevGain, prevLoudness float64
	for run := range maxFitRuns {
		if _, err := pcm.Seek(0, io.SeekStart); err != nil {
			return 0, fmt.Errorf("rewinding the episode's temporary file: %w", err)
		}
		loudness, _, err := render(ctx, pcm, math.Pow(10, gain/20), newLim(), nil)
		if err != nil {
			return 0, err
		}
		miss := target - loudness
		if math.Abs(miss) < bestMiss {
			best, bestMiss = gain, math.Abs(miss)
		}
		if math.Abs(miss) <= fitTolerance {
			break
		}
		slope := firstSlope
		if run > 0 {
			// Loudness never falls as gain rises; a flat curve means the
			// limiter takes all there is to add.
			slope = max((loudness-prevLoudness)/(gain-prevGain), 0.1)
		}
		prevGain, prevLoudness = gain, loudness
		gain = min(gain+miss/slope, plain+maxMakeup)
	}
	return best, nil
}

// render is the second pass: it reads the joined episode from r, applies
// gain and the limiter lim (none when nil), and writes the result to out,
// returning its integrated loudness and true peak (linear). With out nil,
// it is a dry run that only measures loudness.
func render(ctx context.Context, r io.Reader, gain float64, lim *limiter, out io.Writer) (loudness, peak float64, err error) {
	m := newMeter(echogen.SampleRate)
	var pm peakMeter
	in := make([]byte, 2*blockSamples)
	x := make([]float64, blockSamples)
	y := make([]float64, 0, blockSamples)
	outBuf := make([]byte, 0, 2*blockSamples)
	emit := func(y []float64) error {
		if out == nil {
			m.add(y)
			return nil
		}
		outBuf = outBuf[:0]
		for i, v := range y {
			s := toInt16(v)
			y[i] = float64(s) / (1 << 15) // measure what is written
			outBuf = binary.LittleEndian.AppendUint16(outBuf, uint16(s))
		}
		m.add(y)
		pm.add(y)
		_, err := out.Write(outBuf)
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		n, err := io.ReadFull(r, in)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, 0, fmt.Errorf("reading the episode's temporary file: %w", err)
		}
		done := err != nil
		block := pcmToFloat(in[:n], x)
		for i := range block {
			block[i] *= gain
		}
		if lim != nil {
			y = lim.process(block, y[:0])
			if done {
				y = lim.finish(y)
			}
		} else {
			y = block
		}
		if err := emit(y); err != nil {
			return 0, 0, err
		}
		if done {
			break
		}
	}
	pm.finish()
	return m.integrated(), pm.peak, nil
}

// pcmToFloat converts 16-bit little-endian samples to [-1, 1] in x,
// which must be long enough, and returns the part of x it filled.
func pcmToFloat(b []byte, x []float64) []float64 {
	x = x[:len(b)/2]
	for i := range x {
		x[i] = float64(int16(binary.LittleEndian.Uint16(b[2*i:]))) / (1 << 15)
	}
	return x
}

// chapterTimes places the chapters at the real starts of their first
// turns; each ends where the next begins, the last with the episode.
func chapterTimes(marks []echogen.ChapterMark, turns []echogen.TurnSpan, samples int64) []echogen.Chapter {
	chapters := make([]echogen.Chapter, len(marks))
	for i, mark := range marks {
		end := samples
		if i+1 < len(marks) {
			end = turns[marks[i+1].FirstTurn].Start
		}
		chapters[i] = echogen.Chapter{
			Title: mark.Title,
			Start: float64(turns[mark.FirstTurn].Start) / echogen.SampleRate,
			End:   float64(end) / echogen.SampleRate,
		}
	}
	return chapters
}

// reportedLUFS and reportedDBTP put floors under −∞.
func reportedLUFS(l float64) float64 { return max(l, SilenceLUFS) }

func reportedDBTP(linear float64) float64 { return max(20*math.Log10(linear), SilenceDBTP) }
