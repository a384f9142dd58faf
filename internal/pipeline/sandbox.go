package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/sandbox"
)

// SandboxServers lists the installed PostgreSQL servers a sandbox may run,
// found where pg_dump is looked for.
func SandboxServers(getenv func(string) string) func(context.Context) []sandbox.Server {
	return func(ctx context.Context) []sandbox.Server {
		var out []sandbox.Server
		for _, b := range pgtool.Servers(ctx, getenv) {
			out = append(out, sandbox.Server{BinDir: filepath.Dir(b.Path), Version: b.Version, Major: b.Major})
		}
		return out
	}
}

// StartSandbox is a RestoreInput.Prepare that starts run id's sandbox for
// the manifest's dump and returns the URL pg_restore uses (the restore
// role, owner of the scratch database and nothing else).
func StartSandbox(m *sandbox.Manager, id int64, log *slog.Logger) func(context.Context, blob.Manifest) (string, error) {
	return func(ctx context.Context, man blob.Manifest) (string, error) {
		sb, err := m.Start(ctx, id, DumpMajor(man), man.RawBytes)
		if err != nil {
			return "", err
		}
		log.Info(fmt.Sprintf("started a sandbox in %.2fs: %s, Unix socket only; pg_restore connects as %s (owns the scratch database, nothing else)",
			sb.Took.Seconds(), sandbox.Note(DumpMajor(man), sb.Server), sandbox.RestoreRole))
		return sb.RestoreURL(), nil
	}
}
