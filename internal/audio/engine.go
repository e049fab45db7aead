// Package audio implements echogen.AudioEngine: it decodes what speech
// providers answer into canonical 24 kHz mono 16-bit WAVs, joins the turns
// of an episode with gaps, normalises their loudness (ITU-R BS.1770-4 /
// EBU R128) under a true-peak ceiling and encodes the result once, with
// ffmpeg or lame when installed and as WAV otherwise.
//
// Assembly streams: the joined episode goes through a temporary PCM file
// in TempDir, so memory stays bounded whatever the episode's length.
package audio

import (
	"context"
	"os"
	"os/exec"
	"sync"

	"github.com/echogen/server/internal/echogen"
)

var _ echogen.AudioEngine = (*Engine)(nil)

// Options configures an Engine.
type Options struct {
	// FFmpeg and Lame are the encoders' paths; "" looks them up on PATH
	// when the Engine is made.
	FFmpeg, Lame string
	// TempDir holds the temporary files of an assembly; "" is os.TempDir().
	TempDir string
	// DisableEncoders makes every episode a WAV, as on a machine with
	// neither ffmpeg nor lame (for tests).
	DisableEncoders bool
}

// Engine is the audio engine. It is safe for concurrent use.
type Engine struct {
	ffmpeg, lame string // "" when not installed
	tempDir      string
	disabled     bool
	// ffmpegEncoders lists the encoders the installed ffmpeg was built with;
	// asked once, on first use, since builds without libmp3lame or
	// libopus exist.
	ffmpegEncoders func() (map[string]bool, error)
}

// New returns an Engine for opts.
func New(opts Options) *Engine {
	e := &Engine{
		ffmpeg:   lookTool(opts.FFmpeg, "ffmpeg"),
		lame:     lookTool(opts.Lame, "lame"),
		tempDir:  opts.TempDir,
		disabled: opts.DisableEncoders,
	}
	if e.tempDir == "" {
		e.tempDir = os.TempDir()
	}
	e.ffmpegEncoders = sync.OnceValues(func() (map[string]bool, error) {
		return listFFmpegEncoders(context.Background(), e.ffmpeg)
	})
	return e
}

// lookTool resolves path (or name on PATH when path is empty) to an
// executable, or "" when there is none.
func lookTool(path, name string) string {
	if path == "" {
		path = name
	}
	resolved, err := exec.LookPath(path)
	if err != nil {
		return ""
	}
	return resolved
}
