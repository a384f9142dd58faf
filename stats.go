package lifeboat

import "time"

// Stats are lifeboat's figures as its database holds them, so every process
// reports the same: what /metrics exposes.
type Stats struct {
	// Runs counts runs by target and status, over the whole history.
	Runs []RunCount
	// Targets has one entry per target asked about, in that order.
	Targets []TargetStats
	// StageDurations are histograms of how long stages took, by target and
	// stage, each observed once when the stage ended.
	StageDurations []StageDurations
	// NotifierFailures counts failed deliveries by notifier name.
	NotifierFailures map[string]int64
}

// RunCount is how many runs of a target have a status.
type RunCount struct {
	Target string
	Status RunStatus
	Count  int64
}

// TargetStats is a target's newest verified (succeeded) run, if any.
type TargetStats struct {
	Target string
	// LastVerifiedAt is when the newest verified backup was taken (its backup
	// stage's end, also for a retry that verified an older one); nil if none.
	LastVerifiedAt *time.Time
	// LastVerifiedStoredBytes is that run's artifact size in storage.
	LastVerifiedStoredBytes int64
}

// StageDurations is a histogram of stage durations in seconds.
type StageDurations struct {
	Target     string
	Stage      StageName
	Count      uint64
	SumSeconds float64
	// Buckets are cumulative and ascending; Count is the +Inf bucket.
	Buckets []DurationBucket
}

// DurationBucket counts the durations of at most UpperBound seconds.
type DurationBucket struct {
	UpperBound float64
	Count      uint64
}
