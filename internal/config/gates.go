package config

import (
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// Gates are a target's anomaly gates: its verify stage compares the
// source's snapshot and the stored size with the target's previous
// verified backup (or an accepted baseline) and fails the run when data
// vanished. Empty fields take the defaults of internal/verify:
//
//	gates:
//	  table_missing: on        # a table of the baseline is gone
//	  objects_missing: on      # a view, index, sequence… of the baseline is gone
//	  table_rows_drop: 50%     # a table lost more than this share of its rows
//	  total_rows_drop: 20%     # all tables together
//	  stored_size_drop: 50%    # the stored backup shrank by more than this
//	  min_rows: 100            # row drops are compared from this many rows up
//	  tables:
//	    - {name: public.sessions, rows_drop: off, missing: off}
//
// Every threshold takes "off".
type Gates struct {
	TableMissing   string      `yaml:"table_missing"`
	ObjectsMissing string      `yaml:"objects_missing"`
	TableRowsDrop  string      `yaml:"table_rows_drop"`
	TotalRowsDrop  string      `yaml:"total_rows_drop"`
	StoredSizeDrop string      `yaml:"stored_size_drop"`
	MinRows        int         `yaml:"min_rows"`
	Tables         []TableGate `yaml:"tables"`
}

// TableGate overrides the table gates for one table; empty fields take the
// target's.
type TableGate struct {
	Name     string `yaml:"name"` // schema.table
	RowsDrop string `yaml:"rows_drop"`
	Missing  string `yaml:"missing"`
}

// Resolve returns the gates with defaults applied. The config was
// validated, so every value parses.
func (g Gates) Resolve() verify.Gates {
	out := verify.DefaultGates()
	out.TableMissing, _ = verify.ParseSwitch(g.TableMissing, true)
	out.ObjectsMissing, _ = verify.ParseSwitch(g.ObjectsMissing, true)
	drop := func(s string, def float64) float64 {
		if s == "" {
			return def
		}
		f, err := verify.ParseDrop(s)
		if err != nil {
			return def
		}
		return f
	}
	out.TableRowsDrop = drop(g.TableRowsDrop, out.TableRowsDrop)
	out.TotalRowsDrop = drop(g.TotalRowsDrop, out.TotalRowsDrop)
	out.StoredSizeDrop = drop(g.StoredSizeDrop, out.StoredSizeDrop)
	if g.MinRows > 0 {
		out.MinRows = int64(g.MinRows)
	}
	if len(g.Tables) > 0 {
		out.Tables = make(map[string]verify.TableGate, len(g.Tables))
		for _, t := range g.Tables {
			missing, _ := verify.ParseSwitch(t.Missing, out.TableMissing)
			out.Tables[t.Name] = verify.TableGate{RowsDrop: drop(t.RowsDrop, out.TableRowsDrop), Missing: missing}
		}
	}
	return out
}

func (v *validator) gates(path string, g *Gates) {
	onOff := func(field, s string) {
		p := fieldPath(path, field)
		if _, err := verify.ParseSwitch(s, true); err != nil {
			v.p.check(p, "want on or off, got %s", v.fromEnv.show(p, s))
		}
	}
	drop := func(p, s string) {
		if s == "" {
			return
		}
		if _, err := verify.ParseDrop(s); err != nil {
			v.p.check(p, "want a percentage above 0%% and below 100%% (such as 50%%) or off, got %s", v.fromEnv.show(p, s))
		}
	}
	onOff("table_missing", g.TableMissing)
	onOff("objects_missing", g.ObjectsMissing)
	drop(fieldPath(path, "table_rows_drop"), g.TableRowsDrop)
	drop(fieldPath(path, "total_rows_drop"), g.TotalRowsDrop)
	drop(fieldPath(path, "stored_size_drop"), g.StoredSizeDrop)
	if g.MinRows < 0 {
		v.p.check(fieldPath(path, "min_rows"), "must not be negative")
	}
	seen := map[string]bool{}
	for i, t := range g.Tables {
		tp := indexPath(fieldPath(path, "tables"), i)
		np := fieldPath(tp, "name")
		switch schema, table, ok := cutDot(t.Name); {
		case t.Name == "":
			v.p.check(np, "required: schema.table, such as public.orders")
		case !ok || schema == "" || table == "":
			v.p.check(np, "want schema.table, such as public.orders, got %s", v.fromEnv.show(np, t.Name))
		case seen[t.Name]:
			v.p.check(np, "%s is listed twice", v.fromEnv.show(np, t.Name))
		}
		seen[t.Name] = true
		drop(fieldPath(tp, "rows_drop"), t.RowsDrop)
		if _, err := verify.ParseSwitch(t.Missing, true); err != nil {
			p := fieldPath(tp, "missing")
			v.p.check(p, "want on or off, got %s", v.fromEnv.show(p, t.Missing))
		}
	}
}

// cutDot splits schema.table at its first dot.
func cutDot(s string) (schema, table string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
