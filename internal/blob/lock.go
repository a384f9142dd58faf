package blob

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat"
)

// Object Lock modes, as configured (S3 spells them in capitals).
const (
	LockGovernance = "governance"
	LockCompliance = "compliance"
)

// ObjectLock is the S3 Object Lock retention a store gives every object it
// writes: neither lifeboat nor anyone holding its keys can delete or
// overwrite it before Days have passed (governance mode: except a user with
// s3:BypassGovernanceRetention; compliance mode: nobody).
type ObjectLock struct {
	Mode string // LockGovernance or LockCompliance
	Days int
}

// Retention is an object's lock as the server holds it; zero when none.
type Retention struct {
	Mode  string
	Until time.Time
}

// Locked reports whether the retention still holds at now.
func (r Retention) Locked(now time.Time) bool { return !r.Until.IsZero() && now.Before(r.Until) }

// Locker is a Store that writes every object under Object Lock.
type Locker interface {
	Store
	// ObjectLock is the retention new objects get.
	ObjectLock() ObjectLock
	// Retention reads key's retention from the server.
	Retention(ctx context.Context, key string) (Retention, error)
}

// ErrLocked is wrapped by a Delete the server refused because the object is
// under Object Lock.
var ErrLocked = &lifeboat.Error{Code: lifeboat.ECONFLICT, Message: "the object is under Object Lock"}

// ObjectLock implements Locker (zero when the store has none: check
// HasLock).
func (s *S3) ObjectLock() ObjectLock {
	if s.lock == nil {
		return ObjectLock{}
	}
	return *s.lock
}

// HasLock reports whether the store writes objects under Object Lock.
func (s *S3) HasLock() bool { return s.lock != nil }

// retainUntil is the retain-until date of an object written at now.
func (s *S3) retainUntil(now time.Time) time.Time {
	return now.Add(time.Duration(s.lock.Days) * 24 * time.Hour).UTC().Truncate(time.Second)
}

func (l ObjectLock) s3Mode() types.ObjectLockMode {
	if l.Mode == LockCompliance {
		return types.ObjectLockModeCompliance
	}
	return types.ObjectLockModeGovernance
}

// Retention implements Locker: GetObjectRetention, zero when the object
// has none.
func (s *S3) Retention(ctx context.Context, key string) (Retention, error) {
	full, err := s.key(key)
	if err != nil {
		return Retention{}, err
	}
	out, err := s.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(s.bucket), Key: aws.String(full)})
	if hasCode(err, "NoSuchObjectLockConfiguration") {
		return Retention{}, nil
	}
	if err != nil {
		return Retention{}, s3Err("read retention of", key, err)
	}
	if out.Retention == nil {
		return Retention{}, nil
	}
	return Retention{Mode: strings.ToLower(string(out.Retention.Mode)), Until: aws.ToTime(out.Retention.RetainUntilDate)}, nil
}

// CheckObjectLock fails, saying what to do, when the store is configured
// with Object Lock but its bucket does not have it enabled: S3 refuses every
// locked write to such a bucket, and Object Lock can only be turned on when
// a bucket is created (or, on AWS, by support for an existing one).
func (s *S3) CheckObjectLock(ctx context.Context) error {
	if s.lock == nil {
		return nil
	}
	out, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(s.bucket)})
	if err == nil && out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled {
		return nil
	}
	if err != nil && !hasCode(err, "ObjectLockConfigurationNotFoundError") && !hasCode(err, "NoSuchObjectLockConfiguration") {
		return fmt.Errorf("bucket %s: read its Object Lock configuration: %w", s.bucket, brief(err))
	}
	return lifeboat.Errorf(lifeboat.EINVALID, "bucket %s does not have Object Lock enabled, but object_lock is configured: "+
		"backups would be written unlocked or refused. Object Lock can only be enabled when a bucket is created "+
		"(aws s3api create-bucket --object-lock-enabled-for-bucket); use such a bucket, or remove object_lock", s.bucket)
}

// isLocked reports a delete refused because of Object Lock. AWS answers
// AccessDenied; versitygw and MinIO say so in the message.
func isLocked(err error) bool {
	var ae interface{ ErrorMessage() string }
	if hasCode(err, "ObjectLocked") {
		return true
	}
	if errors.As(err, &ae) {
		msg := strings.ToLower(ae.ErrorMessage())
		return strings.Contains(msg, "object lock") || strings.Contains(msg, "worm protected") || strings.Contains(msg, "retention")
	}
	return false
}
