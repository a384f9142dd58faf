package pgtool_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func TestIndexArchiveMatchesASeekableDump(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testenv.CreateDB(t, "lbarch_")
	testenv.Exec(t, src, `
CREATE TABLE a (id int PRIMARY KEY, body text);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a);
CREATE TABLE empty_one (x int);
INSERT INTO a SELECT g, repeat('x', g % 300) FROM generate_series(1, 20000) g;
INSERT INTO b SELECT g, 1 + g % 20000 FROM generate_series(1, 30000) g;
SELECT lo_from_bytea(0, decode(repeat('ab', 5000), 'hex'));
SELECT lo_from_bytea(0, 'small');`)
	bin, err := pgtool.Find(ctx, "pg_dump", 10, os.Getenv)
	require.NoError(t, err)
	dir := t.TempDir()

	// Both dumps read one exported snapshot, so they differ only in how they
	// were written: to a pipe (no offsets) and to a file (offsets).
	conn, err := pgtool.Connect(ctx, src)
	require.NoError(t, err)
	defer conn.Close(ctx)
	snap, err := pgtool.ExportSnapshot(ctx, conn)
	require.NoError(t, err)
	defer snap.Tx.Rollback(ctx)

	piped, err := os.Create(filepath.Join(dir, "piped.dump"))
	require.NoError(t, err)
	// An *os.File would be handed to pg_dump as is; wrapping it makes exec
	// use a pipe, exactly as the backup stage's stream does.
	require.NoError(t, pgtool.Dump(ctx, pgtool.DumpOptions{Bin: bin, URL: src, Snapshot: snap.ID, Out: struct{ *os.File }{piped}}))
	require.NoError(t, piped.Close())

	seekable := filepath.Join(dir, "seekable.dump")
	dbname, env, err := pgtool.ConnArgs(src)
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, bin.Path, "-Fc", "-Z0", "--snapshot="+snap.ID, "--dbname="+dbname, "-f", seekable)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	want, err := pgtool.ArchiveOffsets(seekable)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(want), 4, "table data and large objects have offsets")
	before, err := pgtool.ArchiveOffsets(piped.Name())
	require.NoError(t, err)
	require.Empty(t, before, "a dump written to a pipe has no offsets")

	n, err := pgtool.IndexArchive(piped.Name())
	require.NoError(t, err)
	require.Equal(t, len(want), n)
	got, err := pgtool.ArchiveOffsets(piped.Name())
	require.NoError(t, err)
	require.Equal(t, want, got)

	// The indexed archive restores in parallel, completely.
	into := testenv.CreateDB(t, "lbarch_into_")
	rbin, err := pgtool.Find(ctx, "pg_restore", bin.Major, os.Getenv)
	require.NoError(t, err)
	require.NoError(t, pgtool.Restore(ctx, pgtool.RestoreOptions{Bin: rbin, URL: into, File: piped.Name(), Jobs: 2}))
	require.Equal(t, int64(20000), testenv.QueryInt(t, into, "SELECT count(*) FROM a"))
	require.Equal(t, int64(30000), testenv.QueryInt(t, into, "SELECT count(*) FROM b"))
	require.Equal(t, int64(2), testenv.QueryInt(t, into, "SELECT count(*) FROM pg_largeobject_metadata"))

	// Indexing twice changes nothing.
	n, err = pgtool.IndexArchive(piped.Name())
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestIndexArchiveRejectsOtherFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x")
	require.NoError(t, os.WriteFile(path, []byte("PGDMX not a dump"), 0o600))
	_, err := pgtool.IndexArchive(path)
	require.ErrorContains(t, err, "not a pg_dump custom-format archive")
}
