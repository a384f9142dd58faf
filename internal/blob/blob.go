// Package blob stores backup objects and their manifests: one Store
// interface with an S3 (aws-sdk-go-v2) and a local-folder implementation.
// An object is never half-visible: S3 multipart uploads are aborted on error
// and local files are written under a temporary name and renamed.
package blob

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// Store is a place backup objects live. Keys are relative to the store's
// prefix (S3) or folder (fs) and always use "/".
type Store interface {
	// Put streams r to key. It returns the bytes written. On any error,
	// including ctx cancellation or r failing, nothing is left visible at key.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Get opens key for streaming reads. A missing key returns an error
	// wrapping lifeboat.ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns the object's size; ErrNotFound-wrapping error when missing.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns objects whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string) ([]Info, error)
}

// Info describes a stored object.
type Info struct {
	Key      string
	Size     int64
	Modified time.Time
}

// ManifestSuffix is appended to an object key to name its manifest.
const ManifestSuffix = ".manifest.json"

// Manifest format versions. Version 1 kept the source inventory (schemas,
// table names, row counts) in plaintext; version 2 keeps in the clear only
// what finds and checks the object, and the inventory age-encrypted to the
// backup's own recipients.
const (
	ManifestV1 = 1
	ManifestV2 = 2
)

// Manifest makes a backup self-describing so it can be restored without
// lifeboat's own database. Its JSON is what storage holds: in version 2
// nothing in it names what the database contains.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	Target        string    `json:"target"` // also in the object's key
	RunID         int64     `json:"run_id"`
	CreatedAt     time.Time `json:"created_at"`
	ServerVersion string    `json:"server_version"`
	PgDumpVersion string    `json:"pg_dump_version"`
	DumpFormat    string    `json:"dump_format"` // "custom"
	Compression   string    `json:"compression"` // "zstd"
	Encryption    string    `json:"encryption"`  // "age"
	Recipients    []string  `json:"recipients"`
	RawBytes      int64     `json:"raw_bytes"`
	StoredBytes   int64     `json:"stored_bytes"`
	SHA256        string    `json:"sha256"`
	// Inventory (version 2) is Source as JSON, age-encrypted to Recipients
	// (base64 in the JSON; `age --decrypt` opens the decoded bytes).
	Inventory []byte `json:"inventory,omitempty"`
	// Source is the schema inventory and row counts taken in the dump's
	// snapshot. Version 1 stores it in plaintext under "source"; version 2
	// never stores it in the clear: it is filled in when Inventory is
	// decrypted (pipeline.ReadManifest).
	Source lifeboat.SourceSnapshot `json:"-"`
}

// manifestFields is Manifest without its methods, for encoding/json.
type manifestFields Manifest

type manifestJSON struct {
	manifestFields
	Source *lifeboat.SourceSnapshot `json:"source,omitempty"`
}

// MarshalJSON writes "source" for version 1 only (old fixtures); a
// version-2 manifest's inventory leaves only as Inventory.
func (m Manifest) MarshalJSON() ([]byte, error) {
	j := manifestJSON{manifestFields: manifestFields(m)}
	if m.FormatVersion < ManifestV2 {
		j.Source = &m.Source
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads both versions; a version-1 "source" fills Source.
func (m *Manifest) UnmarshalJSON(b []byte) error {
	var j manifestJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Manifest(j.manifestFields)
	if j.Source != nil {
		m.Source = *j.Source
	}
	return nil
}
