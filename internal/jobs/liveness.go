package jobs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// Liveness: every process that works jobs beats in the workers table every
// beatInterval under its River client id, and names the sandbox queue it
// serves. The leader's liveness pass (every livenessInterval) finds the
// stages whose worker stopped beating — the one working a job, or the one
// whose sandbox a verify job waits for — and fails them with that reason
// through the janitor's unstick, so a kill -9 is noticed within a minute
// or two instead of after the stage timeout.
const (
	beatInterval     = 15 * time.Second
	livenessInterval = 30 * time.Second
)

// LivenessArgs is the periodic liveness pass.
type LivenessArgs struct{}

func (LivenessArgs) Kind() string { return "lifeboat.liveness" }

type livenessWorker struct {
	river.WorkerDefaults[LivenessArgs]
	r *Runner
}

func (w *livenessWorker) Work(ctx context.Context, _ *river.Job[LivenessArgs]) error {
	log := w.r.deps.Logger.With("component", "liveness")
	var rep JanitorReport
	errs := w.r.janitorStuckRuns(ctx, w.r.deps.Now(), log, &rep)
	if len(rep.RunsFailed) > 0 {
		log.Warn(fmt.Sprintf("failed %d run(s) whose worker stopped answering or stage overran", len(rep.RunsFailed)))
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func (r *Runner) livenessJobs(workers *river.Workers, opts Options) []*river.PeriodicJob {
	river.AddWorker(workers, &livenessWorker{r: r})
	return []*river.PeriodicJob{every(opts.LivenessInterval, LivenessArgs{})}
}

// beater keeps this process's workers row fresh until stopped.
type beater struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *Runner) startBeat(ctx context.Context) error {
	host, _ := os.Hostname()
	beat := func(ctx context.Context) error {
		return r.deps.Store.WorkerBeat(ctx, r.workerID, host, os.Getpid(), r.sandboxQueue)
	}
	r.forgetDeadLocalWorkers(ctx, host)
	if err := beat(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b := &beater{cancel: cancel}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(beatInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				bctx, c := context.WithTimeout(ctx, beatInterval)
				if err := beat(bctx); err != nil {
					r.deps.Logger.Warn("worker heartbeat: " + err.Error())
				}
				c()
			}
		}
	}()
	r.beat = b
	return nil
}

// forgetDeadLocalWorkers removes the rows of workers on this host whose
// process no longer exists: a restart after a crash (kill -9, OOM) then
// fails their stages at the next liveness pass instead of after
// WorkerStale. A reused pid only delays that to the stale timeout.
func (r *Runner) forgetDeadLocalWorkers(ctx context.Context, host string) {
	pids, err := r.deps.Store.WorkerPIDsOnHost(ctx, host)
	if err != nil {
		r.deps.Logger.Warn(err.Error())
		return
	}
	for id, pid := range pids {
		if id == r.workerID || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if err := r.deps.Store.WorkerGone(ctx, id); err != nil {
			r.deps.Logger.Warn(err.Error())
			continue
		}
		r.deps.Logger.Info("forgot worker " + id + ": its process is gone")
	}
}

// stopBeat stops beating and removes this worker's row: its jobs have
// been handed back or finished by now.
func (r *Runner) stopBeat() {
	if r.beat == nil {
		return
	}
	r.beat.cancel()
	r.beat.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.deps.Store.WorkerGone(ctx, r.workerID); err != nil {
		r.deps.Logger.Warn(err.Error())
	}
	r.beat = nil
}

// goneReason says which worker of a run's jobs stopped answering, or "".
func goneReason(a store.ActiveRun) string {
	for _, j := range a.Jobs {
		if j.Gone != "" {
			return fmt.Sprintf("worker %s stopped answering (no heartbeat for %s) while holding this run's %s job",
				j.Gone, store.WorkerStale, stageOfKind(j.Kind))
		}
	}
	return ""
}

// stageOfKind is the stage a job kind runs: kinds are "lifeboat.<stage>".
func stageOfKind(kind string) string { return strings.TrimPrefix(kind, "lifeboat.") }
