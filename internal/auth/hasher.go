package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/echogen/server/internal/echogen"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultParams are OWASP's recommended argon2id settings: 19 MiB, two
// passes, one lane.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1}
}

const (
	saltLen = 16
	keyLen  = 32

	// Hard bounds on configured parameters.
	maxConfigMemory  = 1 << 20 // 1 GiB
	maxConfigTime    = 64
	maxConfigThreads = 64

	// A stored hash may carry other parameters than the configured ones (an
	// older setting), but only up to these ceilings, so a hash planted in
	// the database cannot make one verification allocate gigabytes or spin
	// for minutes. Configured values above them raise the ceiling.
	verifyMaxMemory  = 64 << 10 // 64 MiB
	verifyMaxTime    = 16
	verifyMaxThreads = 16

	minStoredSalt = 8
	maxStoredSalt = 64
	minStoredKey  = 16
	maxStoredKey  = 64
	maxPHCLength  = 256
)

// ErrInvalidHash is returned for a stored hash that is malformed or whose
// parameters are refused. It never carries the hash itself.
var ErrInvalidHash = errors.New("invalid password hash")

// PasswordHasher hashes and verifies passwords with argon2id, encoded as
// PHC strings: $argon2id$v=19$m=<KiB>,t=<n>,p=<n>$<salt>$<hash>.
//
// Each hash holds Params.Memory KiB while it runs, so at most cap(sem)
// hashes run at once: a burst of sign-ins queues instead of exhausting
// memory.
type PasswordHasher struct {
	params Params
	limit  Params // ceilings for parameters read from stored hashes
	sem    chan struct{}
	dummy  string // a well-formed hash no password matches, for VerifyDummy
	// wait bounds the queue for a slot: past it the caller is told to come
	// back later instead of waiting behind a burst it cannot see the end of.
	wait time.Duration

	// derive computes the key; tests replace it to observe concurrency.
	derive func(password, salt []byte, p Params, keyLen uint32) []byte
}

// NewPasswordHasher returns a hasher using p that runs at most maxConcurrent
// hashes at once; maxConcurrent <= 0 means max(2, GOMAXPROCS).
func NewPasswordHasher(p Params, maxConcurrent int) (*PasswordHasher, error) {
	if err := p.check(Params{Memory: maxConfigMemory, Time: maxConfigTime, Threads: maxConfigThreads}); err != nil {
		return nil, fmt.Errorf("argon2id parameters: %w", err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = max(2, runtime.GOMAXPROCS(0))
	}
	h := &PasswordHasher{
		params: p,
		limit: Params{
			Memory:  max(verifyMaxMemory, p.Memory),
			Time:    max(verifyMaxTime, p.Time),
			Threads: max(verifyMaxThreads, p.Threads),
		},
		sem:    make(chan struct{}, maxConcurrent),
		wait:   maxHashWait,
		derive: argon2idKey,
	}
	// The dummy hash has the configured cost and a random key: verifying
	// against it costs what a real verification costs and never matches.
	h.dummy = encodePHC(p, randomBytes(saltLen), randomBytes(keyLen))
	return h, nil
}

func argon2idKey(password, salt []byte, p Params, keyLen uint32) []byte {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, keyLen)
}

// Params returns the parameters new hashes are made with.
func (h *PasswordHasher) Params() Params { return h.params }

// Hash returns the PHC string of password with a fresh random salt.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	salt := randomBytes(saltLen)
	key, err := h.run(ctx, []byte(password), salt, h.params, keyLen)
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string phc. The cost
// parameters come from phc, within the hasher's ceilings; a malformed or
// refused phc is an error wrapping ErrInvalidHash.
func (h *PasswordHasher) Verify(ctx context.Context, password, phc string) (bool, error) {
	p, salt, want, err := decodePHC(phc, h.limit)
	if err != nil {
		return false, err
	}
	got, err := h.run(ctx, []byte(password), salt, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy does the work of a verification against a hash no password
// matches, so a sign-in for an unknown account takes as long as one for a
// known account. It returns an error only when ctx ends while waiting.
func (h *PasswordHasher) VerifyDummy(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, password, h.dummy)
	return err
}

// maxHashWait is how long a sign-in or sign-up waits for a hashing slot
// before the server answers 503 with Retry-After.
const maxHashWait = 10 * time.Second

// run derives a key once a hashing slot is free, giving up when ctx ends
// or the wait grows too long.
func (h *PasswordHasher) run(ctx context.Context, password, salt []byte, p Params, n uint32) ([]byte, error) {
	timeout := time.NewTimer(h.wait)
	defer timeout.Stop()
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a password hashing slot: %w", ctx.Err())
	case <-timeout.C:
		e := echogen.Errorf(echogen.KindUnavailable, "server_busy", "Too many sign-ins at once; try again in a few seconds")
		e.RetryAfter = 5 * time.Second
		return nil, e
	}
	defer func() { <-h.sem }()
	return h.derive(password, salt, p, n), nil
}

// check validates p against the ceilings in limit.
func (p Params) check(limit Params) error {
	switch {
	case p.Time < 1 || p.Time > limit.Time:
		return fmt.Errorf("time %d outside 1..%d", p.Time, limit.Time)
	case p.Threads < 1 || p.Threads > limit.Threads:
		return fmt.Errorf("parallelism %d outside 1..%d", p.Threads, limit.Threads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > limit.Memory:
		return fmt.Errorf("memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Threads), limit.Memory)
	}
	return nil
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decodePHC parses an argon2id PHC string and checks its parameters
// against limit. Errors describe the shape, never the content.
func decodePHC(phc string, limit Params) (Params, []byte, []byte, error) {
	var p Params
	if len(phc) > maxPHCLength {
		return p, nil, nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidHash, maxPHCLength)
	}
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, fmt.Errorf("%w: not a PHC string", ErrInvalidHash)
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: algorithm is not argon2id", ErrInvalidHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported argon2 version", ErrInvalidHash)
	}
	b64 := base64.RawStdEncoding.Strict()
	var err error
	if p, err = parseParams(parts[3]); err != nil {
		return p, nil, nil, err
	}
	if err := p.check(limit); err != nil {
		return p, nil, nil, fmt.Errorf("%w: %w", ErrInvalidHash, err)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minStoredSalt || len(salt) > maxStoredSalt {
		return p, nil, nil, fmt.Errorf("%w: bad salt", ErrInvalidHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minStoredKey || len(key) > maxStoredKey {
		return p, nil, nil, fmt.Errorf("%w: bad key", ErrInvalidHash)
	}
	return p, salt, key, nil
}

// parseParams reads "m=<n>,t=<n>,p=<n>" in that order.
func parseParams(s string) (Params, error) {
	var p Params
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return p, fmt.Errorf("%w: bad parameter list", ErrInvalidHash)
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return p, fmt.Errorf("%w: bad parameter list", ErrInvalidHash)
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return p, fmt.Errorf("%w: bad parameter %s", ErrInvalidHash, name)
		}
		vals[i] = n
	}
	return Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
