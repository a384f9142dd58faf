package app

import (
	"context"
	"net/url"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/config"
)

// APICatalog serves the API's targets, storages and notifiers from the
// catalog (the config file's and the managed ones), secrets reduced to
// whether they are set: api.CatalogAdmin and api.TargetSource.
type APICatalog struct{ cat *Catalog }

// NewAPICatalog adapts cat to the API.
func NewAPICatalog(cat *Catalog) APICatalog { return APICatalog{cat: cat} }

var (
	_ api.CatalogAdmin = APICatalog{}
	_ api.TargetSource = APICatalog{}
)

func (c APICatalog) source(kind, name string) string {
	if c.cat.Managed(kind, name) {
		return "api"
	}
	return "file"
}

func (c APICatalog) Put(ctx context.Context, kind, name string, body []byte, replace bool) error {
	return c.cat.Put(ctx, kind, name, body, replace)
}

func (c APICatalog) Delete(ctx context.Context, kind, name string) error {
	return c.cat.Delete(ctx, kind, name)
}

func (c APICatalog) TestStorage(ctx context.Context, name string) (lifeboat.ProbeResult, error) {
	return c.cat.TestStorage(ctx, name)
}

func (c APICatalog) TestNotifier(ctx context.Context, name string) (lifeboat.ProbeResult, error) {
	return c.cat.TestNotifier(ctx, name)
}

func (c APICatalog) TargetConfigs(context.Context) ([]api.TargetConfig, error) {
	ts := apiTargets(c.cat.Config())
	for i := range ts {
		ts[i].Source = c.source(config.KindTarget, ts[i].Name)
	}
	return ts, nil
}

func (c APICatalog) Storages(context.Context) ([]api.StorageConfig, error) {
	cfg := c.cat.Config()
	out := make([]api.StorageConfig, 0, len(cfg.Storages))
	for _, s := range cfg.Storages {
		out = append(out, api.StorageConfig{Name: s.Name, Kind: s.Kind, Source: c.source(config.KindStorage, s.Name),
			Path: s.Path, Bucket: s.Bucket, Prefix: s.Prefix, Endpoint: s.Endpoint, Region: s.Region, KeyID: s.AccessKeyID,
			SecretKeySet: s.SecretAccessKey != "", PartSizeMB: s.PartSizeMB})
	}
	return out, nil
}

func (c APICatalog) Notifiers(context.Context) ([]api.NotifierConfig, error) {
	cfg := c.cat.Config()
	out := make([]api.NotifierConfig, 0, len(cfg.Notifiers))
	for _, n := range cfg.Notifiers {
		nc := api.NotifierConfig{Name: n.Name, Kind: n.Kind, Source: c.source(config.KindNotifier, n.Name),
			Style: n.Style, URLSet: n.URL != "", SecretSet: n.Secret != ""}
		if u, err := url.Parse(n.URL); err == nil {
			nc.Host = u.Hostname() // the path and query may carry the endpoint's token
		}
		out = append(out, nc)
	}
	return out, nil
}

// apiTargets is cfg's targets as the API shows them: secrets only as
// whether they are set.
func apiTargets(cfg *config.Config) api.StaticTargets {
	out := make(api.StaticTargets, 0, len(cfg.Targets))
	for _, t := range cfg.Targets {
		at := api.TargetConfig{Name: t.Name, Source: "file", DatabaseURLSet: t.DatabaseURL != "" || t.DatabaseURLFile != "",
			Schedule: t.Schedule, Timezone: t.Timezone, Storage: t.Storage, Notify: t.Notify, RowCounts: t.RowCounts,
			Overlap: t.Overlap, StageTimeout: t.StageTimeout, MaxAge: t.MaxAge,
			Retention: api.TargetRetention{KeepLast: t.Retention.KeepLast, KeepDaily: t.Retention.KeepDaily,
				KeepWeekly: t.Retention.KeepWeekly, KeepMonthly: t.Retention.KeepMonthly, KeepYearly: t.Retention.KeepYearly,
				MinVerified: t.Retention.MinVerified, UnverifiedGrace: t.Retention.UnverifiedGrace,
				PartialGrace: t.Retention.PartialGrace},
			TriggerSecretSet: t.TriggerSecret != "" || t.TriggerSecretFile != ""}
		for _, c := range t.Checks {
			at.Checks = append(at.Checks, api.TargetCheck{Name: c.Name, SQL: c.SQL, Expect: c.Expect, Timeout: c.Timeout})
		}
		out = append(out, at)
	}
	return out
}
