package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
)

// SourceSessionName is the application_name of every session a run opens on
// its source (the snapshot connection and pg_dump's), so they can be told
// apart from the application's and ended with the stage.
func SourceSessionName(runID int64) string { return fmt.Sprintf("lifeboat run %d", runID) }

// sourceSessions are a backup's sessions on its source database.
type sourceSessions struct {
	plainURL    string // as configured: lifeboat's own side connections
	url         string // with application_name and lock_timeout
	app         string
	lockTimeout time.Duration
	log         *slog.Logger
}

func newSourceSessions(in BackupInput) (*sourceSessions, error) {
	s := &sourceSessions{plainURL: in.SourceURL, app: SourceSessionName(in.RunID), lockTimeout: in.LockTimeout, log: in.Log}
	u, err := pgtool.SessionURL(in.SourceURL, s.app, in.LockTimeout)
	if err != nil {
		return nil, lifeboat.Permanent(err)
	}
	s.url = u
	return s, nil
}

// end terminates what is left of the sessions on the server when the stage
// failed or its context ended (canceled, timed out, shut down): a killed
// pg_dump's backend would otherwise go on waiting for a lock, holding the
// locks it already has, until it next writes to its client.
func (s *sourceSessions) end(ctx context.Context, failed bool) {
	if ctx.Err() == nil && !failed {
		return
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	n, err := pgtool.EndSessions(ectx, s.plainURL, s.app)
	switch {
	case err != nil:
		s.log.Warn("could not end the stage's sessions on the source: " + err.Error())
	case n > 0:
		s.log.Info(fmt.Sprintf("ended %d session(s) of this run on the source", n))
	}
}

// explain turns a lock wait that gave up into an error naming the table and
// who holds it (pid, application, when its query and transaction started),
// read from pg_locks and pg_stat_activity while the holder still holds it.
// It stays a transient error: the stage is retried with backoff.
func (s *sourceSessions) explain(ctx context.Context, err error) error {
	if !pgtool.IsLockTimeout(err) {
		return err
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	blockers, berr := pgtool.LockBlockers(bctx, s.plainURL, s.app)
	if berr != nil {
		s.log.Warn("could not find who holds the lock: " + berr.Error())
	}
	if len(blockers) == 0 {
		return fmt.Errorf("a table lock was not granted within lock_timeout %s (its holder has gone since): %w", s.lockTimeout, err)
	}
	descr := make([]string, len(blockers))
	for i, b := range blockers {
		descr[i] = b.String()
	}
	return fmt.Errorf("%s; gave up waiting after lock_timeout %s: %w", strings.Join(descr, "; "), s.lockTimeout, err)
}
