package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
)

// backupCopies returns the stores of the target's extra copies and which
// copy this run's restore proves (index into primary + copies), chosen in
// rotation so every copy is proven within as many runs as there are copies.
func (r *Runner) backupCopies(ctx context.Context, t *config.Target) ([]pipeline.CopyStore, int, error) {
	names := t.StorageNames()
	var copies []pipeline.CopyStore
	for _, name := range names[1:] {
		st, err := r.storeFor(name)
		if err != nil {
			return nil, 0, err
		}
		copies = append(copies, pipeline.CopyStore{Name: name, Store: st})
	}
	if len(copies) == 0 {
		return nil, 0, nil
	}
	proof, err := r.deps.Store.ProofStorage(ctx, t.Name, names)
	if err != nil {
		return nil, 0, err
	}
	return copies, max(slices.Index(names, proof), 0), nil
}

// proofCopy is the copy of a's backup a restore reads: the one the backup
// stage left for it (stored, not yet read back), else the first good one,
// else the primary.
func proofCopy(a *lifeboat.Artifact) lifeboat.Copy {
	for _, c := range a.Copies {
		if c.Status == lifeboat.CopyStored && c.PrunedAt == nil {
			return c
		}
	}
	for _, c := range a.Copies {
		if c.Good() {
			return c
		}
	}
	return lifeboat.Copy{Storage: a.Storage, Key: a.Key, SHA256: a.SHA256}
}

// CheckCopies is the name of the built-in check that every copy of a
// backup was stored and read back.
const CheckCopies = "copies stored and read back"

// copiesCheck is a run's verdict on its own backup's copies: the run fails
// (and its heartbeat stays silent) when any copy could not be written or
// read back. Nil for a backup with one copy or reused from another run.
func copiesCheck(a *lifeboat.Artifact) *lifeboat.CheckResult {
	if a == nil || a.ReusedFromRun != 0 || len(a.Copies) < 2 {
		return nil
	}
	var good int
	var bad []string
	for _, c := range a.Copies {
		if c.Status == lifeboat.CopyFailed {
			bad = append(bad, c.Storage+": "+firstLineOf(c.Error))
		} else {
			good++
		}
	}
	res := &lifeboat.CheckResult{Name: CheckCopies, Builtin: true, Passed: len(bad) == 0,
		Expected: fmt.Sprintf("%d good copies", len(a.Copies)), Observed: fmt.Sprintf("%d good", good)}
	if len(bad) > 0 {
		res.Observed += "; " + strings.Join(bad, "; ")
	}
	return res
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
