package jobs

import "github.com/riverqueue/river"

// janitorJobs registers the janitor's workers and periodic jobs (not yet built).
func (r *Runner) janitorJobs(workers *river.Workers, opts Options) []*river.PeriodicJob { return nil }
