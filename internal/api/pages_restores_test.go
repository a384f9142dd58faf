package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// testRestorePages restores the verified backup of "good" from the
// dashboard: the form refuses a wrong confirmation and a non-empty
// database saying which field, the restore is followed on its own page,
// listed on the restores and target pages, and agrees with the API. The
// password typed in the form is never in a page, a Location or the log.
func testRestorePages(t *testing.T, pb *pagesBundle) {
	ctx := context.Background()
	run, err := pb.store.RunGet(ctx, pb.good)
	require.NoError(t, err)
	formPath := "/backups/" + itoa(pb.good) + "/restore"

	// The target page: Restore… beside each backup, how to use the file,
	// and no restores yet.
	doc := pb.page(t, "/targets/good", http.StatusOK)
	row := mustTestID(t, doc, "backup-"+itoa(pb.good))
	require.Equal(t, formPath, attrOf(mustTestID(t, row, "restore"), "href"))
	require.NotNil(t, byTestID(doc, "no-restores"))
	usage := text(mustTestID(t, doc, "backups-usage"))
	require.Contains(t, usage, "--storage main --object good/", "the newest backup's key")

	// The form, with the commands for this backup.
	doc = pb.page(t, formPath, http.StatusOK)
	cli := text(mustTestID(t, doc, "usage-cli"))
	require.Equal(t, `lifeboat restore --config "$LIFEBOAT_CONFIG" --storage main --object `+run.Artifact.Key+` --into "$DATABASE_URL"`, cli)
	pipe := text(mustTestID(t, doc, "usage-pipe"))
	require.Contains(t, pipe, "good-"+itoa(pb.good)+".dump.zst.age | zstd -d -c | pg_restore")
	require.Contains(t, pipe, "age.key", "the configured identity file")
	pb.page(t, "/backups/999999999/restore", http.StatusNotFound)

	// The database to restore into, and its URL without and with password.
	into := testenv.CreateDB(t, "lbinto_")
	u, err := url.Parse(into)
	require.NoError(t, err)
	password, _ := u.User.Password()
	dbname := strings.TrimPrefix(u.Path, "/")
	bare := *u
	bare.User = url.User(u.User.Username())

	form := func(dbURL, pass, confirm string, clean bool) url.Values {
		v := url.Values{"database_url": {dbURL}, "password": {pass}, "confirm": {confirm}}
		if clean {
			v.Set("clean", "1")
		}
		return v
	}
	// A confirmation that is not the database's name: nothing starts.
	resp, body := pb.post(t, formPath, form(bare.String(), password, dbname+"x", false), formPath)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), `data-testid="restore-confirm-error"`)
	require.Contains(t, string(body), "Type &#34;"+dbname+"&#34;")
	require.NotContains(t, string(body), password, "the password is not sent back")
	// A URL that is not one names its field.
	resp, body = pb.post(t, formPath, form("mysql://x/y", "", "y", false), formPath)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, string(body), `data-testid="restore-url-error"`)
	// A password without a user to go with it.
	noUser := bare
	noUser.User = nil
	resp, body = pb.post(t, formPath, form(noUser.String(), password, dbname, false), formPath)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, string(body), "Name the user")
	require.Zero(t, restoreCount(t, pb), "no refused form started a restore")

	// The password in its own field: the restore starts and its page follows.
	resp, body = pb.post(t, formPath, form(bare.String(), password, dbname, false), formPath)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s", body)
	loc := resp.Header.Get("Location")
	require.Regexp(t, `^/restores/\d+$`, loc)
	require.NotContains(t, loc, password)
	id := strings.TrimPrefix(loc, "/restores/")
	doc = pb.page(t, loc, http.StatusOK)
	require.Contains(t, text(mustTestID(t, doc, "flash-ok")), "Restore #"+id+" of backup #"+itoa(pb.good))
	deadline := time.Now().Add(2 * time.Minute)
	for byTestID(doc, "restore-live") != nil {
		require.True(t, time.Now().Before(deadline), "restore %s still running:\n%s", id, text(doc))
		time.Sleep(200 * time.Millisecond)
		doc = pb.page(t, loc, http.StatusOK)
	}
	require.Contains(t, text(mustTestID(t, doc, "restore-status")), "succeeded", text(doc))
	into0 := text(mustTestID(t, doc, "restore-into"))
	require.Contains(t, into0, "/"+dbname)
	checks := allByTestID(mustTestID(t, doc, "checks"), "check")
	require.NotEmpty(t, checks, "row counts compared with the manifest")
	for _, c := range checks {
		require.Contains(t, text(mustTestID(t, c, "check-result")), "passed", text(c))
	}
	require.Contains(t, text(mustTestID(t, doc, "log")), "restored database matches the backup")
	require.Contains(t, text(mustTestID(t, doc, "stage-compare")), "succeeded")
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customers"), "the rows are there")

	// Again into the now full database: refused, naming clean.
	resp, body = pb.post(t, formPath, form(bare.String(), password, dbname, false), formPath)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), `data-testid="restore-url-error"`)
	require.Contains(t, string(body), "clean")

	// Listed on the restores page and the target's, as the API shows it.
	doc = pb.page(t, "/restores", http.StatusOK)
	require.Contains(t, text(mustTestID(t, mustTestID(t, doc, "restore-"+id), "status")), "succeeded")
	doc = pb.page(t, "/targets/good", http.StatusOK)
	require.NotNil(t, byTestID(mustTestID(t, doc, "restores"), "restore-"+id))
	require.Nil(t, byTestID(pb.page(t, "/targets/bad", http.StatusOK), "restores"))
	apiResp, err := pb.b.Get(pb.srv.URL + "/api/v1/restores/" + id)
	require.NoError(t, err)
	apiBody, _ := io.ReadAll(apiResp.Body)
	apiResp.Body.Close()
	require.Equal(t, http.StatusOK, apiResp.StatusCode, "%s", apiBody)
	var rs lifeboat.Restore
	require.NoError(t, json.Unmarshal(apiBody, &rs))
	require.Equal(t, lifeboat.RestoreSucceeded, rs.Status)
	require.Equal(t, pb.good, rs.BackupID)
	require.NotContains(t, string(apiBody), password)
	pb.page(t, "/restores/999999999", http.StatusNotFound)

	// The API lists the same records.
	apiGet := func(path string) (int, []byte) {
		req, err := http.NewRequest(http.MethodGet, pb.srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+pb.token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	var list struct {
		Restores   []lifeboat.Restore `json:"restores"`
		NextCursor *string            `json:"next_cursor"`
	}
	code, listBody := apiGet("/api/v1/restores?target=good")
	require.Equal(t, http.StatusOK, code, "%s", listBody)
	require.NoError(t, json.Unmarshal(listBody, &list))
	require.Len(t, list.Restores, 1)
	require.Equal(t, rs.ID, list.Restores[0].ID)
	require.Equal(t, lifeboat.RestoreSucceeded, list.Restores[0].Status)
	require.NotEmpty(t, list.Restores[0].Checks, "with its checks")
	require.Nil(t, list.NextCursor)
	require.NotContains(t, string(listBody), password)
	code, listBody = apiGet("/api/v1/restores?target=bad")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"restores": [], "next_cursor": null}`, string(listBody))
	code, _ = apiGet("/api/v1/restores?cursor=nope")
	require.Equal(t, http.StatusBadRequest, code)

	require.NotContains(t, pb.logs.String(), password, "the server's log")
}

func restoreCount(t *testing.T, pb *pagesBundle) int64 {
	t.Helper()
	var n int64
	require.NoError(t, pb.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM restores").Scan(&n))
	return n
}
