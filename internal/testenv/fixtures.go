package testenv

import (
	"bytes"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"filippo.io/age"
)

// SeedSQL is a small realistic source: related tables (500 customers, 3000
// orders), an index, a view, a sequence and a check constraint.
const SeedSQL = `
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric(10,2) NOT NULL CHECK (total >= 0));
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE SEQUENCE invoice_no START 1000;
CREATE VIEW customer_totals AS SELECT c.id, sum(o.total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id;
INSERT INTO customers (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, total) SELECT 1 + (g % 500), (g % 97) * 1.5 FROM generate_series(1, 3000) g;
`

// DistinctRunIDs moves a migrated state database's run ids to a random
// range and returns its first id. Tests share one restore server, and
// scratch databases are named lifeboat_scratch_<run id>.
func DistinctRunIDs(t testing.TB, stateURL string) int64 {
	t.Helper()
	first := 1 + mathrand.Int64N(1<<40)
	Exec(t, stateURL, fmt.Sprintf("ALTER SEQUENCE runs_id_seq RESTART WITH %d", first))
	return first
}

// SyncBuffer is a bytes.Buffer that a writer and a reader goroutine may share.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WriteAgeKey writes a new age identity to dir/age.key (0600), the file
// test configs name as encryption.age_identity_file, and returns it.
func WriteAgeKey(t testing.TB, dir string) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "age.key"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}
