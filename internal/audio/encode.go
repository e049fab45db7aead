package audio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// encoding is the plan for an episode's file: its format, what makes it
// and at what bitrate.
type encoding struct {
	format      string
	encoder     string // "ffmpeg", "lame" or "wav"
	bitrate     int    // kbps; 0 for WAV
	contentType string
	note        string // why the format is not the one asked for
}

// contentType returns the MIME type of a format's files.
func contentType(format string) string {
	switch format {
	case echogen.FormatMP3:
		return "audio/mpeg"
	case echogen.FormatM4A:
		return "audio/mp4"
	case echogen.FormatOpus:
		return "audio/ogg"
	case echogen.FormatWAV:
		return "audio/wav"
	}
	return ""
}

// ffmpegCodec returns ffmpeg's encoder for a format.
func ffmpegCodec(format string) string {
	switch format {
	case echogen.FormatMP3:
		return "libmp3lame"
	case echogen.FormatM4A:
		return "aac"
	case echogen.FormatOpus:
		return "libopus"
	}
	return ""
}

// headroom is how far below the requested true-peak ceiling the limiter
// aims for the encoding, in dB: a lossy codec's quantisation noise lifts
// the peaks of what it was given, the more the lower its bitrate. (At 64
// kbps, AAC and Opus were measured adding up to 1.7 dB to speech-like
// noise; at 128 kbps, MP3 under 0.1 dB.)
func (enc encoding) headroom() float64 {
	switch {
	case enc.format == echogen.FormatWAV:
		return 0
	case enc.bitrate >= 128:
		return 0.5
	case enc.bitrate >= 96:
		return 1
	case enc.bitrate >= 64:
		return 2
	default:
		return 2.5
	}
}

// chooseEncoding plans the file for format (mp3 when empty) at bitrate
// (the format's default when 0): with ffmpeg, or lame for MP3, or as a WAV
// with a note when neither can make it.
func (e *Engine) chooseEncoding(format string, bitrate int) (encoding, error) {
	if format == "" {
		format = echogen.FormatMP3
	}
	if contentType(format) == "" {
		return encoding{}, echogen.Errorf(echogen.KindBadRequest, "unsupported_format",
			"the audio format %q is not one of mp3, m4a, opus and wav", format)
	}
	if bitrate < 0 {
		return encoding{}, echogen.Errorf(echogen.KindBadRequest, "bad_bitrate", "the bitrate %d kbps is negative", bitrate)
	}
	if format == echogen.FormatWAV {
		return wavEncoding(""), nil
	}
	enc := encoding{format: format, contentType: contentType(format), bitrate: formatBitrate(format, bitrate)}
	if e.disabled {
		return wavEncoding(format + " was asked for, but encoders are disabled; wrote WAV"), nil
	}
	var why string
	if e.ffmpeg == "" {
		why = "ffmpeg is not installed"
	} else if codecs, err := e.ffmpegEncoders(); err != nil {
		why = "ffmpeg could not list its encoders (" + err.Error() + ")"
	} else if !codecs[ffmpegCodec(format)] {
		why = "ffmpeg lacks the " + ffmpegCodec(format) + " encoder"
	} else {
		enc.encoder = "ffmpeg"
		return enc, nil
	}
	if format == echogen.FormatMP3 {
		if e.lame != "" {
			enc.encoder = "lame"
			return enc, nil
		}
		if e.ffmpeg == "" {
			why = "neither ffmpeg nor lame is installed"
		} else {
			why += " and lame is not installed"
		}
	}
	return wavEncoding(format + " was asked for, but " + why + "; wrote WAV"), nil
}

func wavEncoding(note string) encoding {
	return encoding{format: echogen.FormatWAV, encoder: "wav", contentType: contentType(echogen.FormatWAV), note: note}
}

// formatBitrate returns the bitrate to encode format at when asked for
// kbps, within what the format allows at 24 kHz mono.
func formatBitrate(format string, kbps int) int {
	switch format {
	case echogen.FormatMP3:
		if kbps == 0 {
			return 128
		}
		// The bitrates MPEG-2 layer III allows at 24 kHz.
		allowed := [...]int{8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
		best := allowed[0]
		for _, b := range allowed {
			if abs(b-kbps) < abs(best-kbps) {
				best = b
			}
		}
		return best
	case echogen.FormatM4A:
		if kbps == 0 {
			return 96
		}
		// AAC carries at most 6144 bits per 1024-sample frame and channel.
		return min(max(kbps, 16), 144)
	default: // opus
		if kbps == 0 {
			return 48
		}
		return min(max(kbps, 6), 256)
	}
}

func abs(x int) int { return max(x, -x) }

// sink takes the episode as 16-bit PCM at echogen.SampleRate and writes
// its file.
type sink interface {
	io.Writer
	// Close finishes the file.
	Close() error
	// Abort gives up on it after a failure elsewhere.
	Abort()
}

// openSink starts making the file planned by enc, of samples samples, with
// tags, into w.
func (e *Engine) openSink(ctx context.Context, enc encoding, samples int64, tags echogen.AudioTags, w io.Writer) (sink, error) {
	if enc.encoder == "wav" {
		return newWAVSink(samples, w)
	}
	p := &processSink{name: enc.encoder, w: w, stderr: &tailBuffer{max: 2048}}
	var args []string
	var err error
	switch enc.encoder {
	case "lame":
		// lame and ffmpeg write the MP3's Info frame (its length and
		// encoder delay, for seeking and gapless play) only into a file
		// they can seek back in.
		if p.output, err = p.tempFile(e.tempDir, "mp3"); err != nil {
			return nil, err
		}
		args = []string{"-r", "-s", "24", "--bitwidth", "16", "--signed", "--little-endian", "-m", "m",
			"-b", strconv.Itoa(enc.bitrate), "--quiet", "-", p.output}
	case "ffmpeg":
		if args, err = e.ffmpegArgs(p, enc, tags); err != nil {
			p.cleanup()
			return nil, err
		}
	}
	if enc.format == echogen.FormatMP3 {
		if p.prefix, err = id3Tag(tags); err != nil {
			p.cleanup()
			return nil, err
		}
	}
	path := e.ffmpeg
	if enc.encoder == "lame" {
		path = e.lame
	}
	if err := p.start(ctx, path, args); err != nil {
		p.cleanup()
		return nil, err
	}
	return p, nil
}

// ffmpegArgs returns ffmpeg's arguments for enc, writing the files they
// name (metadata, cover, output) through p.
func (e *Engine) ffmpegArgs(p *processSink, enc encoding, tags echogen.AudioTags) ([]string, error) {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "s16le", "-ar", strconv.Itoa(echogen.SampleRate), "-ac", "1", "-i", "pipe:0"}
	maps := []string{"-map", "0:a"}
	if enc.format != echogen.FormatMP3 {
		// MP3s get our own ID3 tag; the other containers get ffmpeg's
		// metadata and chapters.
		meta, err := p.tempFile(e.tempDir, "txt")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(meta, ffmetadata(tags), 0o600); err != nil {
			return nil, fmt.Errorf("writing ffmpeg's metadata: %w", err)
		}
		args = append(args, "-f", "ffmetadata", "-i", meta)
		maps = append(maps, "-map_metadata", "1", "-map_chapters", "1")
		if t := coverType(tags); enc.format == echogen.FormatM4A && (t == "image/png" || t == "image/jpeg") {
			// MP4 cover art can only be a PNG or a JPEG.
			cover, err := p.tempFile(e.tempDir, "img")
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(cover, tags.Cover, 0o600); err != nil {
				return nil, fmt.Errorf("writing the cover for ffmpeg: %w", err)
			}
			args = append(args, "-i", cover)
			maps = append(maps, "-map", "2:v", "-c:v", "copy", "-disposition:v:0", "attached_pic")
		}
	}
	args = append(args, maps...)
	args = append(args, "-c:a", ffmpegCodec(enc.format), "-b:a", strconv.Itoa(enc.bitrate)+"k")
	switch enc.format {
	case echogen.FormatMP3:
		out, err := p.tempFile(e.tempDir, "mp3")
		if err != nil {
			return nil, err
		}
		p.output = out
		args = append(args, "-map_metadata", "-1", "-id3v2_version", "0", "-write_xing", "1", "-f", "mp3", "-y", out)
	case echogen.FormatM4A:
		// +faststart moves the index to the front, rewriting the file.
		out, err := p.tempFile(e.tempDir, "m4a")
		if err != nil {
			return nil, err
		}
		p.output = out
		args = append(args, "-movflags", "+faststart", "-f", "ipod", "-y", out)
	case echogen.FormatOpus:
		args = append(args, "-f", "ogg", "pipe:1")
	}
	return args, nil
}

// ffmetadata renders tags in ffmpeg's metadata file format.
func ffmetadata(tags echogen.AudioTags) []byte {
	escape := strings.NewReplacer(`\`, `\\`, "=", `\=`, ";", `\;`, "#", `\#`, "\n", "\\\n").Replace
	var b bytes.Buffer
	b.WriteString(";FFMETADATA1\n")
	for _, kv := range [][2]string{{"title", tags.Title}, {"artist", tags.Artist}, {"album", tags.Album}, {"comment", tags.Comment}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], escape(kv[1]))
		}
	}
	for _, c := range tags.Chapters {
		fmt.Fprintf(&b, "\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=%d\nEND=%d\ntitle=%s\n", millis(c.Start), millis(c.End), escape(c.Title))
	}
	return b.Bytes()
}

// processSink feeds an encoder process. The file it makes goes to w
// directly, or through a temporary file when the encoder must seek in it.
type processSink struct {
	name    string // of the encoder, for errors
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	stdin   io.WriteCloser
	stderr  *tailBuffer
	prefix  []byte // written to w before the file: the ID3 tag
	output  string // the temporary file the encoder writes; "" for w
	temps   []string
	w       io.Writer
	stopped bool
	exit    error // how the encoder ended, once stopped
}

// tempFile returns the path of a new, empty temporary file that cleanup
// removes.
func (p *processSink) tempFile(dir, ext string) (string, error) {
	f, err := os.CreateTemp(dir, "echogen-encode-*."+ext)
	if err != nil {
		return "", fmt.Errorf("creating a temporary file for the encoder: %w", err)
	}
	p.temps = append(p.temps, f.Name())
	return f.Name(), f.Close()
}

func (p *processSink) start(ctx context.Context, path string, args []string) error {
	ctx, p.cancel = context.WithCancel(ctx)
	p.cmd = exec.CommandContext(ctx, path, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = 10 * time.Second // do not hang on a stuck writer after a kill
	if p.output == "" {
		p.cmd.Stdout = p.w
	}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err == nil {
		err = p.cmd.Start()
	}
	if err != nil {
		p.cancel()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	return nil
}

func (p *processSink) Write(b []byte) (int, error) {
	n, err := p.stdin.Write(b)
	if err != nil {
		// The encoder has stopped reading, most likely on an error of its
		// own, which its exit reports better than the broken pipe.
		if exit := p.stop(false); exit != nil {
			return n, exit
		}
		return n, fmt.Errorf("writing to %s: %w", p.name, err)
	}
	return n, nil
}

func (p *processSink) Close() error {
	defer p.cleanup()
	if err := p.stop(false); err != nil {
		return err
	}
	if p.output == "" {
		return nil
	}
	f, err := os.Open(p.output)
	if err != nil {
		return fmt.Errorf("reading %s's output: %w", p.name, err)
	}
	defer f.Close()
	if _, err := p.w.Write(p.prefix); err != nil {
		return fmt.Errorf("writing the episode: %w", err)
	}
	if _, err := io.Copy(p.w, f); err != nil {
		return fmt.Errorf("writing the episode: %w", err)
	}
	return nil
}

func (p *processSink) Abort() {
	p.stop(true)
	p.cleanup()
}

// stop closes the encoder's input and waits for it to end, killing it
// first when kill is set. It returns the encoder's failure, with what it
// printed; only the first call does anything.
func (p *processSink) stop(kill bool) error {
	if p.stopped {
		return p.exit
	}
	p.stopped = true
	if kill {
		p.cancel()
	}
	p.stdin.Close()
	err := p.cmd.Wait()
	p.cancel()
	if err != nil {
		if msg := strings.TrimSpace(p.stderr.String()); msg != "" {
			err = fmt.Errorf("%s failed: %w: %s", p.name, err, msg)
		} else {
			err = fmt.Errorf("%s failed: %w", p.name, err)
		}
	}
	p.exit = err
	return err
}

// cleanup removes the temporary files; it may run more than once.
func (p *processSink) cleanup() {
	for _, name := range p.temps {
		os.Remove(name)
	}
	p.temps = nil
}

// tailBuffer keeps the last max bytes written to it: an encoder's error
// comes last, after whatever it printed before.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// wavSink writes the episode as a canonical WAV.
type wavSink struct{ w *bufio.Writer }

func newWAVSink(samples int64, w io.Writer) (*wavSink, error) {
	h, err := wavHeader(samples)
	if err != nil {
		return nil, err
	}
	s := &wavSink{w: bufio.NewWriterSize(w, 64<<10)}
	if _, err := s.w.Write(h); err != nil {
		return nil, fmt.Errorf("writing the episode: %w", err)
	}
	return s, nil
}

func (s *wavSink) Write(b []byte) (int, error) { return s.w.Write(b) }
func (s *wavSink) Close() error                { return s.w.Flush() }
func (s *wavSink) Abort()                      {}

// listFFmpegEncoders returns the names of the encoders ffmpeg at path was
// built with.
func listFFmpegEncoders(ctx context.Context, path string) (map[string]bool, error) {
	if path == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-hide_banner", "-nostdin", "-encoders").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exit.Stderr)))
		}
		return nil, err
	}
	// After a legend ending in " ------", one encoder a line: " A....D libmp3lame  description".
	_, list, _ := strings.Cut(string(out), "------")
	codecs := make(map[string]bool)
	for line := range strings.Lines(list) {
		if f := strings.Fields(line); len(f) >= 2 {
			codecs[f[1]] = true
		}
	}
	return codecs, nil
}
