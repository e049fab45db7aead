package echogen

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
)

// blobStepCache keeps a job's finished steps as JSON objects under
// "<user>/jobs/<job>/steps/" in the documents bucket: they go when the job
// succeeds, and with the user's other objects when the account is purged.
type blobStepCache struct {
	blobs  BlobStore
	bucket string
	prefix string
	log    *slog.Logger
}

func newBlobStepCache(blobs BlobStore, bucket string, job *Job, log *slog.Logger) *blobStepCache {
	return &blobStepCache{blobs: blobs, bucket: bucket, prefix: job.UserID + "/jobs/" + job.ID + "/steps/", log: log}
}

func (c *blobStepCache) key(step string) string { return c.prefix + DerivedID(step) + ".json" }

// Load implements StepCache.
func (c *blobStepCache) Load(ctx context.Context, step string, v any) bool {
	r, _, err := c.blobs.Open(ctx, c.bucket, c.key(step))
	if err != nil {
		return false
	}
	defer r.Close()
	return json.NewDecoder(r).Decode(v) == nil
}

// Store implements StepCache.
func (c *blobStepCache) Store(ctx context.Context, step string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		_, err = c.blobs.Put(ctx, c.bucket, c.key(step), bytes.NewReader(b), "application/json")
	}
	if err != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "could not keep a finished job step; a retry will redo it", "step", step, "error", err.Error())
	}
}

// clear removes the job's steps once it no longer needs them.
func (c *blobStepCache) clear(ctx context.Context) {
	if _, err := c.blobs.DeletePrefix(ctx, c.bucket, c.prefix); err != nil {
		c.log.WarnContext(ctx, "could not remove a finished job's steps", "prefix", c.prefix, "error", err.Error())
	}
}
