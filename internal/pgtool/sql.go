package pgtool

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lifeboat-dev/lifeboat"
)

// Connect opens a connection, marking errors retrying cannot fix (bad
// password, missing database or role) as permanent. The error text comes
// from pgx, which never prints the password.
func Connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, lifeboat.Permanent(errors.New("database URL cannot be parsed"))
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "lifeboat" // a stage's sessions name themselves (SessionURL)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && isPermanentCode(pgErr.Code) {
			return nil, lifeboat.Permanent(err)
		}
		return nil, err
	}
	return conn, nil
}

func isPermanentCode(code string) bool {
	return strings.HasPrefix(code, "28") || // invalid authorization
		code == "3D000" || // database does not exist
		code == "42501" // insufficient privilege
}

// ServerVersion returns the server's version string and major version.
func ServerVersion(ctx context.Context, conn *pgx.Conn) (string, int, error) {
	var num int
	var ver string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('server_version')").Scan(&num, &ver); err != nil {
		return "", 0, fmt.Errorf("server version: %w", err)
	}
	if i := strings.IndexByte(ver, ' '); i > 0 {
		ver = ver[:i]
	}
	return ver, num / 10000, nil
}

// Snapshot is an open REPEATABLE READ transaction whose snapshot was
// exported, so pg_dump --snapshot and lifeboat's row counts see the same data.
type Snapshot struct {
	ID string
	Tx pgx.Tx
}

// ExportSnapshot begins a read-only repeatable-read transaction on conn and
// exports its snapshot. Keep the transaction open until pg_dump is done.
func ExportSnapshot(ctx context.Context, conn *pgx.Conn) (*Snapshot, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", err)
	}
	var id string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	return &Snapshot{ID: id, Tx: tx}, nil
}

// ScratchPrefix starts the names of installation install's scratch databases.
func ScratchPrefix(install string) string { return "lifeboat_scratch_" + install + "_" }

// ScratchName is the name of a run's throw-away database: the installation's
// id keeps two installations sharing one restore server apart.
func ScratchName(install string, runID int64) string {
	return fmt.Sprintf("%s%d", ScratchPrefix(install), runID)
}

// RoleRights is what a restore server's role may do beyond a plain login.
type RoleRights struct {
	Role string
	// Dangerous lists superuser and the server-file/program roles it holds:
	// with any of them, a hostile dump's functions reach the server's OS.
	Dangerous []string
	CreateDB  bool
}

// CheckRole reads what the role of the connection at url may do.
func CheckRole(ctx context.Context, url string) (RoleRights, error) {
	conn, err := Connect(ctx, url)
	if err != nil {
		return RoleRights{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var r RoleRights
	var super bool
	var held []string
	err = conn.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolcreatedb,
		ARRAY(SELECT g FROM unnest(ARRAY['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files']) g
			WHERE pg_has_role(current_user, g, 'MEMBER'))
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&r.Role, &super, &r.CreateDB, &held)
	if err != nil {
		return r, fmt.Errorf("read the role's rights: %w", err)
	}
	if super {
		r.Dangerous = append(r.Dangerous, "SUPERUSER")
	}
	r.Dangerous = append(r.Dangerous, held...)
	return r, nil
}

// RestoreRoleSQL is the one-time SQL that makes the roles server mode wants.
const RestoreRoleSQL = "CREATE ROLE lifeboat_restore LOGIN CREATEDB PASSWORD '…'; " +
	"CREATE ROLE lifeboat_reader LOGIN BYPASSRLS PASSWORD '…'; GRANT pg_read_all_data TO lifeboat_reader;"

// CreateDatabase creates db (dropping a leftover of the same name first, so
// a retried stage starts clean).
func CreateDatabase(ctx context.Context, serverURL, db string) error {
	conn, err := Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to restore server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop leftover %s: %w", db, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("create %s: %w", db, err)
	}
	return nil
}

// DropDatabase drops db, terminating its sessions; a missing db is fine.
func DropDatabase(ctx context.Context, serverURL, db string) error {
	conn, err := Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to restore server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", db, err)
	}
	return nil
}

// DatabaseExists reports whether db exists on the server.
func DatabaseExists(ctx context.Context, serverURL, db string) (bool, error) {
	conn, err := Connect(ctx, serverURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&ok)
	return ok, err
}

// UserRelations counts relations outside the system schemas: zero means the
// database is empty enough to restore into.
func UserRelations(ctx context.Context, conn *pgx.Conn) (int, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		AND n.nspname NOT LIKE 'pg_temp%'`).Scan(&n)
	return n, err
}
