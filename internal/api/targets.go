package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// TargetSource lists the configured targets (the config file's today).
type TargetSource interface {
	TargetConfigs(ctx context.Context) ([]TargetConfig, error)
}

// TargetHealthReader summarizes targets' health (store.Store).
type TargetHealthReader interface {
	TargetHealth(ctx context.Context, targets []string) (map[string]lifeboat.TargetHealth, error)
}

// TargetConfig is a configured target as the API may show it: its secrets
// (database URL, trigger secret) are reduced to whether they are set, so
// no handler can return one.
type TargetConfig struct {
	Name             string
	Source           string // file | api
	DatabaseURLSet   bool
	Schedule         string // cron; empty: runs only when asked
	Timezone         string
	Storage          string
	Notify           []string
	RowCounts        string // exact | estimate
	Overlap          string // skip | queue
	StageTimeout     time.Duration
	MaxAge           time.Duration // 0: the watchdog's default window
	Checks           []TargetCheck
	Retention        TargetRetention
	TriggerSecretSet bool
}

// TargetCheck is one of a target's SQL checks.
type TargetCheck struct {
	Name, SQL, Expect string
	Timeout           time.Duration // 0: the default
}

// TargetRetention is a target's retention policy, defaults applied.
type TargetRetention struct {
	KeepLast, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly, MinVerified int
	UnverifiedGrace, PartialGrace                                         time.Duration
}

// StaticTargets is a fixed list of targets: the config file's.
type StaticTargets []TargetConfig

// TargetConfigs returns the targets.
func (st StaticTargets) TargetConfigs(context.Context) ([]TargetConfig, error) { return st, nil }

// targetView is a target in the API (openapi.yaml's Target).
type targetView struct {
	Name                string                `json:"name"`
	Source              string                `json:"source"`
	DatabaseURL         secretSet             `json:"database_url"`
	Schedule            string                `json:"schedule"`
	Timezone            string                `json:"timezone"`
	Storage             string                `json:"storage"`
	Notify              []string              `json:"notify"`
	RowCounts           string                `json:"row_counts"`
	Overlap             string                `json:"overlap"`
	StageTimeoutSeconds int64                 `json:"stage_timeout_seconds"`
	MaxAgeSeconds       *int64                `json:"max_age_seconds,omitempty"`
	Checks              []checkView           `json:"checks"`
	Retention           retentionView         `json:"retention"`
	TriggerSecret       secretSet             `json:"trigger_secret"`
	Health              lifeboat.TargetHealth `json:"health"`
}

// secretSet is how a write-only secret reads.
type secretSet struct {
	Set bool `json:"set"`
}

type checkView struct {
	Name           string `json:"name"`
	SQL            string `json:"sql"`
	Expect         string `json:"expect"`
	TimeoutSeconds *int64 `json:"timeout_seconds,omitempty"`
}

type retentionView struct {
	Enabled                bool  `json:"enabled"`
	KeepLast               int   `json:"keep_last"`
	KeepDaily              int   `json:"keep_daily"`
	KeepWeekly             int   `json:"keep_weekly"`
	KeepMonthly            int   `json:"keep_monthly"`
	KeepYearly             int   `json:"keep_yearly"`
	MinVerified            int   `json:"min_verified"`
	UnverifiedGraceSeconds int64 `json:"unverified_grace_seconds"`
	PartialGraceSeconds    int64 `json:"partial_grace_seconds"`
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// viewOf shows t with its health.
func viewOf(t TargetConfig, h lifeboat.TargetHealth) targetView {
	h.Target = t.Name // a target never seen has a zero health
	r := t.Retention
	v := targetView{Name: t.Name, Source: t.Source, DatabaseURL: secretSet{t.DatabaseURLSet}, Schedule: t.Schedule, Timezone: t.Timezone,
		Storage: t.Storage, Notify: slices.Clone(t.Notify), RowCounts: t.RowCounts, Overlap: t.Overlap,
		StageTimeoutSeconds: seconds(t.StageTimeout), Checks: make([]checkView, len(t.Checks)),
		Retention: retentionView{Enabled: r.KeepLast+r.KeepDaily+r.KeepWeekly+r.KeepMonthly+r.KeepYearly > 0,
			KeepLast: r.KeepLast, KeepDaily: r.KeepDaily, KeepWeekly: r.KeepWeekly, KeepMonthly: r.KeepMonthly,
			KeepYearly: r.KeepYearly, MinVerified: r.MinVerified, UnverifiedGraceSeconds: seconds(r.UnverifiedGrace),
			PartialGraceSeconds: seconds(r.PartialGrace)},
		TriggerSecret: secretSet{t.TriggerSecretSet}, Health: h}
	if v.Notify == nil {
		v.Notify = []string{}
	}
	if t.MaxAge > 0 {
		s := seconds(t.MaxAge)
		v.MaxAgeSeconds = &s
	}
	for i, c := range t.Checks {
		v.Checks[i] = checkView{Name: c.Name, SQL: c.SQL, Expect: c.Expect}
		if c.Timeout > 0 {
			s := seconds(c.Timeout)
			v.Checks[i].TimeoutSeconds = &s
		}
	}
	return v
}

// targetsSorted returns the configured targets by name.
func (s *Server) targetsSorted(ctx context.Context) ([]TargetConfig, error) {
	if s.TargetSource == nil || s.Health == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "targets are not wired in this process")
	}
	ts, err := s.TargetSource.TargetConfigs(ctx)
	if err != nil {
		return nil, err
	}
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b TargetConfig) int { return strings.Compare(a.Name, b.Name) })
	return ts, nil
}

// ListTargets answers a page of the configured targets by name, each with
// its health (one query for the page).
func (s *Server) ListTargets(ctx context.Context, in ListTargetsRequestObject) (ListTargetsResponseObject, error) {
	limit := 50
	if in.Params.Limit != nil {
		limit = *in.Params.Limit
		if limit < 1 || limit > 200 {
			return nil, lifeboat.Errorf(lifeboat.EINVALID, "limit: %d is out of range (1 to 200)", limit)
		}
	}
	ts, err := s.targetsSorted(ctx)
	if err != nil {
		return nil, err
	}
	if in.Params.Cursor != nil {
		after, err := decodeNameCursor(*in.Params.Cursor)
		if err != nil {
			return nil, err
		}
		i, _ := slices.BinarySearchFunc(ts, after, func(t TargetConfig, name string) int { return strings.Compare(t.Name, name) })
		for i < len(ts) && ts[i].Name <= after {
			i++
		}
		ts = ts[i:]
	}
	more := len(ts) > limit
	if more {
		ts = ts[:limit]
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	health, err := s.Health.TargetHealth(ctx, names)
	if err != nil {
		return nil, err
	}
	page := ListTargets200JSONResponse{Targets: make([]targetView, len(ts))}
	for i, t := range ts {
		page.Targets[i] = viewOf(t, health[t.Name])
	}
	if more {
		c := base64.RawURLEncoding.EncodeToString([]byte(ts[len(ts)-1].Name))
		page.NextCursor = &c
	}
	return page, nil
}

// GetTarget answers one configured target with its health.
func (s *Server) GetTarget(ctx context.Context, in GetTargetRequestObject) (GetTargetResponseObject, error) {
	ts, err := s.targetsSorted(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ts, func(t TargetConfig) bool { return t.Name == in.Name })
	if i < 0 {
		return nil, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no target named %q", in.Name)}
	}
	health, err := s.Health.TargetHealth(ctx, []string{in.Name})
	if err != nil {
		return nil, err
	}
	return GetTarget200JSONResponse(viewOf(ts[i], health[in.Name])), nil
}

// decodeNameCursor reads a targets list cursor: the last name of a page.
func decodeNameCursor(raw string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) == 0 {
		return "", lifeboat.Errorf(lifeboat.EINVALID, "cursor: %q is not a cursor this API returned (pass next_cursor as it is)", raw)
	}
	return string(b), nil
}
