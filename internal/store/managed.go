package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// ManagedItem is a storage, notifier or target created through the API:
// its fields without secrets, and its secrets sealed by the caller.
type ManagedItem struct {
	Kind      string
	Name      string
	Spec      json.RawMessage
	Secrets   []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ManagedList returns every managed item, oldest first, and the catalog
// version they make up.
func (s *Store) ManagedList(ctx context.Context) ([]ManagedItem, int64, error) {
	var out []ManagedItem
	var version int64
	err := s.InTx(ctx, func(tx *Tx) error {
		if err := tx.tx.QueryRow(ctx, `SELECT version FROM catalog_version`).Scan(&version); err != nil {
			return err
		}
		var err error
		out, err = managedItems(ctx, tx.tx)
		return err
	})
	return out, version, err
}

// managedItems reads every managed item, oldest first.
func managedItems(ctx context.Context, q querier) ([]ManagedItem, error) {
	rows, err := q.Query(ctx, `SELECT kind, name, spec, secrets, created_at, updated_at
		FROM managed_items ORDER BY created_at, kind, name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ManagedItem])
}

// CatalogVersion is bumped by every managed change.
func (s *Store) CatalogVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM catalog_version`).Scan(&v)
	return v, err
}

// ManagedChange applies one change to kind/name under the catalog lock:
// change sees the items as they are and returns the item to store (nil
// deletes kind/name) or an error that refuses the change. Changes are
// serialized, so two concurrent edits cannot both pass validation against
// a stale catalog.
func (s *Store) ManagedChange(ctx context.Context, kind, name string, now time.Time,
	change func(current []ManagedItem) (*ManagedItem, error)) error {
	return s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.Exec(ctx, `SELECT version FROM catalog_version FOR UPDATE`); err != nil {
			return err
		}
		current, err := managedItems(ctx, tx.tx)
		if err != nil {
			return err
		}
		m, err := change(current)
		if err != nil {
			return err
		}
		if m != nil {
			_, err = tx.tx.Exec(ctx, `INSERT INTO managed_items (kind, name, spec, secrets, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5)
				ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, secrets = excluded.secrets,
					updated_at = excluded.updated_at`, kind, name, m.Spec, m.Secrets, now)
		} else {
			tag, derr := tx.tx.Exec(ctx, `DELETE FROM managed_items WHERE kind = $1 AND name = $2`, kind, name)
			if err = derr; err == nil && tag.RowsAffected() == 0 {
				return lifeboat.Errorf(lifeboat.ENOTFOUND, "%s %q not found", kind, name)
			}
		}
		if err != nil {
			return err
		}
		_, err = tx.tx.Exec(ctx, `UPDATE catalog_version SET version = version + 1`)
		return err
	})
}
