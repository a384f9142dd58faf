package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
)

// plainClient is an http.Client with nothing of the SDK: a presigned URL
// must work for curl, a browser or a script. It trusts the test CA for the
// TLS endpoint.
func plainClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(pem))
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	return c
}

func fetch(t *testing.T, c *http.Client, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

func TestPresignGet(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"s3-http", "s3-tls"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := setup(t, kind)
			ctx := context.Background()
			data := make([]byte, 6<<20+123) // multipart
			_, _ = rand.Read(data)
			const key = "app/2026/01/02/42.dump.zst.age"
			_, err := b.s3.Put(ctx, key, bytes.NewReader(data))
			require.NoError(t, err)
			client := plainClient(t, b.env.CAFile)

			before := time.Now()
			u, expires, err := b.s3.PresignGet(ctx, key, 5*time.Minute, "app-42.dump.zst.age")
			require.NoError(t, err)
			require.WithinDuration(t, before.Add(5*time.Minute), expires, 2*time.Second)
			parsed, err := url.Parse(u)
			require.NoError(t, err)
			require.Equal(t, "300", parsed.Query().Get("X-Amz-Expires"))
			require.NotContains(t, u, b.env.SecretKey, "the secret key signs the URL, it is not in it")

			status, hdr, body := fetch(t, client, u)
			require.Equal(t, http.StatusOK, status, "body: %.300s", body)
			require.True(t, bytes.Equal(data, body), "the stored bytes, exactly")
			require.Contains(t, hdr.Get("Content-Disposition"), "app-42.dump.zst.age")

			// Any change to what was signed is refused by S3 itself.
			q := parsed.Query()
			sig := q.Get("X-Amz-Signature")
			q.Set("X-Amz-Signature", strings.Repeat("0", len(sig)))
			tampered := *parsed
			tampered.RawQuery = q.Encode()
			status, _, _ = fetch(t, client, tampered.String())
			require.Equal(t, http.StatusForbidden, status, "tampered signature")
			q.Set("X-Amz-Signature", sig)
			q.Set("X-Amz-Expires", "604800")
			tampered.RawQuery = q.Encode()
			status, _, _ = fetch(t, client, tampered.String())
			require.Equal(t, http.StatusForbidden, status, "a longer expiry than signed")
			other := *parsed
			other.Path = strings.Replace(other.Path, "42.dump", "43.dump", 1)
			status, _, _ = fetch(t, client, other.String())
			require.Equal(t, http.StatusForbidden, status, "another key with the same signature")

			// Lifetimes are capped.
			for _, ttl := range []time.Duration{0, -time.Second, lifeboat.MaxDownloadTTL + time.Second, time.Hour} {
				_, _, err := b.s3.PresignGet(ctx, key, ttl, "")
				require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err), "ttl %s", ttl)
			}
			u, _, err = b.s3.PresignGet(ctx, key, lifeboat.MaxDownloadTTL, "")
			require.NoError(t, err)
			parsed, err = url.Parse(u)
			require.NoError(t, err)
			require.Equal(t, "900", parsed.Query().Get("X-Amz-Expires"))
		})
	}
}

// TestPresignGetExpires: a URL stops working once its lifetime is over. It
// waits for S3 to refuse a 1-second URL, bounded by a generous deadline.
func TestPresignGetExpires(t *testing.T) {
	t.Parallel()
	b := setup(t, "s3-http")
	ctx := context.Background()
	const key = "app/1.dump.zst.age"
	_, err := b.s3.Put(ctx, key, strings.NewReader("stored bytes"))
	require.NoError(t, err)
	u, expires, err := b.s3.PresignGet(ctx, key, time.Second, "")
	require.NoError(t, err)
	client := plainClient(t, "")
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, body := fetch(t, client, u)
		if status != http.StatusOK {
			require.Equal(t, http.StatusForbidden, status, "body: %.300s", body)
			require.False(t, time.Now().Before(expires), "refused before it expired: %.300s", body)
			return
		}
		require.Equal(t, "stored bytes", string(body))
		require.True(t, time.Now().Before(deadline), "a 1-second URL still works after 30 s")
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDownloadToken(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := SignDownload(key, 4242, now.Add(10*time.Minute))
	require.Regexp(t, `^[A-Za-z0-9_-]+$`, tok, "safe in a URL path as it is")

	id, err := VerifyDownload(key, tok, now)
	require.NoError(t, err)
	require.EqualValues(t, 4242, id)
	id, err = VerifyDownload(key, tok, now.Add(10*time.Minute-time.Second))
	require.NoError(t, err)
	require.EqualValues(t, 4242, id)

	// Expired: a genuine token past its time is gone, not forbidden.
	_, err = VerifyDownload(key, tok, now.Add(10*time.Minute))
	require.Equal(t, lifeboat.EGONE, lifeboat.ErrorCode(err))

	// Every single-character change is refused, whichever part it hits
	// (version, id, expiry or signature).
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range tok {
		c := alphabet[(strings.IndexByte(alphabet, tok[i])+1)%len(alphabet)]
		bad := tok[:i] + string(c) + tok[i+1:]
		_, err := VerifyDownload(key, bad, now)
		require.Equal(t, lifeboat.EFORBIDDEN, lifeboat.ErrorCode(err), "position %d", i)
	}
	// Even an expired forgery says forbidden: the signature is checked first.
	_, err = VerifyDownload([]byte("another key, another lifeboat..."), tok, now.Add(time.Hour))
	require.Equal(t, lifeboat.EFORBIDDEN, lifeboat.ErrorCode(err))
	for _, bad := range []string{"", "x", tok[:len(tok)-1], tok + "A", "not a token!", strings.Repeat("A", len(tok))} {
		_, err := VerifyDownload(key, bad, now)
		require.Equal(t, lifeboat.EFORBIDDEN, lifeboat.ErrorCode(err), "%q", bad)
	}
	// The id and expiry are signed: another backup needs another token.
	require.NotEqual(t, tok, SignDownload(key, 4243, now.Add(10*time.Minute)))
	require.NotEqual(t, tok, SignDownload(key, 4242, now.Add(11*time.Minute)))
}
