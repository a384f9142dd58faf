package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
)

// MaxBackupPage bounds one page of a backup list.
const MaxBackupPage = 200

// downloadKeyName is the server key (store.ServerKey) that signs the
// /downloads/{token} URLs of backups kept on fs storage.
const downloadKeyName = "download"

// BackupList returns a page of a target's backups, newest first, and
// whether more follow. A target no longer configured still lists the
// backups its history holds; a name with neither is ENOTFOUND.
func (r *Runner) BackupList(ctx context.Context, f lifeboat.BackupFilter) ([]lifeboat.Backup, bool, error) {
	if f.Limit < 1 || f.Limit > MaxBackupPage {
		return nil, false, lifeboat.Errorf(lifeboat.EINVALID, "limit: must be between 1 and %d", MaxBackupPage)
	}
	if _, ok := r.conf().Target(f.Target); !ok {
		known, err := r.deps.Store.TargetHasRuns(ctx, f.Target)
		if err != nil {
			return nil, false, err
		}
		if !known {
			return nil, false, lifeboat.Errorf(lifeboat.ENOTFOUND, "no target named %q", f.Target)
		}
	}
	return r.deps.Store.BackupList(ctx, f)
}

// backupGet reads a backup's row, with a not-found error that names it.
func (r *Runner) backupGet(ctx context.Context, id int64) (lifeboat.Backup, error) {
	b, err := r.deps.Store.BackupGet(ctx, id)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return b, lifeboat.Errorf(lifeboat.ENOTFOUND, "backup %d not found", id)
	}
	return b, err
}

// BackupGet returns a backup with the manifest stored beside its object.
// A manifest that cannot be read (pruned, missing, storage unreachable)
// leaves Manifest empty and says why in ManifestError: the backup's record
// is still worth showing.
func (r *Runner) BackupGet(ctx context.Context, id int64) (lifeboat.Backup, error) {
	b, err := r.backupGet(ctx, id)
	if err != nil {
		return b, err
	}
	if b.PrunedAt != nil {
		b.ManifestError = "pruned: retention deleted the object and its manifest"
		return b, nil
	}
	st, ok := r.catalog().Stores[b.Storage]
	if !ok {
		b.ManifestError = fmt.Sprintf("storage %q is not configured", b.Storage)
		return b, nil
	}
	m, err := blob.GetManifest(ctx, st, b.Key)
	switch {
	case errors.Is(err, lifeboat.ErrNotFound):
		b.ManifestError = "the manifest is missing from storage: the backup is incomplete"
	case err != nil:
		b.ManifestError = "could not read the manifest: " + err.Error()
	default:
		if b.Manifest, err = manifestJSON(m, r.deps.Identities); err != nil {
			return b, fmt.Errorf("encode manifest of backup %d: %w", id, err)
		}
	}
	return b, nil
}

// manifestJSON is the manifest as stored and, for an API caller (who may
// read lifeboat's records anyway), its inventory decrypted as "source"
// when a loaded identity opens it.
func manifestJSON(m blob.Manifest, ids []age.Identity) (json.RawMessage, error) {
	raw, err := json.Marshal(m)
	if err != nil || m.FormatVersion < blob.ManifestV2 || pipeline.OpenInventory(&m, ids) != nil {
		return raw, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	if fields["source"], err = json.Marshal(m.Source); err != nil {
		return nil, err
	}
	return json.Marshal(fields)
}

// storedBackup returns a backup that is still in storage, and its store.
func (r *Runner) storedBackup(ctx context.Context, id int64) (lifeboat.Backup, blob.Store, error) {
	b, err := r.backupGet(ctx, id)
	if err != nil {
		return b, nil, err
	}
	if b.PrunedAt != nil {
		return b, nil, lifeboat.Errorf(lifeboat.EGONE, "backup %d was pruned at %s (%s)", id,
			b.PrunedAt.UTC().Format(time.RFC3339), b.PrunedReason)
	}
	st, ok := r.catalog().Stores[b.Storage]
	if !ok {
		return b, nil, lifeboat.Errorf(lifeboat.ECONFLICT, "backup %d is on storage %q, which is not configured", id, b.Storage)
	}
	return b, st, nil
}

func downloadName(b lifeboat.Backup) string { return b.Target + "-" + path.Base(b.Key) }

// BackupDownload returns a URL that fetches the backup's stored object for
// ttl (0: lifeboat.MaxDownloadTTL, the most allowed). S3 storage presigns a
// GET, so the bytes never pass through lifeboat; other storage gets a
// lifeboat URL, /downloads/{token}, whose token signs (backup id, expiry)
// with the server's download key. The URL is absolute when base_url is
// configured, else a path on this server.
func (r *Runner) BackupDownload(ctx context.Context, id int64, ttl time.Duration) (lifeboat.BackupDownload, error) {
	var d lifeboat.BackupDownload
	if ttl == 0 {
		ttl = lifeboat.MaxDownloadTTL
	}
	if ttl < time.Second || ttl > lifeboat.MaxDownloadTTL {
		return d, lifeboat.Errorf(lifeboat.EINVALID, "expires_in: must be between 1 and %d seconds", int(lifeboat.MaxDownloadTTL/time.Second))
	}
	ttl = ttl.Truncate(time.Second)
	b, st, err := r.storedBackup(ctx, id)
	if err != nil {
		return d, err
	}
	d = lifeboat.BackupDownload{Filename: downloadName(b), SHA256: b.SHA256, Bytes: b.StoredBytes,
		Decrypt: fmt.Sprintf("The file is the backup exactly as stored: a pg_dump custom-format archive, zstd-compressed, "+
			"then age-encrypted to lifeboat's recipients (sha256 %s). Decrypt it with the age identity: "+
			"`age --decrypt -i age.key %s | zstd -d > backup.dump`, then `pg_restore --no-owner --dbname DATABASE_URL backup.dump`; "+
			"or let lifeboat do all of it from storage: `lifeboat restore --config FILE --storage %s --object %s --into DATABASE_URL`.",
			b.SHA256, d.Filename, b.Storage, b.Key)}
	if p, ok := st.(blob.Presigner); ok {
		d.URL, d.ExpiresAt, err = p.PresignGet(ctx, b.Key, ttl, d.Filename)
		return d, err
	}
	key, err := r.deps.Store.ServerKey(ctx, downloadKeyName)
	if err != nil {
		return d, err
	}
	d.ExpiresAt = r.deps.Now().Add(ttl).Truncate(time.Second)
	d.URL = strings.TrimRight(r.conf().BaseURL, "/") + "/downloads/" + blob.SignDownload(key, b.ID, d.ExpiresAt)
	return d, nil
}

// DownloadOpen checks a /downloads/{token} token (EFORBIDDEN when lifeboat
// did not sign it, EGONE once expired or when the backup was pruned) and
// opens the backup's stored bytes. The caller closes Body.
func (r *Runner) DownloadOpen(ctx context.Context, token string) (lifeboat.DownloadObject, error) {
	var o lifeboat.DownloadObject
	key, err := r.deps.Store.ServerKey(ctx, downloadKeyName)
	if err != nil {
		return o, err
	}
	id, err := blob.VerifyDownload(key, token, r.deps.Now())
	if err != nil {
		return o, err
	}
	b, st, err := r.storedBackup(ctx, id)
	if err != nil {
		return o, err
	}
	info, err := st.Stat(ctx, b.Key)
	if err != nil {
		return o, fmt.Errorf("download backup %d: %w", id, err)
	}
	body, err := st.Get(ctx, b.Key)
	if err != nil {
		return o, fmt.Errorf("download backup %d: %w", id, err)
	}
	return lifeboat.DownloadObject{Body: body, Size: info.Size, Filename: downloadName(b), SHA256: b.SHA256}, nil
}

// BackupsUndecryptable says when retained backups of target were encrypted
// to recipients none of the loaded identities matches: they cannot be
// restored until such an identity is listed (encryption.age_identity_files).
func (r *Runner) BackupsUndecryptable(ctx context.Context, target string) (string, error) {
	have, complete := pipeline.LoadedRecipients(r.deps.Identities)
	if !complete {
		return "", nil // an identity that is not X25519 cannot be matched
	}
	ids, recipients, err := r.deps.Store.UndecryptableBackups(ctx, target, have)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	list := make([]string, 0, min(len(ids), 5))
	for _, id := range ids[:min(len(ids), 5)] {
		list = append(list, fmt.Sprintf("#%d", id))
	}
	more := ""
	if len(ids) > 5 {
		more = fmt.Sprintf(" and %d more", len(ids)-5)
	}
	return fmt.Sprintf("%d retained backup(s) (%s%s) were encrypted to %s; no loaded identity matches: they cannot be restored "+
		"until that identity is listed in encryption.age_identity_files", len(ids), strings.Join(list, ", "), more,
		strings.Join(recipients, ", ")), nil
}
