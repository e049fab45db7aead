package audio

import (
	"context"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

// episode returns a request for minutes of speech-like turns of 5 s each,
// normalised into an MP3. The turns repeat a dozen distinct ones, so the
// input itself takes little memory.
func episode(b *testing.B, minutes int) echogen.AssembleRequest {
	const turnSeconds, distinct, gapMs = 5, 12, 300
	wavs := speechTurns(b, distinct, turnSeconds)
	// The gaps count towards the length.
	turns := minutes * 60 * 1000 / (turnSeconds*1000 + gapMs)
	return echogen.AssembleRequest{
		Turns: turns,
		OpenTurn: func(ctx context.Context, i int) (io.ReadCloser, error) {
			return turnsOf(wavs)(ctx, i%distinct)
		},
		GapMs:     gapMs,
		Normalize: true,
		Format:    echogen.FormatMP3,
		Chapters:  []echogen.ChapterMark{{Title: "One", FirstTurn: 0}, {Title: "Two", FirstTurn: turns / 2}},
	}
}

// BenchmarkAssemble30Min assembles, normalises and encodes a 30-minute
// episode to MP3 with ffmpeg, reporting how many times faster than real
// time it goes.
func BenchmarkAssemble30Min(b *testing.B) {
	testenv.RequireTool(b, "ffmpeg", "ffmpeg")
	req := episode(b, 30)
	e := New(Options{TempDir: b.TempDir()})
	var seconds float64
	for b.Loop() {
		res, err := e.Assemble(context.Background(), req, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		seconds += res.Seconds()
	}
	b.ReportMetric(seconds/b.Elapsed().Seconds(), "x-realtime")
}

// BenchmarkAssemble60MinHeap assembles a 60-minute episode (173 MB of
// PCM) to MP3 while sampling the heap every millisecond, and reports the
// peak.
func BenchmarkAssemble60MinHeap(b *testing.B) {
	testenv.RequireTool(b, "ffmpeg", "ffmpeg")
	req := episode(b, 60)
	e := New(Options{TempDir: b.TempDir()})
	var peak uint64
	var seconds float64
	for b.Loop() {
		runtime.GC()
		stop := sampleHeap(&peak)
		res, err := e.Assemble(context.Background(), req, io.Discard)
		stop()
		if err != nil {
			b.Fatal(err)
		}
		seconds += res.Seconds()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(seconds/b.Elapsed().Seconds(), "x-realtime")
}

// sampleHeap records the largest heap (live and unswept objects) seen in
// *peak every millisecond until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			*peak = max(*peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
