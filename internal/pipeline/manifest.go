package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/crypt"
)

// maxInventory bounds a decrypted inventory: thousands of tables are far
// below it.
const maxInventory = 64 << 20

// sealInventory makes a version-2 manifest's Inventory: the snapshot as
// JSON, age-encrypted to the backup's recipients.
func sealInventory(snap lifeboat.SourceSnapshot, recipients []age.Recipient) ([]byte, error) {
	plain, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("encode inventory: %w", err)
	}
	sealed, err := crypt.SealBytes(plain, recipients)
	if err != nil {
		return nil, fmt.Errorf("encrypt inventory: %w", err)
	}
	return sealed, nil
}

// CheckIdentities fails (permanently) when none of identities can decrypt
// a backup with manifest m: "backup 42 was encrypted to age1…; no loaded
// identity matches". Call it before anything is restored.
func CheckIdentities(m blob.Manifest, identities []age.Identity) error {
	if err := crypt.CheckRecipients(m.Recipients, identities); err != nil {
		return lifeboat.Permanent(fmt.Errorf("backup %d %w", m.RunID, err))
	}
	return nil
}

// OpenInventory fills m.Source from a version-2 manifest's encrypted
// Inventory (a version-1 manifest carries it in the clear already).
func OpenInventory(m *blob.Manifest, identities []age.Identity) error {
	if m.FormatVersion < blob.ManifestV2 {
		return nil
	}
	if len(m.Inventory) == 0 {
		return lifeboat.Permanent(fmt.Errorf("backup %d: manifest version %d has no inventory", m.RunID, m.FormatVersion))
	}
	if err := CheckIdentities(*m, identities); err != nil {
		return err
	}
	plain, err := crypt.OpenBytes(m.Inventory, maxInventory, identities...)
	if err != nil {
		return fmt.Errorf("backup %d: decrypt inventory: %w", m.RunID, err)
	}
	var snap lifeboat.SourceSnapshot
	if err := json.Unmarshal(plain, &snap); err != nil {
		return lifeboat.Permanent(fmt.Errorf("backup %d: decode inventory: %w", m.RunID, err))
	}
	m.Source = snap
	return nil
}

// ReadManifest reads the manifest of key, checks that one of identities
// matches its recipients, and decrypts its inventory into Source. A
// missing manifest is a permanent error: the backup is incomplete.
func ReadManifest(ctx context.Context, store blob.Store, key string, identities []age.Identity) (blob.Manifest, error) {
	m, err := blob.GetManifest(ctx, store, key)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return m, lifeboat.Permanent(fmt.Errorf("backup %s is incomplete: its manifest is missing", key))
	}
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	if m.FormatVersion > blob.ManifestV2 {
		return m, lifeboat.Permanent(fmt.Errorf("backup %s: manifest format %d is newer than this lifeboat reads (%d)", key, m.FormatVersion, blob.ManifestV2))
	}
	if err := CheckIdentities(m, identities); err != nil {
		return m, err
	}
	if err := OpenInventory(&m, identities); err != nil {
		return m, err
	}
	return m, nil
}

// LoadedRecipients returns the recipient of each loaded identity, and
// whether every identity had one (see crypt.IdentityRecipients).
func LoadedRecipients(identities []age.Identity) ([]string, bool) {
	return crypt.IdentityRecipients(identities)
}
