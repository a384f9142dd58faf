package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// RestoreIntoArgs restores a backup into a database a person named
// (disaster recovery), as recorded in the restores row. The args carry no
// URL: River keeps job args in the clear, long after the job ends.
type RestoreIntoArgs struct {
	RestoreID int64 `json:"restore_id"`
}

func (RestoreIntoArgs) Kind() string { return "lifeboat.restore_into" }

// InsertOpts: a few attempts (only while nothing was written into the
// database, see pipeline.RestoreInto), never two jobs for one restore.
func (RestoreIntoArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// restoreLogTail is how many of a restore's last log lines RestoreGet returns.
const restoreLogTail = 200

// precheckTimeout bounds the look at the database a restore request makes
// before it is queued.
const precheckTimeout = 15 * time.Second

// RestoreBackup queues a restore of a backup into the database at
// req.DatabaseURL and returns it. It refuses at once what the worker would
// refuse: an unknown (ENOTFOUND) or pruned (EGONE) backup, a URL that is
// not a postgres:// URL or cannot be connected to (EINVALID), and a
// database that is not empty without req.Clean (ECONFLICT); the worker
// checks again, as the database may change meanwhile.
//
// The URL's password is never stored in the clear: the restores row keeps
// the URL without it for display, and the whole URL sealed with age to
// lifeboat's backup recipients (the restore worker already holds the
// identity, since it decrypts the backup; whoever holds it can read every
// backup anyway). The sealed URL is erased when the restore ends.
func (r *Runner) RestoreBackup(ctx context.Context, req lifeboat.RestoreRequest) (lifeboat.Restore, error) {
	var out lifeboat.Restore
	redacted, err := redactURL(req.DatabaseURL)
	if err != nil {
		return out, err
	}
	b, _, err := r.storedBackup(ctx, req.BackupID)
	if err != nil {
		return out, err
	}
	if len(r.deps.Recipients) == 0 {
		return out, errors.New("no age recipients configured: the database URL cannot be sealed")
	}
	cctx, cancel := context.WithTimeout(ctx, precheckTimeout)
	err = pipeline.CheckRestoreTarget(cctx, req.DatabaseURL, req.Clean)
	cancel()
	if err != nil {
		return out, databaseURLError(err)
	}
	sealed, err := seal(req.DatabaseURL, r.deps.Recipients)
	if err != nil {
		return out, err
	}
	var id int64
	err = r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		if id, err = tx.RestoreCreate(ctx, b, redacted, sealed, req.Clean); err != nil {
			return err
		}
		if _, err := r.client.InsertTx(ctx, tx.PgxTx(), RestoreIntoArgs{RestoreID: id}, nil); err != nil {
			return fmt.Errorf("enqueue restore %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	return r.RestoreGet(ctx, id)
}

// RestoreGet returns a restore with its last log lines.
func (r *Runner) RestoreGet(ctx context.Context, id int64) (lifeboat.Restore, error) {
	rs, err := r.deps.Store.RestoreGet(ctx, id)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return rs, lifeboat.Errorf(lifeboat.ENOTFOUND, "restore %d not found", id)
	}
	if err != nil {
		return rs, err
	}
	rs.Logs, err = r.deps.Store.RestoreLogTail(ctx, id, restoreLogTail)
	return rs, err
}

// databaseURLError names the request's field in front of a refusal of the
// database, keeping its code (a connection failure is the caller's to fix).
func databaseURLError(err error) error {
	code := lifeboat.ErrorCode(err)
	if code != lifeboat.ECONFLICT {
		code = lifeboat.EINVALID
	}
	return &lifeboat.Error{Code: code, Message: "database_url: " + err.Error()}
}

// redactURL checks that raw is a postgres:// URL and returns it without its
// password (in the user part or the query), for storing and showing.
func redactURL(raw string) (string, error) {
	invalid := lifeboat.Errorf(lifeboat.EINVALID, "database_url: must be a postgres:// URL naming a database")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || strings.Trim(u.Path, "/") == "" {
		return "", invalid
	}
	if _, _, err := pgtool.ConnArgs(raw); err != nil {
		return "", invalid
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func seal(s string, recipients []age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, fmt.Errorf("seal database URL: %w", err)
	}
	if _, err := io.WriteString(w, s); err != nil {
		return nil, fmt.Errorf("seal database URL: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal database URL: %w", err)
	}
	return buf.Bytes(), nil
}

func unseal(sealed []byte, identities []age.Identity) (string, error) {
	if len(identities) == 0 {
		return "", lifeboat.Permanent(errors.New("no age identity configured: cannot decrypt the database URL or the backup"))
	}
	rd, err := age.Decrypt(bytes.NewReader(sealed), identities...)
	if err != nil {
		return "", lifeboat.Permanent(fmt.Errorf("decrypt the database URL: %w", err))
	}
	b, err := io.ReadAll(io.LimitReader(rd, 64<<10))
	if err != nil {
		return "", lifeboat.Permanent(fmt.Errorf("decrypt the database URL: %w", err))
	}
	return string(b), nil
}

// restoreLogs adapts the restore log to runLogHandler, so restores log the
// way stages do (persisted, and forwarded to the process log).
type restoreLogs struct{ st *store.Store }

func (l restoreLogs) LogAppend(ctx context.Context, id int64, _ lifeboat.StageName, ts time.Time, level, message string) error {
	return l.st.RestoreLogAppend(ctx, id, ts, level, message)
}

func (r *Runner) restoreLogger(id int64) *slog.Logger {
	return slog.New(&runLogHandler{runID: id, dst: restoreLogs{r.deps.Store},
		next: r.deps.Logger.Handler().WithAttrs([]slog.Attr{slog.Int64("restore_id", id)})})
}

type restoreIntoWorker struct {
	river.WorkerDefaults[RestoreIntoArgs]
	r *Runner
}

// Timeout is the backup's target's stage timeout (a scratch restore of the
// same backup is held to it), 6 h when unset or the target is gone.
func (w *restoreIntoWorker) Timeout(job *river.Job[RestoreIntoArgs]) time.Duration {
	rs, err := w.r.deps.Store.RestoreGet(context.Background(), job.Args.RestoreID)
	if err == nil {
		if t, ok := w.r.conf().Target(rs.Target); ok && t.StageTimeout > 0 {
			return t.StageTimeout
		}
	}
	return 6 * time.Hour
}

func (w *restoreIntoWorker) NextRetry(job *river.Job[RestoreIntoArgs]) time.Time {
	return time.Now().Add(w.r.deps.Backoff(job.Attempt))
}

func (w *restoreIntoWorker) Work(ctx context.Context, job *river.Job[RestoreIntoArgs]) error {
	id := job.Args.RestoreID
	st := w.r.deps.Store
	rs, err := st.RestoreGet(ctx, id)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if rs.Status.Finished() {
		return nil
	}
	if err := st.RestoreStart(ctx, id, job.Attempt); err != nil {
		return err
	}
	log := w.r.restoreLogger(id)
	if job.Attempt > 1 {
		log.Info(fmt.Sprintf("attempt %d of %d", job.Attempt, job.MaxAttempts))
	}
	res, err := w.r.restoreInto(ctx, rs, log)
	if errors.Is(ctx.Err(), context.Canceled) {
		// Shutdown: River runs the job again after restart. A snooze is not
		// an attempt; the next one refuses a half-filled database unless clean.
		log.Warn("stopped by shutdown; the restore will run again")
		return river.JobSnooze(5 * time.Second)
	}
	status := lifeboat.RestoreSucceeded
	reason := ""
	if err != nil {
		if lifeboat.ErrorCode(err) == lifeboat.EINTERNAL && job.Attempt < job.MaxAttempts && ctx.Err() == nil {
			log.Warn(fmt.Sprintf("attempt %d of %d failed, will retry: %v", job.Attempt, job.MaxAttempts, err))
			return err
		}
		status, reason = lifeboat.RestoreFailed, publicReason(err)
		log.Error("restore failed: " + reason)
	} else {
		log.Info(fmt.Sprintf("restore succeeded in %.1fs", res.Metrics.Seconds))
	}
	var metrics any
	if res.Metrics.PgRestoreVersion != "" {
		metrics = res.Metrics
	}
	return st.InTx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		if err := tx.RestoreFinish(ctx, id, status, reason, metrics, res.Checks); err != nil {
			return err
		}
		_, err := river.JobCompleteTx[*riverpgxv5.Driver, pgx.Tx](ctx, tx.PgxTx(), job)
		return err
	})
}

// restoreInto does one attempt of a restore.
func (r *Runner) restoreInto(ctx context.Context, rs lifeboat.Restore, log *slog.Logger) (pipeline.RestoreIntoResult, error) {
	var res pipeline.RestoreIntoResult
	sealed, err := r.deps.Store.RestoreSealedURL(ctx, rs.ID)
	if err != nil {
		return res, err
	}
	if sealed == nil {
		return res, lifeboat.Permanent(errors.New("the database URL was erased: ask for a new restore"))
	}
	into, err := unseal(sealed, r.deps.Identities)
	if err != nil {
		return res, err
	}
	b, st, err := r.storedBackup(ctx, rs.BackupID)
	if err != nil {
		return res, err
	}
	log.Info(fmt.Sprintf("restoring backup %d (%s, %d bytes) into %s", b.ID, b.Key, b.StoredBytes, rs.DatabaseURL))
	res, err = pipeline.RestoreInto(ctx, pipeline.RestoreIntoInput{
		Store: st, Key: b.Key, ExpectedSHA256: b.SHA256, Identities: r.deps.Identities,
		IntoURL: into, Clean: rs.Clean, Jobs: r.conf().Restore.Jobs, SpoolDir: r.spoolDir(),
		Getenv: r.deps.Getenv, Log: log,
	})
	var te *pipeline.TargetError
	if errors.As(err, &te) {
		err = fmt.Errorf("database_url: %w", err)
	}
	return res, err
}
