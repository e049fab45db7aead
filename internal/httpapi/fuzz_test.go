package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// FuzzLastEventID replays a job's event stream to a client that reconnects
// with an arbitrary Last-Event-ID. The stream must never panic, never echo
// the header, and hold well-formed events whose ids are the job's version:
// none when the client has seen that version, a status and a progress
// event when it has not.
func FuzzLastEventID(f *testing.F) {
	for _, c := range []struct {
		id      string
		version int64
		status  uint8
	}{
		{"", 1, 0}, {"3", 3, 2}, {"3", 4, 1}, {"0", 0, 2}, {"-1", 0, 3},
		{"9223372036854775807", 9, 4}, {"9223372036854775808", 9, 2}, {" 5", 7, 2},
		{"5\nevent: status\ndata: {}", 7, 2}, {"0x10", 16, 3}, {"+2", 1, 0},
	} {
		f.Add(c.id, c.version, c.status)
	}
	statuses := []echogen.JobStatus{echogen.JobQueued, echogen.JobRunning, echogen.JobSucceeded, echogen.JobFailed, echogen.JobCancelled}
	s := &Server{}
	// A cancelled context: a job still running sends what it has and stops
	// at once instead of waiting for a change.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	created := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, lastEventID string, version int64, status uint8) {
		j := &echogen.Job{
			ID: "podcast_generation_0123456789ab", Type: echogen.PodcastGenerationType, Status: statuses[int(status)%len(statuses)],
			Payload: map[string]any{"text": "x"}, Progress: echogen.Progress{Stage: "script", Percent: 40, Message: "Writing"},
			Version: version, CreatedAt: created, UpdatedAt: created,
		}
		var out bytes.Buffer
		s.streamJob(ctx, j, nil, lastEventID, newEventWriter(&out))

		// An id that is not a decimal number counts as none; one out of
		// range as the largest (or smallest) there is.
		seen, err := strconv.ParseInt(lastEventID, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			seen = 0
		}
		want := 0
		if version > seen {
			want = 2
		}
		stream := out.String()
		events := strings.Split(strings.TrimSuffix(stream, "\n\n"), "\n\n")
		if stream == "" {
			events = nil
		}
		if len(events) != want || (want > 0 && !strings.HasSuffix(stream, "\n\n")) {
			t.Fatalf("Last-Event-ID %q, version %d: %d events, want %d:\n%s", lastEventID, version, len(events), want, stream)
		}
		wantID := "id: " + strconv.FormatInt(version, 10)
		for i, ev := range events {
			lines := strings.Split(ev, "\n")
			if len(lines) != 3 || lines[0] != wantID || !strings.HasPrefix(lines[1], "event: ") || !strings.HasPrefix(lines[2], "data: ") {
				t.Fatalf("Last-Event-ID %q: malformed event %d:\n%s", lastEventID, i, ev)
			}
			if name := strings.TrimPrefix(lines[1], "event: "); name != []string{"status", "progress"}[i] {
				t.Fatalf("event %d is %q", i, name)
			}
			if !json.Valid([]byte(strings.TrimPrefix(lines[2], "data: "))) {
				t.Fatalf("event %d carries invalid JSON: %s", i, lines[2])
			}
		}
	})
}
