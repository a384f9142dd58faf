package jobs_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// secretSchemaSQL adds names to the seeded source that appear nowhere else
// in the test: finding one in storage can only be a leak.
const secretSchemaSQL = `
CREATE SCHEMA billing_zq7;
CREATE TABLE billing_zq7.invoices_kx4 (id int PRIMARY KEY, note text NOT NULL);
INSERT INTO billing_zq7.invoices_kx4 SELECT g, 'n' || g FROM generate_series(1, 42) g;`

const secretCheckSQL = `SELECT count(*) FROM billing_zq7.invoices_kx4 WHERE note <> 'walrus_marker_93'`

// storedObjects returns every object the storage holds, whatever its key:
// the whole folder of an fs storage, the whole bucket (not only lifeboat's
// prefix) of an s3 one.
func storedObjects(t *testing.T, s *config.Storage) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	switch s.Kind {
	case "fs":
		require.NoError(t, filepath.WalkDir(s.Path, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			out[path] = b
			return err
		}))
	case "s3":
		ctx := context.Background()
		whole, err := blob.NewS3(ctx, blob.S3Options{Endpoint: s.Endpoint, Region: s.Region, Bucket: s.Bucket,
			AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, CAFile: s.CAFile,
			Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}) // the test's versitygw
		require.NoError(t, err)
		infos, err := whole.List(ctx, "")
		require.NoError(t, err)
		for _, info := range infos {
			rc, err := whole.Get(ctx, info.Key)
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			require.NoError(t, rc.Close())
			require.NoError(t, err)
			out[info.Key] = b
		}
	}
	return out
}

// TestNoPlaintextNamesInStorage: after a real run, no byte stored on any
// storage names a schema, a table, another relation or a check's SQL; the
// manifest is version 2 and its encrypted inventory holds what verify needs.
func TestNoPlaintextNamesInStorage(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]storageKind{"fs": storageFS, "s3": storageS3} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := testenv.CreateDB(t, "lbsrc_")
			testenv.Exec(t, src, testenv.SeedSQL+secretSchemaSQL)
			b := setup(t, options{storage: kind, sourceURL: src, checks: `      - {name: invoices noted, sql: "` + secretCheckSQL + `", expect: "= 42"}`})
			run := b.runToEnd(t)
			require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, b.logText(t, run.ID))

			objects := storedObjects(t, &b.cfg.Storages[0])
			require.Len(t, objects, 2, "the backup and its manifest, nothing else")
			needles := []string{"billing_zq7", "invoices_kx4", "walrus_marker_93", secretCheckSQL, "customers", "orders",
				"orders_customer_idx", "invoice_no", "customer_totals", "public", "PGDMP", "example.com"}
			for key, body := range objects {
				for _, n := range needles {
					require.False(t, bytes.Contains(body, []byte(n)), "%s holds %q in plaintext", key, n)
				}
			}

			// The manifest is version 2; the identity opens its inventory.
			ctx := context.Background()
			plain, err := blob.GetManifest(ctx, b.blobs, run.Artifact.Key)
			require.NoError(t, err)
			require.Equal(t, blob.ManifestV2, plain.FormatVersion)
			require.Empty(t, plain.Source.Tables, "no inventory in the clear")
			require.NotEmpty(t, plain.Inventory)
			ids, err := b.cfg.Identities()
			require.NoError(t, err)
			m, err := pipeline.ReadManifest(ctx, b.blobs, run.Artifact.Key, ids)
			require.NoError(t, err)
			rows := map[string]int64{}
			for _, tc := range m.Source.Tables {
				rows[tc.Schema+"."+tc.Name] = tc.Rows
			}
			require.Equal(t, map[string]int64{"public.customers": 500, "public.orders": 3000, "billing_zq7.invoices_kx4": 42}, rows)
		})
	}
}
