package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// VerifyInput is what the verify stage needs.
type VerifyInput struct {
	ScratchURL string
	Source     lifeboat.SourceSnapshot
	Checks     []verify.SQLCheck
	// Gates are the anomaly gates' results (verify.CheckGates): listed
	// first, and a tripped one fails the stage like a failed check.
	Gates []lifeboat.CheckResult
	Log   *slog.Logger
}

// VerifyMetrics are the verify stage's figures.
type VerifyMetrics struct {
	Checks int `json:"checks"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
}

// Verify runs the built-in checks (restore clean, every table present with
// its dump-time row count, every other relation present) and the target's
// SQL checks. It returns every result; the error names the failed checks.
func Verify(ctx context.Context, in VerifyInput) ([]lifeboat.CheckResult, VerifyMetrics, error) {
	conn, err := pgtool.Connect(ctx, in.ScratchURL)
	if err != nil {
		return nil, VerifyMetrics{}, fmt.Errorf("connect to scratch database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	results := append(append([]lifeboat.CheckResult(nil), in.Gates...), lifeboat.CheckResult{Name: "restore without errors",
		Builtin: true, Passed: true, Expected: "pg_restore --exit-on-error exits 0", Observed: "exited 0"})
	start := time.Now()
	in.Log.Info(fmt.Sprintf("counting rows of %d table(s) in the restored database", len(in.Source.Tables)))
	restored, err := verify.Inventory(ctx, conn, verify.CountExact)
	if err != nil {
		return nil, VerifyMetrics{}, err
	}
	builtin := verify.CompareSnapshots(in.Source, restored)
	results = append(results, builtin...)
	in.Log.Info(fmt.Sprintf("built-in checks: %d of %d passed (%s)", countPassed(builtin), len(builtin), since(start)))
	for _, c := range in.Checks {
		in.Log.Info("check " + quote(c.Name) + ": running")
		start := time.Now()
		r := verify.RunSQLCheck(ctx, conn, c)
		word := "passed"
		if !r.Passed {
			word = "failed"
		}
		in.Log.Info(fmt.Sprintf("check %s: %s in %s", quote(c.Name), word, since(start)))
		results = append(results, r)
	}
	if ctx.Err() != nil {
		return results, VerifyMetrics{}, ctx.Err()
	}

	var m VerifyMetrics
	var failed []string
	for _, r := range results {
		m.Checks++
		if r.Passed {
			m.Passed++
			continue
		}
		m.Failed++
		failed = append(failed, verify.FailureText(r))
		in.Log.Error(fmt.Sprintf("check failed: %s: expected %s, observed %s", r.Name, r.Expected, r.Observed))
	}
	in.Log.Info(fmt.Sprintf("%d of %d checks passed", m.Passed, m.Checks))
	if len(failed) > 0 {
		return results, m, lifeboat.Permanent(fmt.Errorf("%d of %d checks failed: %s", m.Failed, m.Checks, strings.Join(failed, "; ")))
	}
	return results, m, nil
}

func countPassed(rs []lifeboat.CheckResult) int {
	n := 0
	for _, r := range rs {
		if r.Passed {
			n++
		}
	}
	return n
}

func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }

// quote names a check briefly: its name is the user's text.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}
