package blob

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"mime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat"
)

// Presigner is a Store whose objects can be fetched straight from it by URL
// for a short while (S3). A Store without it (fs) has its downloads served
// by lifeboat under a signed token instead (SignDownload).
type Presigner interface {
	// PresignGet returns a URL that GETs key until expires, ttl from now
	// (at most lifeboat.MaxDownloadTTL); filename names the file a browser
	// saves.
	PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (url string, expires time.Time, err error)
}

var _ Presigner = (*S3)(nil)

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > lifeboat.MaxDownloadTTL {
		return lifeboat.Errorf(lifeboat.EINVALID, "download URL lifetime %s: must be positive and at most %s", ttl, lifeboat.MaxDownloadTTL)
	}
	return nil
}

// ContentDisposition is the header value that saves a download as filename.
func ContentDisposition(filename string) string {
	return mime.FormatMediaType("attachment", map[string]string{"filename": filename})
}

// PresignGet implements Presigner with a SigV4 query-signed GET
// (X-Amz-Expires is the ttl in seconds, so S3 itself refuses the URL after it).
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, time.Time, error) {
	if err := checkTTL(ttl); err != nil {
		return "", time.Time{}, err
	}
	full, err := s.key(key)
	if err != nil {
		return "", time.Time{}, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)}
	if filename != "" {
		in.ResponseContentDisposition = aws.String(ContentDisposition(filename))
	}
	// The signature is dated now; the URL dies ttl later (whole seconds).
	ttl = ttl.Truncate(time.Second)
	signedAt := time.Now()
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, signedAt.Add(ttl).Truncate(time.Second), nil
}

// Download tokens: the fs counterpart of a presigned URL. A token is
// base64url(version ‖ backup id ‖ expiry unix seconds ‖ HMAC-SHA256 of
// those), under a key lifeboat keeps in its own database. It names the
// backup, not the object key, so lifeboat looks the backup up (and refuses
// a pruned one) before it serves a byte.
const (
	tokenVersion = 1
	tokenPayload = 1 + 8 + 8
	tokenLen     = tokenPayload + sha256.Size
)

// tokenDomain keeps these MACs apart from anything else the key might sign.
var tokenDomain = []byte("lifeboat download token\x00")

func tokenMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(tokenDomain)
	m.Write(payload)
	return m.Sum(nil)
}

// SignDownload returns a token granting the download of backup id until
// expires (whole seconds).
func SignDownload(key []byte, id int64, expires time.Time) string {
	b := make([]byte, tokenPayload, tokenLen)
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(id))
	binary.BigEndian.PutUint64(b[9:17], uint64(expires.Unix()))
	b = append(b, tokenMAC(key, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// VerifyDownload checks a token's signature in constant time and then its
// expiry, and returns the backup id it grants. A token lifeboat did not
// sign (or that was altered) is EFORBIDDEN; a genuine one past its expiry
// is EGONE. The signature is checked first, so a forged token learns
// nothing about expiry.
func VerifyDownload(key []byte, token string, now time.Time) (int64, error) {
	forbidden := lifeboat.Errorf(lifeboat.EFORBIDDEN, "download token: not valid")
	// Strict: one token per (id, expiry), no variants in the unused bits.
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != tokenLen || b[0] != tokenVersion {
		return 0, forbidden
	}
	if !hmac.Equal(b[tokenPayload:], tokenMAC(key, b[:tokenPayload])) {
		return 0, forbidden
	}
	id := int64(binary.BigEndian.Uint64(b[1:9]))
	expires := time.Unix(int64(binary.BigEndian.Uint64(b[9:17])), 0)
	if !now.Before(expires) {
		return 0, lifeboat.Errorf(lifeboat.EGONE, "download token: expired at %s; ask for a new download URL", expires.UTC().Format(time.RFC3339))
	}
	return id, nil
}
