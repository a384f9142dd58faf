package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// RestoreIntoInput is a disaster-recovery restore: a chosen backup into a
// database a person names (lifeboat restore, POST /backups/{id}/restore).
type RestoreIntoInput struct {
	Store blob.Store
	Key   string
	// ExpectedSHA256 is lifeboat's record of the object's hash; empty when
	// only the manifest is known (lifeboat's own database may be gone).
	ExpectedSHA256 string
	Identities     []age.Identity
	// IntoURL is an existing database. It must hold no relation unless
	// Clean, which drops and recreates the backup's objects.
	IntoURL  string
	Clean    bool
	Jobs     int
	SpoolDir string
	Getenv   func(string) string
	Log      *slog.Logger
}

// RestoreIntoResult is what a disaster-recovery restore did.
type RestoreIntoResult struct {
	Manifest blob.Manifest
	Metrics  RestoreMetrics
	// Checks compare the restored database with the manifest's row counts
	// and schema inventory, as the verify stage would.
	Checks []lifeboat.CheckResult
}

// TargetError is a problem with the database restored into (unreachable,
// not empty, or being restored into already) rather than with the backup:
// callers name their database field in front of it.
type TargetError struct{ Err error }

func (e *TargetError) Error() string { return e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// restoreLockKey is the advisory lock a restore holds in the database it
// writes: two restores into one database would interleave.
const restoreLockKey = 0x11feb0a8

// CheckRestoreTarget connects to the database at url and refuses it when it
// holds any relation and clean is false (ECONFLICT). Errors never contain
// the URL's password.
func CheckRestoreTarget(ctx context.Context, url string, clean bool) error {
	conn, err := pgtool.Connect(ctx, url)
	if err != nil {
		return &TargetError{fmt.Errorf("connect: %w", err)}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return checkEmpty(ctx, conn, clean)
}

func checkEmpty(ctx context.Context, conn *pgx.Conn, clean bool) error {
	n, err := pgtool.UserRelations(ctx, conn)
	if err != nil {
		return &TargetError{fmt.Errorf("count relations: %w", err)}
	}
	if n > 0 && !clean {
		return &TargetError{&NotEmptyError{Relations: n}}
	}
	return nil
}

// NotEmptyError refuses a database that holds relations when the restore
// does not clean it (ECONFLICT). Callers that name the way out in their own
// terms (--clean on the command line) find it with errors.As.
type NotEmptyError struct{ Relations int }

func (e *NotEmptyError) Error() string { return e.Unwrap().Error() }

// Unwrap carries the code and the message meant for users.
func (e *NotEmptyError) Unwrap() error {
	return lifeboat.Errorf(lifeboat.ECONFLICT,
		"database is not empty (%d relations): restore into an empty database, or clean it to drop and recreate the backup's objects", e.Relations)
}

// RestoreInto restores a backup into an existing database: it refuses a
// non-empty one unless in.Clean, holds an advisory lock there so a second
// restore into the same database is refused, proves the object's sha256
// before pg_restore starts (a corrupted backup never half-restores), runs
// pg_restore --exit-on-error (--clean --if-exists with Clean) and compares
// the result with the manifest's row counts and schema inventory. Coded
// errors (lifeboat.Error) are final; others may be worth a retry.
func RestoreInto(ctx context.Context, in RestoreIntoInput) (RestoreIntoResult, error) {
	var res RestoreIntoResult
	log := in.Log
	lock, err := pgtool.Connect(ctx, in.IntoURL)
	if err != nil {
		return res, &TargetError{fmt.Errorf("connect: %w", err)}
	}
	defer lock.Close(context.WithoutCancel(ctx))
	var locked bool
	if err := lock.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", restoreLockKey).Scan(&locked); err != nil {
		return res, &TargetError{fmt.Errorf("lock database: %w", err)}
	}
	if !locked {
		return res, &TargetError{lifeboat.Errorf(lifeboat.ECONFLICT, "another lifeboat restore is writing into this database")}
	}
	if err := checkEmpty(ctx, lock, in.Clean); err != nil {
		return res, err
	}
	var super bool
	if err := lock.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err == nil && super {
		// A dump's functions (defaults, constraints, index expressions)
		// run with the restoring role's rights.
		log.Warn("restoring as a superuser: the backup's functions run with superuser rights on this server; " +
			"restore as the database's owner (a role without SUPERUSER) unless you trust every function in the backup")
	}
	// The manifest first: a backup no loaded identity can decrypt fails
	// here, naming its recipients, before the database is touched; and a
	// version-2 manifest's inventory, which the restored database is
	// compared with, is encrypted.
	m, err := ReadManifest(ctx, in.Store, in.Key, in.Identities)
	if err != nil {
		res.Manifest = m
		return res, err
	}
	if in.Clean {
		log.Info("restoring with --clean: the backup's objects are dropped and recreated; other objects stay")
	}
	// CheckFirst: the dump is spooled and its sha256 proven before pg_restore
	// starts. Streamed, a corrupted backup would be half restored into the
	// user's database before the mismatch shows.
	r, err := Restore(ctx, RestoreInput{
		Store: in.Store, Key: in.Key, ExpectedSHA256: in.ExpectedSHA256, Identities: in.Identities,
		IntoURL: in.IntoURL, Clean: in.Clean, Jobs: in.Jobs, CheckFirst: true, SpoolDir: in.SpoolDir,
		Getenv: in.Getenv, Log: log,
	})
	res.Manifest, res.Metrics = m, r.Metrics
	if err != nil {
		if lifeboat.ErrorCode(err) == lifeboat.EINTERNAL && !in.Clean && ctx.Err() == nil {
			// Retrying is safe only while nothing was written: a database
			// pg_restore has started to fill would be refused as not empty.
			if cerr := checkEmpty(ctx, lock, false); cerr != nil {
				err = lifeboat.Permanent(fmt.Errorf("%w; the database now holds part of the backup: restore again with clean, or into an empty database", err))
			}
		}
		return res, err
	}

	conn, err := pgtool.Connect(ctx, in.IntoURL)
	if err != nil {
		return res, fmt.Errorf("check restored database: connect: %w", err)
	}
	restored, err := verify.Inventory(ctx, conn, verify.CountExact)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return res, fmt.Errorf("check restored database: %w", err)
	}
	res.Checks = verify.CompareSnapshots(m.Source, restored)
	var failed []string
	for _, c := range res.Checks {
		if !c.Passed {
			failed = append(failed, fmt.Sprintf("%s: expected %s, observed %s", c.Name, c.Expected, c.Observed))
		}
	}
	if len(failed) > 0 {
		return res, lifeboat.Permanent(fmt.Errorf("restored, but the database differs from the source at dump time: %s", strings.Join(failed, "; ")))
	}
	log.Info(fmt.Sprintf("restored database matches the backup: %d tables with their dump-time row counts, %d other relations",
		len(m.Source.Tables), len(m.Source.Objects)))
	return res, nil
}
