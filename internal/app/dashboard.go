package app

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// Dashboard shows the configuration to the dashboard's pages
// (api.DashboardConfig). Every value that may hold a secret leaves through
// one of views' redactors; the rest (names, kinds, buckets, paths) is not
// secret.
type Dashboard struct {
	// Config is the current configuration (the config file's, or the
	// catalog's composed one).
	Config func() *config.Config
}

// TargetDatabaseURL is the target's connection string with its password
// and sensitive parameters masked.
func (d Dashboard) TargetDatabaseURL(_ context.Context, target string) (views.Redacted, error) {
	t, ok := d.Config().Target(target)
	if !ok {
		return views.Redacted{}, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("No target is named %q.", target)}
	}
	return views.RedactURL(t.DatabaseURL), nil
}

// Storages lists the storages: where each keeps backups, never its keys.
func (d Dashboard) Storages(context.Context) ([]views.StorageRow, error) {
	cfg := d.Config()
	out := make([]views.StorageRow, 0, len(cfg.Storages))
	for _, s := range cfg.Storages {
		row := views.StorageRow{Name: s.Name, Kind: s.Kind, Location: s.Path}
		if s.Kind == "s3" {
			row.Location = "s3://" + s.Bucket + "/" + s.Prefix
			row.Endpoint = views.RedactURL(s.Endpoint)
		}
		out = append(out, row)
	}
	return out, nil
}

// Notifiers lists the notifiers, each URL reduced to its host: chat
// webhooks and heartbeat URLs carry their token in the path.
func (d Dashboard) Notifiers(context.Context) ([]views.NotifierRow, error) {
	cfg := d.Config()
	out := make([]views.NotifierRow, 0, len(cfg.Notifiers))
	for _, n := range cfg.Notifiers {
		out = append(out, views.NotifierRow{Name: n.Name, Kind: n.Kind, Style: n.Style,
			Destination: views.RedactToHost(n.URL), SecretSet: n.Secret != "" || n.SecretFile != ""})
	}
	return out, nil
}

// RestoreSetup says where runs restore, for Settings: the sandbox (where,
// how many jobs) or the restore server (its URL masked) and whether a
// superuser was accepted there.
func (d Dashboard) RestoreSetup(context.Context) views.RestoreSetup {
	rc := d.Config().Restore
	out := views.RestoreSetup{Mode: rc.Mode, Jobs: rc.Jobs, SandboxDir: rc.SandboxDir, AllowSuperuser: rc.AllowSuperuser}
	if !rc.Sandboxed() {
		out.Server = views.RedactURL(rc.DatabaseURL)
	}
	return out
}

// AgeIdentityFile is the path of the age identity the configuration names
// (not secret: the key is in the file), for the pages' restore commands;
// "" when none is configured.
func (d Dashboard) AgeIdentityFile(context.Context) string {
	return d.Config().Encryption.CurrentIdentityFile()
}
