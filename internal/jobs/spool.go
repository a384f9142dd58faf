package jobs

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/lifeboat-dev/lifeboat/internal/sandbox"
)

// spoolPrefix names each process's spool directory under restore.spool_dir.
const spoolPrefix = "lifeboat-spool-"

// claimSpool removes the spool directories of dead processes under dir
// (default the system's temp dir), then claims this process's own.
func claimSpool(dir string, log *slog.Logger) (*sandbox.Workdir, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	sweepSpools(dir, log)
	w, err := sandbox.ClaimWorkdir(dir, spoolPrefix)
	if err != nil {
		return nil, fmt.Errorf("restore.spool_dir: %w", err)
	}
	return w, nil
}

func sweepSpools(dir string, log *slog.Logger) []string {
	removed, err := sandbox.SweepWorkdirs(dir, spoolPrefix, nil)
	if err != nil {
		log.Warn("removing leftover restore spools: " + err.Error())
	}
	if len(removed) > 0 {
		log.Info(fmt.Sprintf("removed %d leftover restore spool director(ies) of stopped processes", len(removed)))
	}
	return removed
}

// spoolDir is where this process spools decrypted dumps.
func (r *Runner) spoolDir() string {
	if r.spool != nil {
		return r.spool.Path
	}
	return r.conf().Restore.SpoolDir
}
