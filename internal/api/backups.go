package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// BackupService lists, reads, downloads and restores backups (jobs.Runner).
type BackupService interface {
	// BackupList is ENOTFOUND for a target with neither config nor history.
	BackupList(ctx context.Context, f lifeboat.BackupFilter) (backups []lifeboat.Backup, more bool, err error)
	// BackupGet carries the manifest, or why it could not be read.
	BackupGet(ctx context.Context, id int64) (lifeboat.Backup, error)
	// BackupDownload is EGONE for a pruned backup; a URL starting with "/"
	// is a path on this server.
	BackupDownload(ctx context.Context, id int64, ttl time.Duration) (lifeboat.BackupDownload, error)
	// DownloadOpen is EFORBIDDEN for a token lifeboat did not sign, EGONE
	// for an expired one or a pruned backup.
	DownloadOpen(ctx context.Context, token string) (lifeboat.DownloadObject, error)
	// RestoreBackup queues a restore; ECONFLICT for a non-empty database
	// without Clean, EINVALID for a URL it cannot use.
	RestoreBackup(ctx context.Context, req lifeboat.RestoreRequest) (lifeboat.Restore, error)
	RestoreGet(ctx context.Context, id int64) (lifeboat.Restore, error)
	// BackupsUndecryptable warns when retained backups of target were
	// encrypted to recipients no loaded identity matches ("": none).
	BackupsUndecryptable(ctx context.Context, target string) (string, error)
}

const backupListDefault = 50

// ListBackups answers a page of a target's backups, newest first (keyset on id).
func (s *Server) ListBackups(ctx context.Context, in ListBackupsRequestObject) (ListBackupsResponseObject, error) {
	limit, err := intParam(in.Params.Limit, "limit", backupListDefault, 1, runListMax)
	if err != nil {
		return nil, err
	}
	f := lifeboat.BackupFilter{Target: in.Name, Limit: int(limit),
		IncludePruned: in.Params.IncludePruned != nil && *in.Params.IncludePruned}
	if raw := deref(in.Params.Cursor); raw != "" {
		if f.BeforeID, err = decodeCursor(raw); err != nil {
			return nil, err
		}
	}
	backups, more, err := s.Backups.BackupList(ctx, f)
	if err != nil {
		return nil, err
	}
	page := ListBackups200JSONResponse{Backups: backups}
	if page.Backups == nil {
		page.Backups = []lifeboat.Backup{}
	}
	if more && len(backups) > 0 {
		c := encodeCursor(backups[len(backups)-1].ID)
		page.NextCursor = &c
	}
	return page, nil
}

func checkBackupID(id int64) error {
	if id <= 0 {
		return lifeboat.Errorf(lifeboat.EINVALID, "id: %d is not a backup id (a positive integer)", id)
	}
	return nil
}

// GetBackup answers one backup with its manifest.
func (s *Server) GetBackup(ctx context.Context, in GetBackupRequestObject) (GetBackupResponseObject, error) {
	if err := checkBackupID(in.Id); err != nil {
		return nil, err
	}
	b, err := s.Backups.BackupGet(ctx, in.Id)
	if err != nil {
		return nil, err
	}
	return GetBackup200JSONResponse(b), nil
}

// CreateBackupDownload answers a short-lived URL of the backup's object.
func (s *Server) CreateBackupDownload(ctx context.Context, in CreateBackupDownloadRequestObject) (CreateBackupDownloadResponseObject, error) {
	if err := checkBackupID(in.Id); err != nil {
		return nil, err
	}
	ttl := lifeboat.MaxDownloadTTL
	if in.Body != nil && in.Body.ExpiresIn != nil {
		n := *in.Body.ExpiresIn
		if n < 1 || time.Duration(n)*time.Second > lifeboat.MaxDownloadTTL {
			return nil, lifeboat.Errorf(lifeboat.EINVALID, "body.expires_in: %d is not between 1 and %d seconds",
				n, int(lifeboat.MaxDownloadTTL/time.Second))
		}
		ttl = time.Duration(n) * time.Second
	}
	d, err := s.Backups.BackupDownload(ctx, in.Id, ttl)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(d.URL, "/") {
		// No base_url configured: the URL is on the server this request reached.
		d.URL = requestOrigin(requestOf(ctx)) + d.URL
	}
	return CreateBackupDownload200JSONResponse(d), nil
}

// requestOrigin is scheme://host of the request, as the client addressed it.
func requestOrigin(r *http.Request) string {
	if r == nil {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// RestoreBackup queues a disaster-recovery restore: 202 with it.
func (s *Server) RestoreBackup(ctx context.Context, in RestoreBackupRequestObject) (RestoreBackupResponseObject, error) {
	if err := checkBackupID(in.Id); err != nil {
		return nil, err
	}
	if in.Body == nil || in.Body.DatabaseUrl == nil || *in.Body.DatabaseUrl == "" {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "body.database_url: is required")
	}
	req := lifeboat.RestoreRequest{BackupID: in.Id, DatabaseURL: *in.Body.DatabaseUrl,
		Clean: in.Body.Clean != nil && *in.Body.Clean}
	rs, err := s.Backups.RestoreBackup(ctx, req)
	if err != nil {
		return nil, err
	}
	loc := "/api/v1/restores/" + strconv.FormatInt(rs.ID, 10)
	return RestoreBackup202JSONResponse{Body: rs, Headers: RestoreBackup202ResponseHeaders{Location: &loc}}, nil
}

// GetRestore answers a restore's status, checks and last log lines.
func (s *Server) GetRestore(ctx context.Context, in GetRestoreRequestObject) (GetRestoreResponseObject, error) {
	if in.Id <= 0 {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "id: %d is not a restore id (a positive integer)", in.Id)
	}
	rs, err := s.Backups.RestoreGet(ctx, in.Id)
	if err != nil {
		return nil, err
	}
	return GetRestore200JSONResponse(rs), nil
}

// DownloadBackup serves a backup's stored bytes to the holder of a signed
// token (the token is the authorization: /downloads is not under /api/v1).
func (s *Server) DownloadBackup(ctx context.Context, in DownloadBackupRequestObject) (DownloadBackupResponseObject, error) {
	o, err := s.Backups.DownloadOpen(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	return downloadResponse{r: requestOf(ctx), obj: o, s: s}, nil
}

// downloadResponse writes the object; a seekable one (fs) through
// http.ServeContent, so ranges work and a broken download can resume.
type downloadResponse struct {
	r   *http.Request
	obj lifeboat.DownloadObject
	s   *Server
}

func (d downloadResponse) VisitDownloadBackupResponse(w http.ResponseWriter) error {
	defer d.obj.Body.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream") // never sniffed
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.obj.Filename}))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if sum, err := hex.DecodeString(d.obj.SHA256); err == nil && len(sum) == 32 {
		h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	if rs, ok := d.obj.Body.(io.ReadSeeker); ok && d.r != nil {
		http.ServeContent(w, d.r, "", time.Time{}, rs)
		return nil
	}
	h.Set("Content-Length", strconv.FormatInt(d.obj.Size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, d.obj.Body); err != nil {
		// The status is sent: a problem document can no longer follow.
		d.s.Logger.Warn("download interrupted", "file", d.obj.Filename, "err", err)
	}
	return nil
}

// ListRestores answers a page of restores, newest first (keyset on id):
// the records the dashboard's Restores page shows.
func (s *Server) ListRestores(ctx context.Context, in ListRestoresRequestObject) (ListRestoresResponseObject, error) {
	limit, err := intParam(in.Params.Limit, "limit", backupListDefault, 1, runListMax)
	if err != nil {
		return nil, err
	}
	var before int64
	if raw := deref(in.Params.Cursor); raw != "" {
		if before, err = decodeCursor(raw); err != nil {
			return nil, err
		}
	}
	if s.Pages == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "the restore list is not wired in this process")
	}
	list, more, err := s.Pages.RestoreList(ctx, deref(in.Params.Target), before, int(limit))
	if err != nil {
		return nil, err
	}
	page := ListRestores200JSONResponse{Restores: list}
	if page.Restores == nil {
		page.Restores = []lifeboat.Restore{}
	}
	if more && len(list) > 0 {
		c := encodeCursor(list[len(list)-1].ID)
		page.NextCursor = &c
	}
	return page, nil
}
