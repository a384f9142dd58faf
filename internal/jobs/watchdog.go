package jobs

import "github.com/riverqueue/river"

// watchdogJobs registers the watchdog's workers and periodic jobs (not yet built).
func (r *Runner) watchdogJobs(workers *river.Workers, opts Options) []*river.PeriodicJob { return nil }
