package blob

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/outbound"
)

// Multipart defaults: memory for one Put is about PartSize × (Concurrency+2).
const (
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 2
	minPartSize        = 5 << 20 // S3's minimum part size (but the last)
	// abortTimeout bounds the clean-up of a failed upload, which runs even
	// when the Put's own context has ended.
	abortTimeout = time.Minute
)

// S3Options configures an S3-compatible store.
type S3Options struct {
	Endpoint        string // e.g. http://127.0.0.1:9000; empty for AWS
	Region          string // default us-east-1
	Bucket          string
	Prefix          string // prepended verbatim to every key, e.g. "lifeboat/"
	AccessKeyID     string // empty: the SDK's default credential chain
	SecretAccessKey string
	CAFile          string // extra PEM CA trusted beside the system pool
	PartSize        int64  // multipart part size; default 16 MiB, at least 5 MiB
	Concurrency     int    // parts uploaded at once; default 2
	// Lock, when set, writes every object under S3 Object Lock (the bucket
	// must have it enabled: CheckObjectLock).
	Lock *ObjectLock
	// Allow lists the internal prefixes (loopback, private, link-local…)
	// the endpoint may resolve to: outbound.allow. Every connection is
	// checked by the same guard as the notifiers' (internal/outbound), when
	// it connects; public addresses are always allowed.
	Allow []netip.Prefix
}

// S3 stores objects in an S3-compatible bucket. One S3 (one client, one
// connection pool) serves the whole process.
type S3 struct {
	client   *s3.Client
	presign  *s3.PresignClient // download URLs (presign.go)
	uploader *transfermanager.Client
	bucket   string
	prefix   string
	region   string
	lock     *ObjectLock
}

var _ Store = (*S3)(nil)

// NewS3 builds the client. It does not contact the server.
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "s3 storage: bucket is required")
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "s3 storage: access key id and secret access key go together")
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < minPartSize {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "s3 storage: part size %d is below S3's minimum %d", o.PartSize, minPartSize)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Lock != nil && (o.Lock.Days < 1 || (o.Lock.Mode != LockGovernance && o.Lock.Mode != LockCompliance)) {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "s3 storage: object lock needs mode governance or compliance and at least 1 day")
	}
	if o.Concurrency < 0 {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "s3 storage: concurrency must be positive")
	}

	// The SDK insists on a BuildableClient whenever AWS_CA_BUNDLE is set
	// (it appends that bundle through WithTransportOptions), so build one
	// rather than a plain *http.Client.
	hc := awshttp.NewBuildableClient()
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("s3 storage: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, lifeboat.Errorf(lifeboat.EINVALID, "s3 storage: CA file %s holds no PEM certificate", o.CAFile)
		}
		hc = hc.WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tr.TLSClientConfig.RootCAs = pool.Clone()
		})
	}

	loadOpts := []func(*config.LoadOptions) error{config.WithHTTPClient(hc)}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// The S3 calls (not the credential chain's, whose instance metadata
	// endpoint is link-local by design) go through the outbound guard, and
	// through no environment proxy, which would connect unchecked. The
	// SDK's client follows no redirect.
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return nil, fmt.Errorf("s3 storage: unexpected HTTP client %T", cfg.HTTPClient)
	}
	guarded := bc.WithDialerOptions(func(d *net.Dialer) { d.Control = outbound.Control(o.Allow) }).
		WithTransportOptions(func(tr *http.Transport) { tr.Proxy = nil })
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.HTTPClient = guarded
		// A multipart object has no whole-object checksum to check; the
		// backup's own sha256 covers it. Don't log a warning on every Get.
		so.DisableLogOutputChecksumValidationSkipped = true
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.UsePathStyle = true
		}
	})
	// A failed multipart upload is always aborted (Put aborts again when
	// ctx has ended). An object smaller than one part is a single PUT.
	uploader := transfermanager.New(client, func(u *transfermanager.Options) {
		u.PartSizeBytes = o.PartSize
		u.MultipartUploadThreshold = o.PartSize
		u.Concurrency = o.Concurrency
	})
	return &S3{client: client, presign: s3.NewPresignClient(client), uploader: uploader,
		bucket: o.Bucket, prefix: o.Prefix, region: cfg.Region, lock: o.Lock}, nil
}

func (s *S3) key(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put implements Store. r is read part by part (a plain stream, never
// seeked); a failed multipart upload is aborted even when ctx has ended.
// If the CompleteMultipartUpload response itself is lost the object may
// exist although Put failed: callers delete the key after a failed Put.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	full, err := s.key(key)
	if err != nil {
		return 0, err
	}
	stop := closeOnDone(ctx, r)
	defer stop()
	pr := &putReader{ctx: ctx, r: r}
	in := &transfermanager.UploadObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(full),
		Body:        pr,
		ContentType: aws.String("application/octet-stream"),
	}
	if s.lock != nil {
		// The date counts from the start of the upload: Retention reads
		// back what the server holds.
		in.ObjectLockMode = tmtypes.ObjectLockMode(s.lock.s3Mode())
		in.ObjectLockRetainUntilDate = aws.Time(s.retainUntil(time.Now()))
	}
	_, err = s.uploader.UploadObject(ctx, in)
	if err != nil {
		// The uploader aborts on failure, but with the Put's context: after
		// a cancellation that abort fails and the parts stay. Abort again
		// with a context of our own (a second abort is harmless).
		var mf transfermanager.MultipartUploadError
		if errors.As(err, &mf) && mf.UploadID() != "" {
			if aerr := s.abort(ctx, full, mf.UploadID()); aerr != nil {
				return 0, fmt.Errorf("put %s: %w (abort upload: %v)", key, brief(err), brief(aerr))
			}
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return 0, fmt.Errorf("put %s: %w", key, brief(err))
	}
	return pr.n, nil
}

func (s *S3) abort(ctx context.Context, fullKey, uploadID string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(fullKey), UploadId: aws.String(uploadID),
	})
	if err != nil && !hasCode(err, "NoSuchUpload") {
		return err
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	full, err := s.key(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)})
	if err != nil {
		return nil, s3Err("get", key, err)
	}
	return out.Body, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	full, err := s.key(key)
	if err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)})
	if err != nil {
		return Info{}, s3Err("stat", key, err)
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	full, err := s.key(key)
	if err != nil {
		return err
	}
	in := &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)}
	if s.lock != nil {
		// An Object Lock bucket is versioned: deleting the key would only
		// hide the object behind a delete marker, and its locked version
		// would stay (and be billed) for ever. Delete that version itself;
		// the server refuses while its retention holds.
		head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", key, brief(err))
		}
		in.VersionId = head.VersionId
	}
	_, err = s.client.DeleteObject(ctx, in)
	if err != nil && isLocked(err) {
		return fmt.Errorf("delete %s: %w (%w)", key, ErrLocked, brief(err))
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, brief(err))
	}
	return nil
}

// List implements Store. Keys are returned without the store's prefix.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	out := []Info{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %q: %w", prefix, brief(err))
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if k == "" || strings.HasSuffix(k, "/") {
				continue // folder markers some servers report
			}
			out = append(out, Info{Key: k, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	// S3 lists in key order; not every compatible server does.
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// EnsureBucket creates the bucket when it does not exist (with Object Lock
// enabled when the store is configured with a lock).
func (s *S3) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err == nil {
		return nil
	}
	if !isNotFound(err) && !hasCode(err, "NoSuchBucket") {
		return fmt.Errorf("bucket %s: %w", s.bucket, brief(err))
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if s.lock != nil {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if s.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(s.region),
		}
	}
	if _, err := s.client.CreateBucket(ctx, in); err != nil && !hasCode(err, "BucketAlreadyOwnedByYou") {
		return fmt.Errorf("create bucket %s: %w", s.bucket, brief(err))
	}
	return nil
}

// Upload is a multipart upload in progress.
type Upload struct {
	Key       string // without the store's prefix
	UploadID  string
	Initiated time.Time
}

// Uploads lists the multipart uploads in progress under the store's prefix.
func (s *S3) Uploads(ctx context.Context) ([]Upload, error) {
	var out []Upload
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list multipart uploads: %w", brief(err))
		}
		for _, u := range page.Uploads {
			out = append(out, Upload{
				Key:       strings.TrimPrefix(aws.ToString(u.Key), s.prefix),
				UploadID:  aws.ToString(u.UploadId),
				Initiated: aws.ToTime(u.Initiated),
			})
		}
	}
	return out, nil
}

// AbortStaleUploads aborts multipart uploads under the prefix started more
// than olderThan ago: the leftovers of a process that died mid-Put, whose
// parts would otherwise be stored (and billed) forever. It returns how many
// it aborted.
func (s *S3) AbortStaleUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	ups, err := s.Uploads(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	var errs []error
	for _, u := range ups {
		if !u.Initiated.Before(cutoff) {
			continue
		}
		if err := s.abort(ctx, s.prefix+u.Key, u.UploadID); err != nil {
			errs = append(errs, fmt.Errorf("abort upload of %s: %w", u.Key, brief(err)))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func s3Err(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s %s: %w", op, key, lifeboat.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, brief(err))
}

// isNotFound reports a missing key. HEAD responses carry no body, so a 404
// arrives as the generic "NotFound".
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || hasCode(err, "NoSuchKey") || hasCode(err, "NotFound")
}

func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// briefError is an S3 error told briefly: the operation, the HTTP status
// and the error code, with the server's message quoted and cut short. The
// message is whatever the endpoint sent (any server's, when the endpoint
// is not S3), so it is never echoed whole. The SDK's error stays wrapped
// for errors.As.
type briefError struct {
	msg string
	err error
}

func (e *briefError) Error() string { return e.msg }
func (e *briefError) Unwrap() error { return e.err }

// maxQuote bounds how much of a remote server's text an error quotes.
const maxQuote = 120

func brief(err error) error {
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) {
		return err
	}
	op := "S3"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		op += " " + oe.Operation()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		op += fmt.Sprintf(": HTTP %d", re.HTTPStatusCode())
	}
	msg := fmt.Sprintf("%s: %s", op, quoteBrief(ae.ErrorCode(), 40))
	if m := ae.ErrorMessage(); m != "" && m != ae.ErrorCode() {
		msg += " " + quoteBrief(m, maxQuote)
	}
	return &briefError{msg: msg, err: err}
}

// quoteBrief quotes s, cut to at most n runes.
func quoteBrief(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return strconv.Quote(string(r[:n])) + "…"
	}
	return strconv.Quote(s)
}
