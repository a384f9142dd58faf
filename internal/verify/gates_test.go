package verify_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

func snap(objects []string, tables ...any) lifeboat.SourceSnapshot {
	s := lifeboat.SourceSnapshot{RowCountsMethod: verify.CountExact, Objects: objects}
	for i := 0; i < len(tables); i += 2 {
		schema, name, _ := strings.Cut(tables[i].(string), ".")
		s.Tables = append(s.Tables, lifeboat.TableCount{Schema: schema, Name: name, Rows: int64(tables[i+1].(int))})
	}
	return s
}

// failed returns the failed results by name.
func failed(rs []lifeboat.CheckResult) map[string]lifeboat.CheckResult {
	out := map[string]lifeboat.CheckResult{}
	for _, r := range rs {
		if !r.Passed {
			out[r.Name] = r
		}
	}
	return out
}

func byName(t *testing.T, rs []lifeboat.CheckResult, name string) lifeboat.CheckResult {
	t.Helper()
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result %q in %+v", name, rs)
	return lifeboat.CheckResult{}
}

func TestGatesNoBaseline(t *testing.T) {
	t.Parallel()
	rs := verify.CheckGates(verify.DefaultGates(), nil, snap(nil, "public.orders", 5), 100)
	require.Len(t, rs, 1)
	require.True(t, rs[0].Passed)
	require.True(t, rs[0].IsGate())
	require.Contains(t, rs[0].Observed, "nothing to compare with")
}

func TestGatesTableRowsDrop(t *testing.T) {
	t.Parallel()
	objs := []string{"index public.orders_pkey"}
	base := &verify.Baseline{RunID: 41, StoredBytes: 50_000_000,
		Snapshot: snap(objs, "public.orders", 1204332, "public.customers", 90000, "public.tiny", 40)}
	cur := snap(objs, "public.orders", 12, "public.customers", 91000, "public.tiny", 1)
	rs := verify.CheckGates(verify.DefaultGates(), base, cur, 49_000_000)
	f := failed(rs)
	require.Len(t, f, 2, "%+v", rs)
	orders := f["gate: rows public.orders"]
	require.Equal(t, "public.orders: 1 204 332 → 12 rows (−99.99 %) since run #41", orders.Observed)
	require.Equal(t, "a drop of at most 50 %", orders.Expected)
	require.Equal(t, orders.Observed, verify.FailureText(orders), "a gate's reason is its own failure text")
	total := f["gate: total rows"]
	require.Equal(t, "all tables: 1 294 372 → 91 013 rows (−92.96 %) since run #41", total.Observed)
	// The tiny table (40 rows < 100) is not compared; customers grew.
	require.NotContains(t, f, "gate: rows public.tiny")
	require.True(t, byName(t, rs, "gate: stored size").Passed)
	require.True(t, byName(t, rs, "gate: tables present").Passed)
	require.True(t, byName(t, rs, "gate: schema objects").Passed)
}

func TestGatesPassWithinBounds(t *testing.T) {
	t.Parallel()
	base := &verify.Baseline{RunID: 7, StoredBytes: 1000, Snapshot: snap(nil, "public.a", 1000, "public.b", 1000)}
	cur := snap(nil, "public.a", 600, "public.b", 1200) // a −40 %, total −10 %
	rs := verify.CheckGates(verify.DefaultGates(), base, cur, 600)
	require.Empty(t, failed(rs), "%+v", rs)
	require.Equal(t, "2 tables within bounds since run #7", byName(t, rs, "gate: rows per table").Observed)
	require.Equal(t, "stored backup: 1 kB → 600 B (−40 %) since run #7", byName(t, rs, "gate: stored size").Observed)
}

func TestGatesThresholdIsExclusive(t *testing.T) {
	t.Parallel()
	g := verify.DefaultGates()
	g.TotalRowsDrop = verify.GateOff
	base := &verify.Baseline{RunID: 1, Snapshot: snap(nil, "public.a", 1000)}
	require.Empty(t, failed(verify.CheckGates(g, base, snap(nil, "public.a", 500), 0)), "exactly 50 % is not more than 50 %")
	require.Contains(t, failed(verify.CheckGates(g, base, snap(nil, "public.a", 499), 0)), "gate: rows public.a")
}

func TestGatesTableVanished(t *testing.T) {
	t.Parallel()
	objs := []string{"index public.orders_pkey", "view public.order_totals", "sequence public.orders_id_seq"}
	base := &verify.Baseline{RunID: 9, Snapshot: snap(objs, "public.orders", 10, "public.customers", 10)}
	cur := snap([]string{"sequence public.orders_id_seq"}, "public.customers", 10)
	f := failed(verify.CheckGates(verify.DefaultGates(), base, cur, 0))
	require.Equal(t, "public.orders: gone since run #9", f["gate: tables present"].Observed)
	require.Equal(t, "index public.orders_pkey, view public.order_totals: gone since run #9", f["gate: schema objects"].Observed)
}

func TestGatesStoredSizeDrop(t *testing.T) {
	t.Parallel()
	base := &verify.Baseline{RunID: 3, StoredBytes: 120_000_000, Snapshot: snap(nil, "public.a", 10)}
	f := failed(verify.CheckGates(verify.DefaultGates(), base, snap(nil, "public.a", 10), 3_000_000))
	require.Equal(t, "stored backup: 120 MB → 3 MB (−97.5 %) since run #3", f["gate: stored size"].Observed)
}

func TestGatesOverridesAndOff(t *testing.T) {
	t.Parallel()
	objs := []string{"index public.sessions_pkey", "index public.orders_pkey"}
	base := &verify.Baseline{RunID: 5, StoredBytes: 1000,
		Snapshot: snap(objs, "public.orders", 1000, "public.sessions", 5000, "public.audit", 1000)}
	cur := snap([]string{"index public.orders_pkey"}, "public.orders", 100, "public.audit", 100)

	g := verify.DefaultGates()
	g.Tables = map[string]verify.TableGate{
		"public.sessions": {RowsDrop: verify.GateOff, Missing: false}, // may vanish, with its index
		"public.orders":   {RowsDrop: 0.95, Missing: true},            // −90 % is fine here
	}
	g.TotalRowsDrop = verify.GateOff
	g.StoredSizeDrop = verify.GateOff
	rs := verify.CheckGates(g, base, cur, 10)
	f := failed(rs)
	require.Len(t, f, 1, "%+v", rs)
	require.Contains(t, f, "gate: rows public.audit")
	for _, r := range rs {
		require.NotEqual(t, "gate: total rows", r.Name, "turned off")
		require.NotEqual(t, "gate: stored size", r.Name, "turned off")
	}
	require.Equal(t, "every table of run #5 still there (2)", byName(t, rs, "gate: tables present").Expected)

	// Everything off: nothing to say.
	off := verify.Gates{TableRowsDrop: verify.GateOff, TotalRowsDrop: verify.GateOff, StoredSizeDrop: verify.GateOff}
	require.Empty(t, verify.CheckGates(off, base, cur, 10))
}

func TestGatesUnknownCountsAndAccepted(t *testing.T) {
	t.Parallel()
	base := &verify.Baseline{RunID: 12, Accepted: true, Snapshot: snap(nil, "public.a", -1, "public.b", 1000)}
	cur := snap(nil, "public.a", 0, "public.b", 10)
	rs := verify.CheckGates(verify.DefaultGates(), base, cur, 0)
	f := failed(rs)
	require.Len(t, f, 1, "an unknown count is not compared, nor the total: %+v", rs)
	require.Equal(t, "public.b: 1 000 → 10 rows (−99 %) since run #12 (accepted baseline)", f["gate: rows public.b"].Observed)
}

func TestParseDrop(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"50%": 0.5, " 12.5 % ": 0.125, "20": 0.2, "off": verify.GateOff, "OFF": verify.GateOff} {
		got, err := verify.ParseDrop(in)
		require.NoError(t, err, in)
		require.InDelta(t, want, got, 1e-9, in)
	}
	for _, in := range []string{"", "0%", "100%", "150", "-5%", "half", "NaN", "50%%"} {
		_, err := verify.ParseDrop(in)
		require.Error(t, err, in)
	}
	on, err := verify.ParseSwitch("", true)
	require.NoError(t, err)
	require.True(t, on)
	on, err = verify.ParseSwitch("Off", true)
	require.NoError(t, err)
	require.False(t, on)
	_, err = verify.ParseSwitch("yes", true)
	require.ErrorContains(t, err, "want on or off")
}

func TestGroupAndBytes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "0", verify.Group(0))
	require.Equal(t, "999", verify.Group(999))
	require.Equal(t, "1 000", verify.Group(1000))
	require.Equal(t, "1 204 332", verify.Group(1204332))
	require.Equal(t, "-12 345", verify.Group(-12345))
	require.Equal(t, "999 B", verify.Bytes(999))
	require.Equal(t, "1.5 MB", verify.Bytes(1_500_000))
	require.Equal(t, "2 GB", verify.Bytes(2_000_000_000))
}

func TestFailureTextOfACheck(t *testing.T) {
	t.Parallel()
	c := lifeboat.CheckResult{Name: "rows public.orders", Expected: "3000", Observed: "2700"}
	require.False(t, c.IsGate())
	require.Equal(t, "rows public.orders (expected 3000, observed 2700)", verify.FailureText(c))
}
