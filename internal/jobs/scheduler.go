package jobs

import "github.com/riverqueue/river"

// schedulerJobs registers the schedule tick (being built).
func (r *Runner) schedulerJobs(workers *river.Workers, opts Options) []*river.PeriodicJob { return nil }
