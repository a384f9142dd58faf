package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	lbapp "github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
)

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfgPath := commonFlags(fs, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	url := getenv("LIFEBOAT_DATABASE_URL")
	if *cfgPath != "" || getenv("LIFEBOAT_CONFIG") != "" {
		cfg, err := loadConfig(*cfgPath, getenv)
		if err != nil {
			return err
		}
		url = cfg.DatabaseURL
	}
	if url == "" {
		return errors.New("migrate: give --config FILE or set LIFEBOAT_DATABASE_URL")
	}
	st, err := openStore(ctx, url) // applies migrations
	if err != nil {
		return err
	}
	st.Pool().Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// cmdRun runs one whole pipeline in the foreground (for cron and CI users):
// exit 0 only when the backup was restored and verified.
func cmdRun(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := commonFlags(fs, stderr)
	target := fs.String("target", "", "target to back up and verify")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return errors.New("--target: required")
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, getenv)
	a, err := openApp(ctx, cfg, getenv, log, jobs.Options{Workers: 1, NoPeriodic: true})
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.runner.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.runner.Stop(sctx)
	}()
	run, err := a.runner.StartRun(ctx, *target, lifeboat.TriggerCLI)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %d of %s started\n", run.ID, *target)
	run, err = a.runner.WaitRun(ctx, run.ID)
	if err != nil {
		return fmt.Errorf("run %d: %w", run.ID, err)
	}
	// Webhooks are sent by their own jobs: let each be tried once before
	// this process exits (retries go to the next process working jobs).
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := a.runner.WaitDeliveries(wctx, run.ID); err != nil {
		log.Warn("webhooks not yet sent", "err", err)
	}
	cancel()
	for _, s := range run.Stages {
		fmt.Fprintf(stdout, "  %-8s %s\n", s.Name, s.Status)
	}
	if run.Status != lifeboat.RunSucceeded {
		return fmt.Errorf("run %d %s: %s", run.ID, run.Status, firstLine(run.Error))
	}
	fmt.Fprintf(stdout, "run %d succeeded: %s (%d bytes, sha256 %s) restored and verified\n",
		run.ID, run.Artifact.Key, run.Artifact.StoredBytes, run.Artifact.SHA256)
	return nil
}

// cmdRestore is disaster recovery: it needs only the stored object, its
// manifest and the age identity — not lifeboat's own database.
func cmdRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	cfgPath := commonFlags(fs, stderr)
	object := fs.String("object", "", "object key of the backup (as in the run's artifact)")
	intoFlag := addIntoFlags(fs)
	clean := fs.Bool("clean", false, "restore into a database that is not empty, dropping and recreating the backup's objects")
	storage := fs.String("storage", "", "storage holding the object (default: the only one configured)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *object == "" {
		return errors.New("--object: required")
	}
	into, err := intoFlag.resolve(getenv, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, getenv)
	name := *storage
	if name == "" {
		if len(cfg.Storages) != 1 {
			return errors.New("--storage: required when the config has more than one storage")
		}
		name = cfg.Storages[0].Name
	}
	if _, ok := cfg.Storage(name); !ok {
		return fmt.Errorf("--storage: no storage named %q", name)
	}
	ids, err := cfg.Identities()
	if err != nil {
		return err
	}
	stores, err := lbapp.Storages(ctx, cfg, log)
	if err != nil {
		return err
	}
	// A key that names nothing is said so, before the database is touched.
	if _, err := stores[name].Stat(ctx, *object); errors.Is(err, lifeboat.ErrNotFound) {
		return fmt.Errorf("--object: no backup at %s in storage %s", *object, name)
	} else if err != nil {
		return fmt.Errorf("--object: %s in storage %s: %w", *object, name, err)
	}
	res, err := pipeline.RestoreInto(ctx, pipeline.RestoreIntoInput{
		Store: stores[name], Key: *object, Identities: ids, IntoURL: into, Clean: *clean,
		Jobs: cfg.Restore.Jobs, SpoolDir: cfg.Restore.SpoolDir, Getenv: getenv, Log: log,
	})
	var intoErr *pipeline.TargetError
	if errors.As(err, &intoErr) {
		return fmt.Errorf("--into: %w", cliIntoError(err))
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", *object, err)
	}
	printRestored(stdout, *object, pgtool.Redact(into), res)
	return nil
}

// printRestored says what a restore proved and what it did not: the
// object's hash, the tables' row counts and the other relations against
// the manifest were checked here; the target's SQL checks were not, and
// whether the backup's own run passed verification is only in lifeboat's
// database.
func printRestored(w io.Writer, key, into string, res pipeline.RestoreIntoResult) {
	m := res.Manifest
	fmt.Fprintf(w, "restored %s into %s in %.1fs\n", key, into, res.Metrics.Seconds)
	fmt.Fprintf(w, "  backup:       run %d of %s, taken %s\n", m.RunID, m.Target, m.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "  checked:      sha256 %s matches the manifest; %d tables hold their dump-time row counts; %d other relations present\n",
		m.SHA256, len(m.Source.Tables), len(m.Source.Objects))
	fmt.Fprintf(w, "  not checked:  the target's SQL checks, and whether run %d passed its verification (its run page or GET /api/v1/runs/%d says)\n",
		m.RunID, m.RunID)
}

// cliIntoError words a refusal of the database for the command line: a
// database that is not empty is restored into with --clean.
func cliIntoError(err error) error {
	var ne *pipeline.NotEmptyError
	if errors.As(err, &ne) {
		return fmt.Errorf("database is not empty (%d relations): restore into an empty database, "+
			"or add --clean to drop and recreate the backup's objects (other objects stay)", ne.Relations)
	}
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
