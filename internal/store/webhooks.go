package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// SeenWebhook records an accepted inbound webhook message by its digest
// (webhook.ReplayDigest) until expires, and reports replayed when the digest
// was recorded already: the second of two identical messages is refused,
// however close together they arrive (the primary key decides). It
// implements webhook.Seen.
func (s *Store) SeenWebhook(ctx context.Context, digest []byte, expires time.Time) (replayed bool, err error) {
	if len(digest) != sha256.Size {
		return false, breach.Invalid("digest", "must be %d bytes", sha256.Size)
	}
	tag, err := s.Pool.Exec(ctx, `
		INSERT INTO webhook_seen (digest, expires_at) VALUES ($1, $2)
		ON CONFLICT (digest) DO NOTHING`, digest, expires.UTC())
	if err != nil {
		return false, fmt.Errorf("store: seen webhook: %w", err)
	}
	return tag.RowsAffected() == 0, nil
}

// PurgeSeenWebhooks deletes the digests that expired before now, and returns
// how many. Expired digests are harmless (their messages fail the timestamp
// check) but take room; a periodic job calls this.
func (s *Store) PurgeSeenWebhooks(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM webhook_seen WHERE expires_at < $1`, now.UTC())
	if err != nil {
		return 0, fmt.Errorf("store: purge seen webhooks: %w", err)
	}
	return tag.RowsAffected(), nil
}
