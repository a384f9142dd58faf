package jobs

import (
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Client is the River client, for River's own UI (api.NewRiverUI) to read
// and manage the queue with.
func (r *Runner) Client() *river.Client[pgx.Tx] { return r.client }
