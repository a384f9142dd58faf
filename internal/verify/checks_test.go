package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

const schema = `
CREATE SCHEMA billing;
CREATE TABLE public.accounts (id int PRIMARY KEY, name text);
CREATE TABLE billing.invoices (id int PRIMARY KEY, account_id int REFERENCES public.accounts, total numeric);
CREATE INDEX invoices_account_idx ON billing.invoices (account_id);
CREATE VIEW billing.big_invoices AS SELECT * FROM billing.invoices WHERE total > 100;
CREATE SEQUENCE billing.invoice_no;
CREATE MATERIALIZED VIEW account_names AS SELECT name FROM accounts;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
INSERT INTO accounts SELECT g, 'acct ' || g FROM generate_series(1, 42) g;
INSERT INTO billing.invoices SELECT g, 1 + g % 42, g * 3 FROM generate_series(1, 100) g;
`

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestInventory(t *testing.T) {
	t.Parallel()
	url := testenv.CreateDB(t, "lbverify_")
	testenv.Exec(t, url, schema)
	snap, err := verify.Inventory(context.Background(), connect(t, url), verify.CountExact)
	require.NoError(t, err)
	require.Equal(t, []lifeboat.TableCount{
		{Schema: "billing", Name: "invoices", Rows: 100},
		{Schema: "public", Name: "accounts", Rows: 42},
	}, snap.Tables)
	for _, want := range []string{"view billing.big_invoices", "sequence billing.invoice_no", "index billing.invoices_account_idx",
		"index public.accounts_pkey", "materialized view public.account_names"} {
		require.Contains(t, snap.Objects, want)
	}
	for _, o := range snap.Objects {
		require.NotContains(t, o, "trgm", "extension objects are left out")
	}
}

func TestCompareSnapshots(t *testing.T) {
	t.Parallel()
	source := lifeboat.SourceSnapshot{RowCountsMethod: verify.CountExact,
		Tables:  []lifeboat.TableCount{{Schema: "public", Name: "a", Rows: 10}, {Schema: "public", Name: "b", Rows: 5}, {Schema: "public", Name: "c", Rows: 1}},
		Objects: []string{"index public.a_pkey", "view public.v"}}
	restored := lifeboat.SourceSnapshot{
		Tables:  []lifeboat.TableCount{{Schema: "public", Name: "a", Rows: 10}, {Schema: "public", Name: "b", Rows: 4}},
		Objects: []string{"index public.a_pkey"}}
	got := map[string]lifeboat.CheckResult{}
	for _, c := range verify.CompareSnapshots(source, restored) {
		got[c.Name] = c
		require.True(t, c.Builtin)
	}
	require.True(t, got["rows public.a"].Passed)
	require.False(t, got["rows public.b"].Passed)
	require.Equal(t, "4", got["rows public.b"].Observed)
	require.False(t, got["rows public.c"].Passed)
	require.Equal(t, "table missing", got["rows public.c"].Observed)
	require.False(t, got["schema objects"].Passed)
	require.Equal(t, "missing: view public.v", got["schema objects"].Observed)

	// Estimates pass within the tolerance and fail beyond it.
	source.RowCountsMethod = verify.CountEstimate
	source.Tables = []lifeboat.TableCount{{Schema: "public", Name: "a", Rows: 100000}}
	restored.Tables = []lifeboat.TableCount{{Schema: "public", Name: "a", Rows: 95000}}
	require.True(t, verify.CompareSnapshots(source, restored)[0].Passed)
	restored.Tables[0].Rows = 50000
	require.False(t, verify.CompareSnapshots(source, restored)[0].Passed)
}

func TestRunSQLCheck(t *testing.T) {
	t.Parallel()
	url := testenv.CreateDB(t, "lbverify_")
	testenv.Exec(t, url, schema)
	conn := connect(t, url)
	ctx := context.Background()
	cases := []struct {
		sql, expect, observed string
		passed                bool
	}{
		{"SELECT count(*) FROM accounts", ">= 1", "42", true},
		{"SELECT count(*) FROM accounts", "= 41", "42", false},
		{"SELECT sum(total) FROM billing.invoices", "> 15000", "15150", true},
		{"SELECT count(*) > 0 FROM accounts", "true", "true", true},
		{"SELECT exists (SELECT 1 FROM accounts WHERE id = 0)", "false", "false", true},
		{"SELECT max(name) FROM accounts", "non-empty", "acct 9", true},
		{"SELECT name FROM accounts WHERE id = 0", "non-empty", "NULL", false},
		{"SELECT NULL::int", "= 0", "NULL", false},
	}
	for _, c := range cases {
		res := verify.RunSQLCheck(ctx, conn, verify.SQLCheck{Name: "c", SQL: c.sql, Expect: c.expect, Timeout: 5 * time.Second})
		require.Equal(t, c.passed, res.Passed, "%s %s: observed %s", c.sql, c.expect, res.Observed)
		require.Equal(t, c.observed, res.Observed, c.sql)
		require.Equal(t, c.expect, res.Expected)
	}

	// Checks are read-only, single-statement and time-limited.
	for sql, want := range map[string]string{
		"DELETE FROM accounts RETURNING 1":   "read-only",
		"SELECT 1; SELECT 2":                 "multiple commands",
		"SELECT pg_sleep(5)":                 "statement timeout",
		"SELECT count(*) FROM no_such_table": "does not exist",
	} {
		res := verify.RunSQLCheck(ctx, conn, verify.SQLCheck{Name: "bad", SQL: sql, Expect: ">= 0", Timeout: 300 * time.Millisecond})
		require.False(t, res.Passed, sql)
		require.True(t, strings.Contains(res.Observed, want), "%s: observed %q, want it to mention %q", sql, res.Observed, want)
	}
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM accounts").Scan(&n))
	require.Equal(t, 42, n, "the DELETE check changed nothing")
}
