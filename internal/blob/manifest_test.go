package blob

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
)

// TestManifestV1Fixture: a manifest exactly as lifeboat wrote format 1
// (inventory in the clear) still reads, inventory included.
func TestManifestV1Fixture(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/manifest-v1.json")
	require.NoError(t, err)
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := testCtx(t)
		key := ObjectKey("app", 42, time.Date(2024, 5, 6, 3, 0, 0, 0, time.UTC))
		_, err := b.store.Put(ctx, ManifestKey(key), strings.NewReader(string(raw)))
		require.NoError(t, err)
		m, err := GetManifest(ctx, b.store, key)
		require.NoError(t, err)
		require.Equal(t, ManifestV1, m.FormatVersion)
		require.Equal(t, int64(42), m.RunID)
		require.Equal(t, strings.Repeat("ab", 32), m.SHA256)
		require.Empty(t, m.Inventory)
		require.Equal(t, lifeboat.SourceSnapshot{RowCountsMethod: "exact",
			Tables:  []lifeboat.TableCount{{Schema: "public", Name: "users", Rows: 3}},
			Objects: []string{"view public.v"}}, m.Source)
	})
}

// TestManifestV2StoresNoInventory: a version-2 manifest never writes Source,
// even when the caller filled it in; Inventory round-trips as it is.
func TestManifestV2StoresNoInventory(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := testCtx(t)
		key := ObjectKey("app", 43, time.Date(2024, 5, 6, 3, 0, 0, 0, time.UTC))
		m := Manifest{
			FormatVersion: ManifestV2, Target: "app", RunID: 43,
			CreatedAt:     time.Date(2024, 5, 6, 3, 0, 1, 0, time.UTC),
			ServerVersion: "17.2", PgDumpVersion: "17.2", DumpFormat: "custom",
			Compression: "zstd", Encryption: "age", Recipients: []string{"age1xyz"},
			RawBytes: 1000, StoredBytes: 600, SHA256: strings.Repeat("cd", 32),
			Inventory: []byte("age-encryption.org/v1\n\x00\x01sealed"),
			Source: lifeboat.SourceSnapshot{RowCountsMethod: "exact",
				Tables: []lifeboat.TableCount{{Schema: "secret_schema", Name: "secret_table", Rows: 3}}},
		}
		require.NoError(t, PutManifest(ctx, b.store, key, m))
		raw := string(readAll(t, b.store, ManifestKey(key)))
		require.NotContains(t, raw, "secret_")
		require.NotContains(t, raw, `"source"`)
		require.Contains(t, raw, `"inventory": "`)
		got, err := GetManifest(ctx, b.store, key)
		require.NoError(t, err)
		want := m
		want.Source = lifeboat.SourceSnapshot{}
		require.Equal(t, want, got)
	})
}
