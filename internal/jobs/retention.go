package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/retention"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// PruneArgs prunes one target's backups by its retention policy.
type PruneArgs struct {
	Target string `json:"target"`
}

func (PruneArgs) Kind() string { return "lifeboat.prune" }

// InsertOpts makes a target's prunes unique while one waits or runs, so a
// burst of verified runs and the daily sweep collapse into one prune. (River
// requires "running" among the unique states: a prune inserted while one
// runs is dropped, and the next verified run or daily sweep catches up.)
func (PruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable}}}
}

type pruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	r *Runner
}

func (w *pruneWorker) Work(ctx context.Context, job *river.Job[PruneArgs]) error {
	if _, ok := w.r.conf().Target(job.Args.Target); !ok {
		return river.JobCancel(fmt.Errorf("prune: target %q is no longer configured", job.Args.Target))
	}
	_, err := w.r.Prune(ctx, job.Args.Target, false)
	return err
}

// Timeout leaves room for thousands of deletes against a slow bucket.
func (w *pruneWorker) Timeout(*river.Job[PruneArgs]) time.Duration { return 30 * time.Minute }

// PruneSweepArgs is the periodic job that enqueues a prune of every target
// whose retention policy is on.
type PruneSweepArgs struct{}

func (PruneSweepArgs) Kind() string { return "lifeboat.prune_sweep" }

type pruneSweepWorker struct {
	river.WorkerDefaults[PruneSweepArgs]
	r *Runner
}

func (w *pruneSweepWorker) Work(ctx context.Context, _ *river.Job[PruneSweepArgs]) error {
	var params []river.InsertManyParams
	for _, t := range w.r.conf().Targets {
		if t.Retention.Enabled() {
			params = append(params, river.InsertManyParams{Args: PruneArgs{Target: t.Name}})
		}
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := w.r.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("enqueue prunes: %w", err)
	}
	return nil
}

// retentionJobs registers the prune workers and the periodic sweep (daily by
// default; each verified run also enqueues a prune of its target).
func (r *Runner) retentionJobs(workers *river.Workers, opts Options) []*river.PeriodicJob {
	river.AddWorker(workers, &pruneWorker{r: r})
	river.AddWorker(workers, &pruneSweepWorker{r: r})
	return []*river.PeriodicJob{every(opts.RetentionInterval, PruneSweepArgs{})}
}

// enqueuePruneTx enqueues a prune of run's target in tx when the run was
// verified and the target's retention policy is on.
func (r *Runner) enqueuePruneTx(ctx context.Context, tx *store.Tx, run lifeboat.Run) error {
	t, ok := r.conf().Target(run.Target)
	if run.Status != lifeboat.RunSucceeded || !ok || !t.Retention.Enabled() {
		return nil
	}
	if _, err := r.client.InsertTx(ctx, tx.PgxTx(), PruneArgs{Target: run.Target}, nil); err != nil {
		return fmt.Errorf("enqueue prune of %s: %w", run.Target, err)
	}
	return nil
}

// retentionPlan is one computation of a target's plan and what it read.
type retentionPlan struct {
	policy          retention.Policy
	latestRunFailed bool
	decisions       []retention.Decision
	history         []store.StoredBackup
}

// Prune applies target's retention policy at Deps.Now: it plans over the
// target's history and its storage listing, then, unless dryRun, deletes
// each dropped backup's object and then its manifest, marks its run pruned
// with the reasons, and logs one line per deletion. A failed deletion does
// not stop the others; the errors are returned together (and River retries:
// a prune is safe to repeat). The decisions come newest first.
func (r *Runner) Prune(ctx context.Context, target string, dryRun bool) ([]retention.Decision, error) {
	t, ok := r.conf().Target(target)
	if !ok {
		return nil, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no target named %q", target)}
	}
	plan, err := r.planRetention(ctx, t)
	if err != nil || dryRun {
		return plan.decisions, err
	}
	log := r.deps.Logger.With("component", "retention", "target", target)
	var errs []error
	for i, d := range plan.decisions {
		if d.Keep {
			continue
		}
		reason := strings.Join(d.Reasons, "; ")
		err := r.pruneBackup(ctx, d, reason, plan.history)
		if lifeboat.ErrorCode(err) == lifeboat.ECONFLICT {
			// A retry began to use it since the plan was made.
			plan.decisions[i].Keep, plan.decisions[i].Reasons = true, []string{err.Error()}
			log.Info("kept backup", "run_id", d.RunID, "storage", d.Storage, "key", d.Key, "reason", err.Error())
			continue
		}
		if err != nil {
			log.Error("prune failed", "run_id", d.RunID, "storage", d.Storage, "key", d.Key, "err", err)
			errs = append(errs, err)
			continue
		}
		log.Info("pruned backup", "run_id", d.RunID, "storage", d.Storage, "key", d.Key,
			"created_at", d.CreatedAt.UTC().Format(time.RFC3339), "reason", reason)
	}
	return plan.decisions, errors.Join(errs...)
}

// pruneBackup deletes the object before its manifest: a prune cut short
// leaves a manifest without an object, which the next prune recognizes,
// never an object that looks restorable but is half gone. History is marked
// only once storage no longer holds the backup.
func (r *Runner) pruneBackup(ctx context.Context, d retention.Decision, reason string, history []store.StoredBackup) error {
	st, ok := r.catalog().Stores[d.Storage]
	if !ok {
		return fmt.Errorf("prune %s: storage %q is not configured", d.Key, d.Storage)
	}
	// With several copies, each goes on its own; the backup is pruned when
	// its last copy is.
	var copyRow, others bool
	for _, b := range history {
		if b.RunID == d.RunID && d.RunID != 0 && b.Copy != nil {
			if b.Storage == d.Storage {
				copyRow = true
			} else {
				others = true
			}
		}
	}
	if l, ok := st.(blob.Locker); ok && d.RunID == 0 {
		// An object history does not know: ask the server for its lock.
		if ret, err := l.Retention(ctx, d.Key); err == nil && ret.Locked(r.deps.Now()) {
			return lifeboat.Errorf(lifeboat.ECONFLICT, "locked until %s (Object Lock)", ret.Until.UTC().Format(time.RFC3339))
		}
	}
	if d.RunID != 0 && !others {
		// Refused (ECONFLICT) while a retry uses the backup; once marked,
		// no retry will.
		if err := r.deps.Store.ArtifactPruneBegin(ctx, d.RunID); err != nil {
			return err
		}
	}
	if err := st.Delete(ctx, d.Key); err != nil {
		if errors.Is(err, blob.ErrLocked) {
			return lifeboat.Errorf(lifeboat.ECONFLICT, "the storage refused: the object is under Object Lock")
		}
		return fmt.Errorf("prune %s: %w", d.Key, err)
	}
	if err := st.Delete(ctx, blob.ManifestKey(d.Key)); err != nil {
		return fmt.Errorf("prune %s: %w", d.Key, err)
	}
	if d.RunID == 0 {
		return nil
	}
	if copyRow {
		if err := r.deps.Store.CopyPrune(ctx, d.RunID, d.Storage, reason); err != nil {
			return err
		}
	}
	if others {
		return nil
	}
	return r.deps.Store.ArtifactPrune(ctx, d.RunID, reason)
}

// policyOf is the target's retention policy in its time zone.
func policyOf(t *config.Target) (retention.Policy, error) {
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return retention.Policy{}, fmt.Errorf("target %s: %w", t.Name, err)
	}
	rp := t.Retention
	return retention.Policy{KeepLast: rp.KeepLast, KeepDaily: rp.KeepDaily, KeepWeekly: rp.KeepWeekly,
		KeepMonthly: rp.KeepMonthly, KeepYearly: rp.KeepYearly, MinVerified: rp.MinVerified,
		UnverifiedGrace: rp.UnverifiedGrace, PartialGrace: rp.PartialGrace, Location: loc}, nil
}

// planRetention gathers the target's backups from its history and from
// every storage that holds them, and plans.
func (r *Runner) planRetention(ctx context.Context, t *config.Target) (retentionPlan, error) {
	p, err := policyOf(t)
	if err != nil {
		return retentionPlan{}, err
	}
	h, err := r.deps.Store.RetentionHistory(ctx, t.Name)
	if err != nil {
		return retentionPlan{}, err
	}
	// The target's storages, and any other its stored backups were written to.
	names := slices.Clone(t.StorageNames())
	for _, b := range h.Backups {
		if !slices.Contains(names, b.Storage) {
			names = append(names, b.Storage)
		}
	}
	// GFS holds on each storage on its own: a copy counts where it is good.
	var decisions []retention.Decision
	now := r.deps.Now()
	for _, name := range names {
		var backups []retention.Backup
		st, ok := r.catalog().Stores[name]
		if !ok {
			// Backups in a storage no longer configured can be neither seen
			// nor deleted: they are left out of the plan.
			r.deps.Logger.Warn("retention skips backups in an unconfigured storage", "target", t.Name, "storage", name)
			continue
		}
		listed, err := listBackups(ctx, st, t.Name)
		if err != nil {
			return retentionPlan{}, fmt.Errorf("retention of %s: storage %s: %w", t.Name, name, err)
		}
		for _, b := range h.Backups {
			if b.Storage != name {
				continue
			}
			l := listed[b.Key]
			delete(listed, b.Key)
			// A copy that failed its write or read-back is no verified
			// backup here, whatever its run proved with another copy.
			verified := b.Status == lifeboat.RunSucceeded && (b.Copy == nil || b.Copy.Status != lifeboat.CopyFailed)
			backups = append(backups, retention.Backup{RunID: b.RunID, Storage: name, Key: b.Key,
				CreatedAt: b.CreatedAt, Verified: verified,
				Manifest: l.manifest != nil, Missing: l.object == nil, Status: b.Status})
		}
		// What is left is unknown to history: a backup stage that stored its
		// object but failed before recording it, or a previous installation's.
		for key, l := range listed {
			at := l.modified()
			backups = append(backups, retention.Backup{Storage: name, Key: key, CreatedAt: at,
				Manifest: l.manifest != nil, Missing: l.object == nil,
				PredatesHistory: h.FirstRunAt.IsZero() || at.Before(h.FirstRunAt)})
		}
		decisions = append(decisions, retention.Plan(p, backups, h.LatestRunFailed, now)...)
	}
	keepAcrossCopies(decisions, h.Backups, now)
	// Newest first across storages, as one storage's plan is.
	slices.SortStableFunc(decisions, func(a, b retention.Decision) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return int(b.RunID - a.RunID)
	})
	return retentionPlan{policy: p, latestRunFailed: h.LatestRunFailed, decisions: decisions, history: h.Backups}, nil
}

// keepAcrossCopies applies what no single storage's plan can see:
//   - a copy under Object Lock is never deleted before its retain-until
//     date (the server would refuse anyway);
//   - the last good copy of a backup is never deleted while any storage's
//     plan keeps that backup: when the storages that keep it hold only a
//     failed or missing copy, the good copies elsewhere stay.
func keepAcrossCopies(ds []retention.Decision, history []store.StoredBackup, now time.Time) {
	copyOf := map[[2]string]*lifeboat.Copy{}
	for _, b := range history {
		if b.Copy != nil {
			copyOf[[2]string{b.Storage, b.Key}] = b.Copy
		}
	}
	good := func(d retention.Decision) bool {
		c := copyOf[[2]string{d.Storage, d.Key}]
		return d.Manifest && !d.Missing && (c == nil || c.Status == lifeboat.CopyVerified)
	}
	keptGood, keptAny := map[int64]bool{}, map[int64]string{}
	for _, d := range ds {
		if d.RunID == 0 || !d.Keep {
			continue
		}
		keptAny[d.RunID] = d.Storage
		if good(d) {
			keptGood[d.RunID] = true
		}
	}
	for i := range ds {
		d := &ds[i]
		if d.Keep {
			continue
		}
		if c := copyOf[[2]string{d.Storage, d.Key}]; c != nil && c.Locked(now) {
			d.Keep, d.Reasons = true, []string{fmt.Sprintf("%s; locked until %s (Object Lock)", strings.Join(d.Reasons, "; "),
				c.LockedUntil.UTC().Format(time.RFC3339))}
			continue
		}
		if where, ok := keptAny[d.RunID]; ok && !keptGood[d.RunID] && good(*d) {
			d.Keep, d.Reasons = true, []string{fmt.Sprintf("last good copy of a backup kept on %s, whose copy is not good", where)}
			keptGood[d.RunID] = true
		}
	}
}

// listedBackup is an object key's object and manifest as a listing found them.
type listedBackup struct {
	object, manifest *blob.Info
}

// modified is when the object (or, without it, its manifest) was written.
func (l listedBackup) modified() time.Time {
	if l.object != nil {
		return l.object.Modified
	}
	return l.manifest.Modified
}

// listBackups lists the target's backup objects and manifests by object
// key. Other keys under the target's folder are not lifeboat's to judge.
func listBackups(ctx context.Context, st blob.Store, target string) (map[string]listedBackup, error) {
	infos, err := st.List(ctx, target+"/")
	if err != nil {
		return nil, err
	}
	out := map[string]listedBackup{}
	for _, info := range infos {
		switch {
		case strings.HasSuffix(info.Key, blob.ObjectSuffix+blob.ManifestSuffix):
			key := strings.TrimSuffix(info.Key, blob.ManifestSuffix)
			l := out[key]
			l.manifest = &info
			out[key] = l
		case strings.HasSuffix(info.Key, blob.ObjectSuffix):
			l := out[info.Key]
			l.object = &info
			out[info.Key] = l
		}
	}
	return out, nil
}

// RetentionPlan is a dry run of a target's retention policy, as the API
// shows it (openapi.yaml's RetentionPlan).
type RetentionPlan struct {
	Target          string          `json:"target"`
	Policy          RetentionPolicy `json:"policy"`
	LatestRunFailed bool            `json:"latest_run_failed"`
	Backups         []PlannedBackup `json:"backups"` // newest first
}

// RetentionPolicy is a target's policy with its defaults applied.
type RetentionPolicy struct {
	Enabled                bool   `json:"enabled"`
	KeepLast               int    `json:"keep_last"`
	KeepDaily              int    `json:"keep_daily"`
	KeepWeekly             int    `json:"keep_weekly"`
	KeepMonthly            int    `json:"keep_monthly"`
	KeepYearly             int    `json:"keep_yearly"`
	MinVerified            int    `json:"min_verified"`
	UnverifiedGraceSeconds int64  `json:"unverified_grace_seconds"`
	PartialGraceSeconds    int64  `json:"partial_grace_seconds"`
	Timezone               string `json:"timezone"`
}

// PlannedBackup is one backup and what the policy does with it.
type PlannedBackup struct {
	RunID     int64              `json:"run_id,omitempty"` // absent for an object unknown to history
	Status    lifeboat.RunStatus `json:"status,omitempty"`
	Storage   string             `json:"storage"`
	Key       string             `json:"key"`
	CreatedAt time.Time          `json:"created_at"`
	Verified  bool               `json:"verified"`
	Manifest  bool               `json:"manifest"`
	Keep      bool               `json:"keep"`
	Reasons   []string           `json:"reasons"`
}

// RetentionPlan returns a *RetentionPlan for target, deleting nothing. It
// returns any so the API can declare the method without importing jobs.
func (r *Runner) RetentionPlan(ctx context.Context, target string) (any, error) {
	t, ok := r.conf().Target(target)
	if !ok {
		return nil, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no target named %q", target)}
	}
	plan, err := r.planRetention(ctx, t)
	if err != nil {
		return nil, err
	}
	p := plan.policy
	out := &RetentionPlan{Target: t.Name, LatestRunFailed: plan.latestRunFailed, Backups: []PlannedBackup{},
		Policy: RetentionPolicy{Enabled: p.Enabled(), KeepLast: p.KeepLast, KeepDaily: p.KeepDaily,
			KeepWeekly: p.KeepWeekly, KeepMonthly: p.KeepMonthly, KeepYearly: p.KeepYearly, MinVerified: p.MinVerified,
			UnverifiedGraceSeconds: int64(p.UnverifiedGrace / time.Second), PartialGraceSeconds: int64(p.PartialGrace / time.Second),
			Timezone: t.Timezone}}
	for _, d := range plan.decisions {
		out.Backups = append(out.Backups, PlannedBackup{RunID: d.RunID, Status: d.Status, Storage: d.Storage, Key: d.Key,
			CreatedAt: d.CreatedAt, Verified: d.Verified, Manifest: d.Manifest, Keep: d.Keep, Reasons: d.Reasons})
	}
	return out, nil
}
