package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/echogen/server/internal/echogen"
)

// cliEmail is the account `echogen generate` works under: its episodes are
// in the library like anyone's, and it cannot sign in (it has no usable
// password).
const cliEmail = "cli@echogen.invalid"

// GenerateRequest is one `echogen generate` run.
type GenerateRequest struct {
	URL, File, Text, Title string
	Out                    string // the episode's path; its extension picks the format
	Payload                map[string]any
}

// GenerateResult says where every file went.
type GenerateResult struct {
	Files     []string
	PodcastID string
	Note      string
}

// Generate runs a podcast_generation job through this installation's
// queue and copies the episode, transcripts and cover next to req.Out.
// Progress is drawn on progress as a one-line bar.
func (a *App) Generate(ctx context.Context, req GenerateRequest, progress io.Writer) (*GenerateResult, error) {
	p, err := a.cliPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	payload := map[string]any{}
	for k, v := range req.Payload {
		payload[k] = v
	}
	switch {
	case req.URL != "":
		payload["url"] = req.URL
	case req.Text != "":
		payload["text"] = req.Text
	case req.File != "":
		f, err := os.Open(req.File)
		if err != nil {
			return nil, err
		}
		obj, err := a.library.Upload(ctx, p, echogen.UploadDocument, filepath.Base(req.File), f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.File, err)
		}
		payload["storage_path"] = obj.StoragePath
	default:
		return nil, fmt.Errorf("give --url, --file or --text")
	}
	if req.Title != "" {
		payload["title"] = req.Title
	}
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(req.Out)), ".")
	if ext == "" {
		return nil, fmt.Errorf("--out needs an extension (.mp3, .m4a, .opus or .wav) to choose the format")
	}
	payload["format"] = ext

	job, err := a.jobs.Enqueue(ctx, p, echogen.PodcastGenerationType, payload)
	if err != nil {
		return nil, err
	}
	if err := a.queue.Start(ctx); err != nil {
		return nil, err
	}
	defer a.queue.Stop(context.WithoutCancel(ctx))
	job, err = a.follow(ctx, p, job.ID, progress)
	if err != nil {
		return nil, err
	}
	if job.Status != echogen.JobSucceeded {
		return nil, fmt.Errorf("the job %s %s: %s", job.ID, job.Status, deref(job.Error))
	}
	podcastID, _ := job.Result["podcast_id"].(string)
	return a.export(ctx, p, podcastID, req.Out)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// cliPrincipal finds or makes the account of the command line.
func (a *App) cliPrincipal(ctx context.Context) (echogen.Principal, error) {
	u, err := a.db.store.UserByEmail(ctx, cliEmail)
	if echogen.ErrorKind(err) == echogen.KindNotFound {
		now := echogen.SystemClock{}.Now()
		u = &echogen.User{ID: echogen.NewID(), Email: cliEmail, PasswordHash: "!cli", Role: "authenticated", CreatedAt: now, UpdatedAt: now}
		if err = a.db.store.CreateUser(ctx, u); err == nil {
			err = a.db.store.CreateProfile(ctx, &echogen.Profile{UserID: u.ID, CreatedAt: now, UpdatedAt: now})
		}
	}
	if err != nil {
		return echogen.Principal{}, fmt.Errorf("the command line's account: %w", err)
	}
	return echogen.Principal{UserID: u.ID, Email: u.Email, Role: u.Role}, nil
}

// follow draws the job's progress until it finishes.
func (a *App) follow(ctx context.Context, p echogen.Principal, id string, w io.Writer) (*echogen.Job, error) {
	job, changed, stop, err := a.jobs.Watch(ctx, p, id)
	if err != nil {
		return nil, err
	}
	defer stop()
	last := ""
	for {
		line := progressLine(job)
		if line != last {
			fmt.Fprintf(w, "\r%-100s", line)
			last = line
		}
		if job.Status.Terminal() {
			fmt.Fprintln(w)
			return job, nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return nil, ctx.Err()
		case <-changed:
		}
		if job, err = a.jobs.Job(ctx, p, id); err != nil {
			return nil, err
		}
	}
}

func progressLine(j *echogen.Job) string {
	const width = 30
	filled := int(j.Progress.Percent / 100 * width)
	filled = min(max(filled, 0), width)
	msg := j.Progress.Message
	if r := []rune(msg); len(r) > 60 {
		msg = string(r[:60])
	}
	return fmt.Sprintf("[%s%s] %3.0f%% %s", strings.Repeat("#", filled), strings.Repeat("-", width-filled), j.Progress.Percent, msg)
}

// export copies the podcast's files out of storage: the episode to out
// (with the extension of the format actually made), the transcripts and
// cover beside it.
func (a *App) export(ctx context.Context, p echogen.Principal, podcastID, out string) (*GenerateResult, error) {
	pod, err := a.db.store.Podcast(ctx, p.UserID, podcastID)
	if err != nil {
		return nil, err
	}
	res := &GenerateResult{PodcastID: podcastID}
	res.Note, _ = pod.Metadata["note"].(string)
	base := strings.TrimSuffix(out, filepath.Ext(out))
	format, _ := pod.Metadata["format"].(string)
	buckets := bucketsOf(a.cfg)
	files := []struct{ bucket, key, path string }{{buckets.Audio, pod.AudioPath, base + "." + format}}
	if pod.CoverArtPath != nil {
		files = append(files, struct{ bucket, key, path string }{buckets.Art, *pod.CoverArtPath, base + filepath.Ext(*pod.CoverArtPath)})
	}
	if t, ok := pod.Metadata["transcripts"].(map[string]any); ok {
		for kind, suffix := range map[string]string{"vtt": ".vtt", "srt": ".srt", "json": ".transcript.json", "chapters": ".chapters.json"} {
			if key, ok := t[kind].(string); ok {
				files = append(files, struct{ bucket, key, path string }{buckets.Transcripts, key, base + suffix})
			}
		}
	}
	for _, f := range files {
		if err := a.copyOut(ctx, f.bucket, f.key, f.path); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, f.path)
	}
	return res, nil
}

func (a *App) copyOut(ctx context.Context, bucket, key, path string) error {
	r, _, err := a.blobs.Open(ctx, bucket, key)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
