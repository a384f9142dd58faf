package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// TestCopiesList: each copy says whether it is checksum-verified or failed
// (and why), which run proved it, and until when it is locked.
func TestCopiesList(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 12, 31, 3, 0, 0, 0, time.UTC)
	doc, _ := renderPage(t, views.CopiesList([]lifeboat.Copy{
		{Storage: "main", Status: lifeboat.CopyVerified, ProvenByRun: 42, LockMode: "compliance", LockedUntil: &until},
		{Storage: "offsite", Status: lifeboat.CopyFailed, Error: "read back: checksum mismatch"},
		{Storage: "local", Status: lifeboat.CopyStored},
	}, views.Page{}))
	main := mustTestID(t, doc, "copy-main")
	require.Contains(t, textOf(main), "stored, checksum-verified")
	require.Contains(t, textOf(mustTestID(t, main, "copy-proven")), "run #42")
	locked := textOf(mustTestID(t, main, "copy-locked"))
	require.Contains(t, locked, "locked until")
	require.Contains(t, locked, "2026")
	require.Contains(t, locked, "compliance")
	off := textOf(mustTestID(t, doc, "copy-offsite"))
	require.Contains(t, off, "failed")
	require.Contains(t, off, "checksum mismatch")
	require.Empty(t, findAll(mustTestID(t, doc, "copy-offsite"), testID("copy-proven")))
	require.True(t, strings.Contains(textOf(mustTestID(t, doc, "copy-local")), "not yet read back"))
}
