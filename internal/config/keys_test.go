package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIdentityRotation: age_identity_files lists the current identity first
// and older ones after it; backups go to the current one's recipient only,
// and every listed identity decrypts.
func TestIdentityRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	current := writeIdentity(t, dir, "current.key")
	old := writeIdentity(t, dir, "keys/old.key")
	doc := `
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres}
encryption:
  age_identity_files: [current.key, keys/old.key]
`
	c, err := Parse([]byte(doc), dir, nil)
	require.NoError(t, err)
	_, names, err := c.Recipients()
	require.NoError(t, err)
	require.Equal(t, []string{current.Recipient().String()}, names, "new backups go to the current identity only")
	ids, err := c.Identities()
	require.NoError(t, err)
	require.Len(t, ids, 2)
	require.Equal(t, current.String(), ids[0].(interface{ String() string }).String())
	require.Equal(t, old.String(), ids[1].(interface{ String() string }).String())
	require.Equal(t, dir+"/current.key", c.Encryption.CurrentIdentityFile())

	// The single-file form keeps working and names its own file.
	c, err = Parse([]byte(`
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres}
encryption: {age_identity_file: keys/old.key}
`), dir, nil)
	require.NoError(t, err)
	_, names, err = c.Recipients()
	require.NoError(t, err)
	require.Equal(t, []string{old.Recipient().String()}, names)
	require.Equal(t, dir+"/keys/old.key", c.Encryption.CurrentIdentityFile())

	// Both forms at once, or a missing file, name the field.
	_, err = Parse([]byte(`
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres}
encryption:
  age_identity_file: current.key
  age_identity_files: [current.key, missing.key]
`), dir, nil)
	require.Contains(t, errorLines(t, err), "encryption.age_identity_files: age_identity_file is also set; use one or the other (list the current identity first)")
	_, err = Parse([]byte(`
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres}
encryption:
  age_identity_files: [current.key, missing.key]
`), dir, nil)
	require.Contains(t, errorLines(t, err), "encryption.age_identity_files[1]: open "+dir+"/missing.key: no such file or directory")
}
