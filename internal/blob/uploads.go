package blob

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// UploadAborter is a store whose multipart uploads can outlive the process
// that began them (S3): a backup attempt killed mid-upload leaves its parts
// stored, and billed, until the upload is aborted.
type UploadAborter interface {
	// AbortUploads aborts the uploads of key begun before before and says
	// how many there were.
	AbortUploads(ctx context.Context, key string, before time.Time) (int, error)
}

// AbortUploads aborts the multipart uploads of key (without the store's
// prefix) initiated before before: those of earlier attempts at the same
// object, which a retried backup stage writes again from the start.
func (s *S3) AbortUploads(ctx context.Context, key string, before time.Time) (int, error) {
	full := s.prefix + key
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket), Prefix: aws.String(full),
	})
	n := 0
	var errs []error
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("list multipart uploads of %s: %w", key, brief(err))
		}
		for _, u := range page.Uploads {
			if aws.ToString(u.Key) != full || !aws.ToTime(u.Initiated).Before(before) {
				continue
			}
			if err := s.abort(ctx, full, aws.ToString(u.UploadId)); err != nil {
				errs = append(errs, fmt.Errorf("abort upload of %s: %w", key, brief(err)))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// AbortUpload aborts one multipart upload listed by Uploads.
func (s *S3) AbortUpload(ctx context.Context, u Upload) error {
	if err := s.abort(ctx, s.prefix+u.Key, u.UploadID); err != nil {
		return fmt.Errorf("abort upload of %s: %w", u.Key, brief(err))
	}
	return nil
}

// RunOfKey is the run id in a backup object's key (ObjectKey), or false
// when key is not one.
func RunOfKey(key string) (int64, bool) {
	base := path.Base(key)
	if !strings.HasSuffix(base, ObjectSuffix) || strings.Count(key, "/") < 4 {
		return 0, false
	}
	id, err := strconv.ParseInt(strings.TrimSuffix(base, ObjectSuffix), 10, 64)
	return id, err == nil && id > 0
}
