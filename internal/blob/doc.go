// Package blob stores media objects (audio, cover art, transcripts,
// uploads) behind echogen.BlobStore.
//
// Local keeps them on disk and serves them itself through Handler, behind
// URLs signed by a Signer. S3 keeps them in any S3-compatible service (AWS,
// MinIO, Supabase Storage's S3 endpoint) and hands out presigned URLs that
// go straight to that service. Both apply the same key rules (see
// validateKey), so code written against one works against the other.
package blob
