// Package app turns a loaded config into the live parts every entry point
// shares: storage clients, notifiers and the stage workers' dependencies.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/outbound"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// Storages builds one client per configured storage (one S3 client each,
// reused by every run).
func Storages(ctx context.Context, cfg *config.Config, log *slog.Logger) (map[string]blob.Store, error) {
	allow, err := outbound.ParseAllow(cfg.Outbound.Allow)
	if err != nil {
		return nil, err
	}
	out := make(map[string]blob.Store, len(cfg.Storages))
	for i, s := range cfg.Storages {
		switch s.Kind {
		case "fs":
			fs, err := blob.NewFS(s.Path)
			if err != nil {
				return nil, fmt.Errorf("storages[%d] (%s): %w", i, s.Name, err)
			}
			out[s.Name] = fs
		case "s3":
			o := blob.S3Options{
				Endpoint: s.Endpoint, Region: s.Region, Bucket: s.Bucket, Prefix: s.Prefix,
				AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, CAFile: s.CAFile,
				PartSize: int64(s.PartSizeMB) << 20, Allow: allow,
			}
			if s.ObjectLock.Enabled() {
				o.Lock = &blob.ObjectLock{Mode: s.ObjectLock.Mode, Days: s.ObjectLock.Days}
			}
			s3, err := blob.NewS3(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("storages[%d] (%s): %w", i, s.Name, err)
			}
			// A missing bucket is created (self-hosted S3 and the demo start
			// empty); lacking the permission to, we carry on and let runs say so.
			ectx, cancel := context.WithTimeout(ctx, 15*time.Second)
			if err := s3.EnsureBucket(ectx); err != nil {
				log.Warn("could not check or create bucket", "storage", s.Name, "bucket", s.Bucket, "err", err)
			}
			// A lock the bucket cannot hold is a configuration error: said
			// at start-up, not discovered by the first backup's failure.
			err = s3.CheckObjectLock(ectx)
			cancel()
			if lifeboat.ErrorCode(err) == lifeboat.EINVALID {
				return nil, fmt.Errorf("storages[%d].object_lock (%s): %w", i, s.Name, err)
			}
			if err != nil {
				log.Warn("could not check the bucket's Object Lock", "storage", s.Name, "bucket", s.Bucket, "err", err)
			}
			out[s.Name] = s3
		}
	}
	return out, nil
}

// Senders builds the notifiers behind one guarded HTTP client. logs feeds
// the last lines of a run's log to healthchecks-style heartbeats (nil: none).
func Senders(cfg *config.Config, logs notify.LogSource) (map[string]notify.Sender, error) {
	allow, err := outbound.ParseAllow(cfg.Outbound.Allow)
	if err != nil {
		return nil, err
	}
	client := notify.NewClient(allow, 10*time.Second)
	out := make(map[string]notify.Sender, len(cfg.Notifiers))
	for i, n := range cfg.Notifiers {
		var s notify.Sender
		var err error
		switch n.Kind {
		case "slack":
			s, err = notify.NewSlack(n.Name, n.URL, client)
		case "heartbeat":
			s, err = notify.NewStyledHeartbeat(n.Name, n.URL,
				notify.HeartbeatOptions{Style: notify.HeartbeatStyle(n.Style), Logs: logs}, client)
		case "webhook":
			var secrets [][]byte
			for _, part := range strings.Fields(n.Secret) {
				b, perr := notify.ParseSecret(part)
				if perr != nil {
					return nil, fmt.Errorf("notifiers[%d].%w", i, perr)
				}
				secrets = append(secrets, b)
			}
			s, err = notify.NewWebhook(n.Name, n.URL, secrets, client)
		}
		if err != nil {
			return nil, fmt.Errorf("notifiers[%d] (%s): %w", i, n.Name, err)
		}
		out[n.Name] = s
	}
	return out, nil
}

// Deps builds the stage workers' dependencies from cfg.
func Deps(ctx context.Context, cfg *config.Config, st *store.Store, getenv func(string) string, log *slog.Logger) (jobs.Deps, error) {
	recipients, _, err := cfg.Recipients()
	if err != nil {
		return jobs.Deps{}, err
	}
	identities, err := cfg.Identities()
	if err != nil {
		// Backup-only hosts may hold recipients alone; restore stages will fail clearly.
		log.Warn("no age identity configured: restore stages cannot decrypt", "err", err)
	}
	stores, err := Storages(ctx, cfg, log)
	if err != nil {
		return jobs.Deps{}, err
	}
	senders, err := Senders(cfg, st.LogTail)
	if err != nil {
		return jobs.Deps{}, err
	}
	return jobs.Deps{
		Store: st, Config: cfg, Stores: stores, Senders: senders,
		Recipients: recipients, Identities: identities, Getenv: getenv, Logger: log,
	}, nil
}
