// Package verify proves a restored scratch database is the backup it claims
// to be: built-in checks compare it with the source's snapshot taken at dump
// time, and the target's own SQL checks run read-only against it.
package verify

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// Row-count methods.
const (
	CountExact    = "exact"
	CountEstimate = "estimate"
)

// inventorySQL lists user relations, leaving out system schemas and objects
// that belong to extensions (they are recreated by CREATE EXTENSION).
const inventorySQL = `
SELECT n.nspname, c.relname, c.relkind::text, c.reltuples::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'i', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`

var kindNames = map[string]string{"p": "partitioned table", "v": "view", "m": "materialized view",
	"i": "index", "S": "sequence", "f": "foreign table"}

// Querier is a connection or transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Inventory lists the database's user relations and counts the rows of its
// tables, exactly (count(*)) or from the planner's estimate.
func Inventory(ctx context.Context, q Querier, method string) (lifeboat.SourceSnapshot, error) {
	snap := lifeboat.SourceSnapshot{RowCountsMethod: method, Tables: []lifeboat.TableCount{}, Objects: []string{}}
	rows, err := q.Query(ctx, inventorySQL)
	if err != nil {
		return snap, fmt.Errorf("inventory: %w", err)
	}
	type rel struct {
		schema, name, kind string
		estimate           int64
	}
	rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rel, error) {
		var x rel
		err := r.Scan(&x.schema, &x.name, &x.kind, &x.estimate)
		return x, err
	})
	if err != nil {
		return snap, fmt.Errorf("inventory: %w", err)
	}
	for _, r := range rels {
		if r.kind != "r" {
			snap.Objects = append(snap.Objects, kindNames[r.kind]+" "+r.schema+"."+r.name)
			continue
		}
		n := r.estimate
		if method != CountEstimate {
			ident := pgx.Identifier{r.schema, r.name}.Sanitize()
			if err := q.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n); err != nil {
				return snap, fmt.Errorf("count rows of %s.%s: %w", r.schema, r.name, err)
			}
		}
		snap.Tables = append(snap.Tables, lifeboat.TableCount{Schema: r.schema, Name: r.name, Rows: n})
	}
	sort.Strings(snap.Objects)
	return snap, nil
}
