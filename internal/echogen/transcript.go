package echogen

import (
	"encoding/json"
	"fmt"
	"strings"
)

// cueTime formats seconds as HH:MM:SS.mmm, with sep before the
// milliseconds ("." for WebVTT, "," for SRT).
func cueTime(seconds float64, sep string) string {
	ms := int64(seconds*1000 + 0.5)
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, sep, ms%1000)
}

func timed(s Segment) (start, end float64) {
	if s.StartTime != nil {
		start = *s.StartTime
	}
	if s.EndTime != nil {
		end = *s.EndTime
	}
	return start, end
}

// WebVTT renders a timed script as a WebVTT transcript, one cue per turn
// with the speaker as its voice.
func WebVTT(segs []Segment) string {
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	for i, s := range segs {
		start, end := timed(s)
		fmt.Fprintf(&b, "\n%d\n%s --> %s\n<v %s>%s\n", i+1, cueTime(start, "."), cueTime(end, "."), esc.Replace(s.Speaker), esc.Replace(s.Content))
	}
	return b.String()
}

// SRT renders a timed script as SubRip subtitles, "Speaker: line" per cue.
func SRT(segs []Segment) string {
	var b strings.Builder
	for i, s := range segs {
		start, end := timed(s)
		fmt.Fprintf(&b, "%d\n%s --> %s\n%s: %s\n\n", i+1, cueTime(start, ","), cueTime(end, ","), s.Speaker, s.Content)
	}
	return b.String()
}

// TranscriptJSON is the timed script and its chapters as JSON.
func TranscriptJSON(title string, segs []Segment, chapters []Chapter) ([]byte, error) {
	if chapters == nil {
		chapters = []Chapter{}
	}
	return json.MarshalIndent(map[string]any{"title": title, "segments": segs, "chapters": chapters}, "", "  ")
}
