package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lifeboat-dev/lifeboat"
)

// EstimateTolerance is how far an exact count in the scratch database may be
// from the source's planner estimate before the row check fails.
const EstimateTolerance = 0.10

// CompareSnapshots returns one check per source table (same row count) and
// one for the other schema objects (all present). restored is the scratch
// database's inventory, counted exactly.
func CompareSnapshots(source, restored lifeboat.SourceSnapshot) []lifeboat.CheckResult {
	got := make(map[string]int64, len(restored.Tables))
	for _, t := range restored.Tables {
		got[t.Schema+"."+t.Name] = t.Rows
	}
	var out []lifeboat.CheckResult
	for _, t := range source.Tables {
		name := t.Schema + "." + t.Name
		c := lifeboat.CheckResult{Name: "rows " + name, Builtin: true, Expected: fmt.Sprint(t.Rows)}
		n, ok := got[name]
		switch {
		case !ok:
			c.Observed = "table missing"
		case source.RowCountsMethod == CountEstimate:
			c.Expected = fmt.Sprintf("≈ %d (planner estimate ±%d%%)", t.Rows, int(EstimateTolerance*100))
			c.Observed = fmt.Sprint(n)
			c.Passed = t.Rows < 0 || math.Abs(float64(n-t.Rows)) <= EstimateTolerance*float64(max(t.Rows, 1000))
		default:
			c.Observed = fmt.Sprint(n)
			c.Passed = n == t.Rows
		}
		out = append(out, c)
	}
	have := make(map[string]bool, len(restored.Objects))
	for _, o := range restored.Objects {
		have[o] = true
	}
	var missing []string
	for _, o := range source.Objects {
		if !have[o] {
			missing = append(missing, o)
		}
	}
	c := lifeboat.CheckResult{Name: "schema objects", Builtin: true,
		Expected: fmt.Sprintf("%d views, indexes, sequences and other relations", len(source.Objects))}
	if len(missing) == 0 {
		c.Passed = true
		c.Observed = fmt.Sprintf("all %d present", len(source.Objects))
	} else {
		if len(missing) > 10 {
			missing = append(missing[:10], fmt.Sprintf("and %d more", len(missing)-10))
		}
		c.Observed = "missing: " + strings.Join(missing, ", ")
	}
	return append(out, c)
}

// SQLCheck is one of the target's own checks.
type SQLCheck struct {
	Name    string
	SQL     string
	Expect  string
	Timeout time.Duration
}

// RunSQLCheck runs one check in a READ ONLY transaction with a statement
// timeout and compares the first column of the first row with Expect. A
// query error is a failed check whose observed value says why.
func RunSQLCheck(ctx context.Context, conn *pgx.Conn, c SQLCheck) lifeboat.CheckResult {
	res := lifeboat.CheckResult{Name: c.Name, Expected: c.Expect}
	exp, err := ParseExpect(c.Expect)
	if err != nil {
		res.Observed = err.Error()
		return res
	}
	observed, isNull, err := querySingle(ctx, conn, c)
	if err != nil {
		res.Observed = "error: " + err.Error()
		return res
	}
	res.Observed = observed
	if isNull {
		res.Observed = "NULL"
	}
	ok, err := exp.Eval(observed, isNull)
	if err != nil {
		res.Observed += " (" + err.Error() + ")"
	}
	res.Passed = ok && err == nil
	return res
}

func querySingle(ctx context.Context, conn *pgx.Conn, c SQLCheck) (value string, isNull bool, err error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return "", false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeout.Milliseconds())); err != nil {
		return "", false, err
	}
	// Text results give every type its canonical PostgreSQL spelling; the
	// extended protocol refuses more than one statement.
	rows, err := tx.Query(ctx, c.SQL, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", false, err
		}
		return "", true, nil
	}
	raw := rows.RawValues()
	fields := rows.FieldDescriptions()
	if len(raw) == 0 {
		return "", false, errors.New("query returned no columns")
	}
	isNull = raw[0] == nil
	v := string(raw[0]) // copies: raw is only valid until the next read
	if fields[0].DataTypeOID == pgtype.BoolOID {
		v = map[string]string{"t": "true", "f": "false"}[v]
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	return v, isNull, nil
}
