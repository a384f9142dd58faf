package config

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

const gatesTarget = minimal + `
storages: [{name: local, kind: fs, path: /b}]
targets:
  - name: app
    database_url: postgres://h/app
    storage: local
`

func TestGatesDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(gatesTarget), t.TempDir(), nil)
	require.NoError(t, err)
	require.Equal(t, verify.DefaultGates(), cfg.Targets[0].Gates.Resolve())
}

func TestGatesParse(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(gatesTarget+`    gates:
      table_missing: off
      table_rows_drop: 75%
      total_rows_drop: "off"
      stored_size_drop: 30
      min_rows: 1
      tables:
        - {name: public.sessions, rows_drop: off, missing: off}
        - {name: public.orders, rows_drop: 90%}
`), t.TempDir(), nil)
	require.NoError(t, err)
	g := cfg.Targets[0].Gates.Resolve()
	require.False(t, g.TableMissing)
	require.True(t, g.ObjectsMissing)
	require.InDelta(t, 0.75, g.TableRowsDrop, 1e-9)
	require.Equal(t, float64(verify.GateOff), g.TotalRowsDrop)
	require.InDelta(t, 0.30, g.StoredSizeDrop, 1e-9)
	require.Equal(t, int64(1), g.MinRows)
	require.Equal(t, verify.TableGate{RowsDrop: verify.GateOff, Missing: false}, g.Tables["public.sessions"])
	// An override without missing inherits the target's (off here).
	require.Equal(t, verify.TableGate{RowsDrop: 0.9, Missing: false}, g.Tables["public.orders"])
}

func TestGatesErrorsNameTheField(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(gatesTarget+`    gates:
      table_missing: maybe
      table_rows_drop: 150%
      total_rows_drop: lots
      stored_size_drop: 0
      min_rows: -3
      tables:
        - {name: orders, rows_drop: 10%}
        - {rows_drop: 10%}
        - {name: public.a, missing: sometimes, rows_drop: "-1"}
        - {name: public.a}
      colour: red
`), t.TempDir(), nil)
	require.ElementsMatch(t, []string{
		`targets[0].gates.colour: unknown key`,
		`targets[0].gates.table_missing: want on or off, got "maybe"`,
		`targets[0].gates.table_rows_drop: want a percentage above 0% and below 100% (such as 50%) or off, got "150%"`,
		`targets[0].gates.total_rows_drop: want a percentage above 0% and below 100% (such as 50%) or off, got "lots"`,
		`targets[0].gates.stored_size_drop: want a percentage above 0% and below 100% (such as 50%) or off, got "0"`,
		`targets[0].gates.min_rows: must not be negative`,
		`targets[0].gates.tables[0].name: want schema.table, such as public.orders, got "orders"`,
		`targets[0].gates.tables[1].name: required: schema.table, such as public.orders`,
		`targets[0].gates.tables[2].rows_drop: want a percentage above 0% and below 100% (such as 50%) or off, got "-1"`,
		`targets[0].gates.tables[2].missing: want on or off, got "sometimes"`,
		`targets[0].gates.tables[3].name: "public.a" is listed twice`,
	}, errorLines(t, err))
}
