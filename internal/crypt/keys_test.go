package crypt

import (
	"bytes"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
)

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	return id
}

// TestSealBytes: a sealed inventory opens with the identity, not without
// it, and holds nothing of its plaintext.
func TestSealBytes(t *testing.T) {
	t.Parallel()
	id, other := newIdentity(t), newIdentity(t)
	plain := []byte(`{"tables":[{"schema":"billing","name":"invoices","rows":7}]}`)
	sealed, err := SealBytes(plain, []age.Recipient{id.Recipient()})
	require.NoError(t, err)
	require.False(t, bytes.Contains(sealed, []byte("invoices")))
	require.True(t, bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n")), "a plain age file")

	got, err := OpenBytes(sealed, 1<<20, other, id)
	require.NoError(t, err)
	require.Equal(t, plain, got)

	_, err = OpenBytes(sealed, 1<<20, other)
	require.Error(t, err)
	require.True(t, lifeboat.IsPermanent(err))
	_, err = OpenBytes(sealed, 10, id)
	require.ErrorContains(t, err, "more than 10 bytes")
}

// TestCheckRecipients names the recipients when no identity matches, and
// passes when any does.
func TestCheckRecipients(t *testing.T) {
	t.Parallel()
	current, old, gone := newIdentity(t), newIdentity(t), newIdentity(t)
	ids := []age.Identity{current, old}
	require.NoError(t, CheckRecipients([]string{old.Recipient().String()}, ids))
	require.NoError(t, CheckRecipients([]string{gone.Recipient().String(), current.Recipient().String()}, ids))
	require.NoError(t, CheckRecipients(nil, ids), "no recipients listed: cannot tell")

	err := CheckRecipients([]string{gone.Recipient().String()}, ids)
	require.EqualError(t, err, "was encrypted to "+gone.Recipient().String()+"; no loaded identity matches")
	var nie *NoIdentityError
	require.ErrorAs(t, err, &nie)

	// A passphrase identity cannot be matched by recipient: no verdict.
	sc, err := age.NewScryptIdentity("pw")
	require.NoError(t, err)
	require.NoError(t, CheckRecipients([]string{gone.Recipient().String()}, []age.Identity{sc}))
}
