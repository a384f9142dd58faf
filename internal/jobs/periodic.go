package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// QueueMaintenance runs the periodic jobs (schedule tick, watchdog,
// retention, janitor), apart from the stages.
const QueueMaintenance = "maintenance"

// periodicJobs registers each periodic job's worker and returns the jobs.
// Every process configures them (RunOnStart); River's elected leader alone
// inserts them, and each job's work is safe to run twice.
func (r *Runner) periodicJobs(workers *river.Workers, opts Options) []*river.PeriodicJob {
	var out []*river.PeriodicJob
	out = append(out, r.schedulerJobs(workers, opts)...)
	out = append(out, r.watchdogJobs(workers, opts)...)
	out = append(out, r.retentionJobs(workers, opts)...)
	out = append(out, r.janitorJobs(workers, opts)...)
	out = append(out, r.livenessJobs(workers, opts)...)
	return out
}

// every makes a periodic job that inserts args every d, and once at start.
func every(d time.Duration, args river.JobArgs) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(d),
		func() (river.JobArgs, *river.InsertOpts) {
			return args, &river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true})
}
