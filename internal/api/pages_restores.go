package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

const (
	// restoresPageSize is how many restores the restores page lists at a time.
	restoresPageSize = 50
	// targetRestores is how many of its restores a target's page lists.
	targetRestores = 10
	// restoreFormMax bounds the restore form's body.
	restoreFormMax = 16 << 10
)

// handleRestoreForm shows a stored backup's "Restore…" form.
func (s *Server) handleRestoreForm(w http.ResponseWriter, r *http.Request) {
	p := s.page(w, r)
	id, err := pathID(r, "backup")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.restoreForm(r.Context(), p, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	render(w, r, http.StatusOK, views.RestoreFormPage(v))
}

// restoreForm is the form of backup id: ENOTFOUND for an unknown backup,
// EGONE for a pruned one (there is nothing left to restore).
func (s *Server) restoreForm(ctx context.Context, p views.Page, id int64) (views.RestoreFormView, error) {
	v := views.RestoreFormView{Page: p}
	b, err := s.Backups.BackupGet(ctx, id)
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		err = &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: "No backup #" + strconv.FormatInt(id, 10) + "."}
	}
	if err != nil {
		return v, err
	}
	if b.PrunedAt != nil {
		return v, &lifeboat.Error{Code: lifeboat.EGONE, Message: fmt.Sprintf(
			"Backup #%d was deleted by retention (%s): there is nothing left to restore.", id, b.PrunedReason)}
	}
	status := lifeboat.RunSucceeded
	if !b.Verified {
		statuses, err := s.Pages.RunStatuses(ctx, []int64{b.RunID})
		if err != nil {
			return v, err
		}
		status = statuses[b.RunID]
	}
	v.Target = b.Target
	v.Backup = views.BackupRow{RunID: b.RunID, CreatedAt: b.CreatedAt, Storage: b.Storage, Key: b.Key,
		SHA256: b.SHA256, StoredBytes: b.StoredBytes, Status: status}
	v.Usage = s.backupUsage(ctx, b.Storage, b.Key)
	return v, nil
}

// backupUsage is what the pages need to say how to restore a backup by hand.
func (s *Server) backupUsage(ctx context.Context, storage, key string) views.BackupUsage {
	u := views.BackupUsage{Storage: storage, Key: key}
	if s.Dashboard != nil {
		u.IdentityFile = s.Dashboard.AgeIdentityFile(ctx)
	}
	return u
}

// handleRestoreCreate queues a restore from the form, once the database's
// name was typed again, and goes to its page. A refusal shows the form
// again, saying which field is wrong, without the URL or the password: a
// secret is never written into a page.
func (s *Server) handleRestoreCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := pathID(r, "backup")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, restoreFormMax)
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, lifeboat.Errorf(lifeboat.EINVALID, "The form could not be read (at most %d bytes).", restoreFormMax))
		return
	}
	v, err := s.restoreForm(ctx, s.page(w, r), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v.Clean = r.PostForm.Get("clean") != ""
	v.Confirm = strings.TrimSpace(r.PostForm.Get("confirm"))
	refuse := func(status int, field, msg string) {
		v.ErrorField, v.Error = field, msg
		render(w, r, status, views.RestoreFormPage(v))
	}
	into, dbname, field, msg := restoreDestination(strings.TrimSpace(r.PostForm.Get("database_url")), r.PostForm.Get("password"))
	if msg != "" {
		refuse(http.StatusUnprocessableEntity, field, msg)
		return
	}
	if v.Confirm != dbname {
		refuse(http.StatusUnprocessableEntity, "confirm",
			fmt.Sprintf("Type %q, the name of the database in the URL, to confirm.", dbname))
		return
	}
	rs, err := s.Backups.RestoreBackup(ctx, lifeboat.RestoreRequest{BackupID: id, DatabaseURL: into, Clean: v.Clean})
	if err != nil {
		status := statusOf(lifeboat.ErrorCode(err))
		msg := s.userMessage(r, err)
		field := ""
		if rest, ok := strings.CutPrefix(msg, "database_url: "); ok {
			field, msg = "database_url", capitalize(rest)
		}
		refuse(status, field, msg)
		return
	}
	s.flash(w, r, views.FlashOK, fmt.Sprintf("Restore #%d of backup #%d into %s started.", rs.ID, id, dbname))
	http.Redirect(w, r, views.RestoreURL(rs.ID), http.StatusSeeOther)
}

// restoreDestination joins the form's URL and password into the URL to
// restore into, and returns the database's name. A problem comes back as
// the field it is about and a message (never quoting the URL, which may
// hold a password).
func restoreDestination(raw, password string) (into, dbname, field, msg string) {
	if raw == "" {
		return "", "", "database_url", "Give the URL of the database to restore into."
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return "", "", "database_url", "Give a postgresql://user@host:5432/dbname URL."
	}
	dbname, err = url.PathUnescape(strings.TrimPrefix(u.Path, "/"))
	if err != nil || dbname == "" || strings.Contains(dbname, "/") {
		return "", "", "database_url", "The URL must end with the database's name: postgresql://user@host:5432/dbname."
	}
	if password != "" {
		if u.User == nil || u.User.Username() == "" {
			return "", "", "password", "Name the user the password is for in the URL: postgresql://user@host:5432/" + dbname + "."
		}
		u.User = url.UserPassword(u.User.Username(), password)
	}
	return u.String(), dbname, "", ""
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// handleRestore shows one restore; app.js refreshes it while it runs.
func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request) {
	p := s.page(w, r)
	id, err := pathID(r, "restore")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rs, err := s.Backups.RestoreGet(r.Context(), id)
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		err = &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: "No restore #" + strconv.FormatInt(id, 10) + "."}
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	render(w, r, http.StatusOK, views.RestorePage(views.RestoreView{Page: p, Restore: rs}))
}

// handleRestores lists every restore, newest first, a page at a time.
func (s *Server) handleRestores(w http.ResponseWriter, r *http.Request) {
	p := s.page(w, r)
	v := views.RestoresView{Page: p, Cursor: r.URL.Query().Get("cursor")}
	var before int64
	if v.Cursor != "" {
		var err error
		if before, err = decodeCursor(v.Cursor); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	if s.Pages == nil {
		s.pageError(w, r, lifeboat.Errorf(lifeboat.EINTERNAL, "the dashboard's reader is not wired in this process"))
		return
	}
	list, more, err := s.Pages.RestoreList(r.Context(), "", before, restoresPageSize)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, rs := range list {
		v.Restores = append(v.Restores, views.RestoreRowOf(rs, p.Now))
	}
	if more && len(list) > 0 {
		v.NextCursor = encodeCursor(list[len(list)-1].ID)
	}
	render(w, r, http.StatusOK, views.RestoresPage(v))
}

// targetRestoreRows are a target's newest restores, and whether it has more.
func (s *Server) targetRestoreRows(ctx context.Context, target string, p views.Page) ([]views.RestoreRow, bool, error) {
	list, more, err := s.Pages.RestoreList(ctx, target, 0, targetRestores)
	if err != nil {
		return nil, false, err
	}
	out := make([]views.RestoreRow, len(list))
	for i, rs := range list {
		out[i] = views.RestoreRowOf(rs, p.Now)
	}
	return out, more, nil
}
