package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestDisasterRecoveryFromSecondCopy: the primary storage is lost with
// lifeboat's own database; `lifeboat restore --storage offsite` restores
// the backup from the second site (the TLS versitygw) alone.
func TestDisasterRecoveryFromSecondCopy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s3 := testenv.S3TLS(t)
	f.env["S3_SECRET"] = s3.SecretKey
	offsite := fmt.Sprintf("  - {name: offsite, kind: s3, bucket: %s, prefix: lb/, endpoint: %q, access_key_id: %q, secret_access_key: \"${S3_SECRET}\", ca_file: %q}\n",
		testenv.RandomName("lb-"), s3.Endpoint, s3.AccessKey, s3.CAFile)
	withCopies := func(stateURL string) string {
		doc := f.config(t, stateURL, defaultChecks)
		doc = strings.Replace(doc, "  - {name: main, kind: fs, path: ./backups}\n", "  - {name: main, kind: fs, path: ./backups}\n"+offsite, 1)
		doc = strings.Replace(doc, "targets:\n", "outbound:\n  allow: [127.0.0.0/8]\ntargets:\n", 1)
		return strings.Replace(doc, "    storage: main\n", "    storages: [main, offsite]\n", 1)
	}
	cfg := f.writeConfig(t, "lifeboat.yaml", withCopies(f.stateURL))
	f.migrate(t, cfg)
	out := f.mustRun(t, "run", "--config", cfg, "--target", "app")
	require.Contains(t, out, "succeeded")
	keys := f.objectKeys(t)
	require.Len(t, keys, 1)
	key := keys[0]

	// The primary site and lifeboat's database are gone.
	require.NoError(t, os.RemoveAll(filepath.Join(f.dir, "backups")))
	drCfg := f.writeConfig(t, "recovery.yaml", withCopies(testenv.CreateDB(t, "lbstate_")))
	into := testenv.CreateDB(t, "lbinto_")
	r := f.run(t, "restore", "--config", drCfg, "--object", key, "--into", into)
	require.Error(t, r.err, "the primary holds nothing any more")
	out = f.mustRun(t, "restore", "--config", drCfg, "--storage", "offsite", "--object", key, "--into", into)
	require.Contains(t, out, "restored "+key)
	require.Contains(t, out, "2 tables hold their dump-time row counts")
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customers"))
	require.EqualValues(t, 3000, testenv.QueryInt(t, into, "SELECT count(*) FROM orders"))
}
