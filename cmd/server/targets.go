package main

import (
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/config"
)

// apiTargets is the config file's targets as the API shows them: secrets
// only as whether they are set.
func apiTargets(cfg *config.Config) api.StaticTargets {
	out := make(api.StaticTargets, 0, len(cfg.Targets))
	for _, t := range cfg.Targets {
		at := api.TargetConfig{Name: t.Name, DatabaseURLSet: t.DatabaseURL != "" || t.DatabaseURLFile != "",
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
