package jobs

import "github.com/riverqueue/river"

// retentionJobs registers the retention's workers and periodic jobs (not yet built).
func (r *Runner) retentionJobs(workers *river.Workers, opts Options) []*river.PeriodicJob { return nil }
