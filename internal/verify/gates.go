package verify

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
)

// Default gate thresholds. A drop is the share of the baseline lost:
// 1 204 332 → 12 rows is a drop of 99.99 %. A gate trips when the drop is
// larger than its threshold.
const (
	DefaultTableRowsDrop  = 0.50
	DefaultTotalRowsDrop  = 0.20
	DefaultStoredSizeDrop = 0.50
	// DefaultGateMinRows: a table (or a database) smaller than this in the
	// baseline is not compared by row drop, where a handful of rows coming
	// and going is normal. Vanishing is always noticed.
	DefaultGateMinRows = 100
	// GateOff is the threshold of a gate turned off.
	GateOff = -1
)

// Gates are a target's anomaly thresholds, resolved from its config. Drops
// are fractions (0.5 = 50 %); GateOff turns one off.
type Gates struct {
	TableMissing   bool
	ObjectsMissing bool
	TableRowsDrop  float64
	TotalRowsDrop  float64
	StoredSizeDrop float64
	MinRows        int64
	// Tables overrides the table gates per table, by "schema.name".
	Tables map[string]TableGate
}

// TableGate is one table's override.
type TableGate struct {
	RowsDrop float64 // GateOff: never compared
	Missing  bool    // false: the table may vanish
}

// DefaultGates are the gates of a target that configures none.
func DefaultGates() Gates {
	return Gates{TableMissing: true, ObjectsMissing: true, TableRowsDrop: DefaultTableRowsDrop,
		TotalRowsDrop: DefaultTotalRowsDrop, StoredSizeDrop: DefaultStoredSizeDrop, MinRows: DefaultGateMinRows}
}

func (g Gates) table(name string) TableGate {
	if t, ok := g.Tables[name]; ok {
		return t
	}
	return TableGate{RowsDrop: g.TableRowsDrop, Missing: g.TableMissing}
}

// ParseDrop reads a drop threshold: "50%", "12.5 %" or "50" (percent), or
// "off". It returns a fraction, or GateOff.
func ParseDrop(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return GateOff, nil
	}
	num := strings.TrimSpace(strings.TrimSuffix(s, "%"))
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
		return 0, fmt.Errorf("want a percentage such as 50%% or off, got %q", s)
	}
	if p <= 0 || p >= 100 {
		return 0, fmt.Errorf("want a percentage above 0%% and below 100%% (or off), got %q", s)
	}
	return p / 100, nil
}

// ParseSwitch reads "on" or "off" ("" is def).
func ParseSwitch(s string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def, nil
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, errors.New("want on or off, got " + strconv.Quote(s))
}

// Baseline is what a run's gates compare with: the snapshot and stored size
// of the target's previous verified backup, or of a run whose snapshot a
// user accepted.
type Baseline struct {
	RunID       int64
	Snapshot    lifeboat.SourceSnapshot
	StoredBytes int64
	Accepted    bool // a user accepted it (the run may have failed its gates)
}

// since names the baseline in a reason: "since run #41".
func (b Baseline) since() string {
	if b.Accepted {
		return fmt.Sprintf("since run #%d (accepted baseline)", b.RunID)
	}
	return fmt.Sprintf("since run #%d", b.RunID)
}

// maxListed caps the names one result lists.
const maxListed = 10

// CheckGates compares a run's source snapshot and stored size with base
// (nil: nothing to compare with yet) and returns the gates' results, each
// named with lifeboat.GatePrefix. A tripped gate's Observed is the reason
// a person can act on, e.g.
//
//	public.orders: 1 204 332 → 12 rows (−99.99 %) since run #41
//
// One result per tripped table; a gate that passes is one result. Gates
// turned off return nothing. Row counts that are unknown (a planner
// estimate of a never-analysed table, -1) are not compared.
func CheckGates(g Gates, base *Baseline, cur lifeboat.SourceSnapshot, curStored int64) []lifeboat.CheckResult {
	if base == nil {
		return []lifeboat.CheckResult{{Name: lifeboat.GatePrefix + "baseline", Builtin: true, Passed: true,
			Expected: "a verified backup (or an accepted baseline) of the target to compare with",
			Observed: "none yet: nothing to compare with; this run's snapshot becomes the baseline once verified"}}
	}
	since := base.since()
	var out []lifeboat.CheckResult
	now := make(map[string]int64, len(cur.Tables))
	for _, t := range cur.Tables {
		now[t.Schema+"."+t.Name] = t.Rows
	}

	// Tables that vanished.
	var gone []string
	checked := 0
	for _, t := range base.Snapshot.Tables {
		name := t.Schema + "." + t.Name
		if !g.table(name).Missing {
			continue
		}
		checked++
		if _, ok := now[name]; !ok {
			gone = append(gone, name)
		}
	}
	if checked > 0 {
		r := lifeboat.CheckResult{Name: lifeboat.GatePrefix + "tables present", Builtin: true,
			Expected: fmt.Sprintf("every table of run #%d still there (%d)", base.RunID, checked)}
		if len(gone) == 0 {
			r.Passed, r.Observed = true, fmt.Sprintf("all %d present", checked)
		} else {
			r.Observed = listed(gone) + ": gone " + since
		}
		out = append(out, r)
	}

	// Rows per table.
	var drops []lifeboat.CheckResult
	compared := 0
	for _, t := range base.Snapshot.Tables {
		name := t.Schema + "." + t.Name
		tg := g.table(name)
		n, ok := now[name]
		if tg.RowsDrop == GateOff || !ok || t.Rows < g.MinRows || t.Rows <= 0 || n < 0 {
			continue
		}
		compared++
		if drop := dropOf(t.Rows, n); drop > tg.RowsDrop {
			drops = append(drops, lifeboat.CheckResult{Name: lifeboat.GatePrefix + "rows " + name, Builtin: true,
				Expected: "a drop of at most " + percent(tg.RowsDrop),
				Observed: fmt.Sprintf("%s: %s → %s rows (%s) %s", name, Group(t.Rows), Group(n), change(t.Rows, n), since)})
		}
	}
	switch {
	case len(drops) > 0:
		out = append(out, drops...)
	case compared > 0:
		out = append(out, lifeboat.CheckResult{Name: lifeboat.GatePrefix + "rows per table", Builtin: true, Passed: true,
			Expected: fmt.Sprintf("no table of at least %s rows loses more than %s of them", Group(g.MinRows), percent(g.TableRowsDrop)),
			Observed: fmt.Sprintf("%s within bounds %s", plural(compared, "table", "tables"), since)})
	}

	// Total rows.
	if g.TotalRowsDrop != GateOff {
		before, after, known := totalRows(base.Snapshot), totalRows(cur), true
		if before < 0 || after < 0 {
			known = false
		}
		if known && before >= g.MinRows && before > 0 {
			r := lifeboat.CheckResult{Name: lifeboat.GatePrefix + "total rows", Builtin: true,
				Expected: "a drop of at most " + percent(g.TotalRowsDrop),
				Observed: fmt.Sprintf("all tables: %s → %s rows (%s) %s", Group(before), Group(after), change(before, after), since)}
			r.Passed = dropOf(before, after) <= g.TotalRowsDrop
			out = append(out, r)
		}
	}

	// Stored size.
	if g.StoredSizeDrop != GateOff && base.StoredBytes > 0 && curStored > 0 {
		r := lifeboat.CheckResult{Name: lifeboat.GatePrefix + "stored size", Builtin: true,
			Expected: "a drop of at most " + percent(g.StoredSizeDrop),
			Observed: fmt.Sprintf("stored backup: %s → %s (%s) %s", Bytes(base.StoredBytes), Bytes(curStored),
				change(base.StoredBytes, curStored), since)}
		r.Passed = dropOf(base.StoredBytes, curStored) <= g.StoredSizeDrop
		out = append(out, r)
	}

	// Other schema objects.
	if g.ObjectsMissing && len(base.Snapshot.Objects) > 0 {
		have := make(map[string]bool, len(cur.Objects))
		for _, o := range cur.Objects {
			have[o] = true
		}
		var lost []string
		for _, o := range base.Snapshot.Objects {
			// An object of a table that may vanish (its index, say) may go with it.
			if !have[o] && !g.objectExempt(o) {
				lost = append(lost, o)
			}
		}
		r := lifeboat.CheckResult{Name: lifeboat.GatePrefix + "schema objects", Builtin: true,
			Expected: fmt.Sprintf("every view, index, sequence and other relation of run #%d still there (%d)", base.RunID, len(base.Snapshot.Objects))}
		if len(lost) == 0 {
			r.Passed, r.Observed = true, "all present"
		} else {
			r.Observed = listed(lost) + ": gone " + since
		}
		out = append(out, r)
	}
	return out
}

// objectExempt reports whether o ("kind schema.name") may vanish with a
// table the per-table overrides allow to vanish: it has the table's name,
// or PostgreSQL's default names for the table's own objects
// (sessions_pkey, sessions_id_seq, sessions_user_id_idx).
func (g Gates) objectExempt(o string) bool {
	i := strings.LastIndexByte(o, ' ')
	if i < 0 {
		return false
	}
	name := o[i+1:]
	for t, tg := range g.Tables {
		if !tg.Missing && (name == t || strings.HasPrefix(name, t+"_")) {
			return true
		}
	}
	return false
}

// FailureText is how a failed result reads in a run's error: a gate's
// reason as it is, a check with what was expected and observed.
func FailureText(c lifeboat.CheckResult) string {
	if c.IsGate() {
		return c.Observed
	}
	return fmt.Sprintf("%s (expected %s, observed %s)", c.Name, c.Expected, c.Observed)
}

func totalRows(s lifeboat.SourceSnapshot) int64 {
	var n int64
	for _, t := range s.Tables {
		if t.Rows < 0 {
			return -1
		}
		n += t.Rows
	}
	return n
}

// dropOf is the share of before that after lost (negative: it grew).
func dropOf(before, after int64) float64 {
	if before <= 0 {
		return 0
	}
	return float64(before-after) / float64(before)
}

// change is after relative to before, truncated to two decimals so a drop
// never reads as −100 % while a row is left: "−99.99 %", "+4 %", "±0 %".
func change(before, after int64) string {
	if before <= 0 {
		return "new"
	}
	p := math.Trunc(float64(after-before)/float64(before)*10000) / 100
	switch {
	case p < 0:
		return "−" + strconv.FormatFloat(-p, 'f', -1, 64) + " %"
	case p > 0:
		return "+" + strconv.FormatFloat(p, 'f', -1, 64) + " %"
	}
	return "±0 %"
}

// percent renders a fraction: 0.5 → "50 %".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + " %"
}

// Group writes n with its thousands apart: 1204332 → "1 204 332".
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Bytes renders a size in decimal units: 1500000 → "1.5 MB".
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n), 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) + " " + []string{"B", "kB", "MB", "GB", "TB"}[i]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// listed joins names, at most maxListed of them.
func listed(names []string) string {
	if len(names) > maxListed {
		return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListed)
	}
	return strings.Join(names, ", ")
}
