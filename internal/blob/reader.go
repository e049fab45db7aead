package blob

import (
	"context"
	"io"
)

// ctxReader stops a streaming copy once ctx is done, even when the source
// itself would go on; the copy then fails and the store discards the
// partial object.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
