package lifeboat

// ProbeResult is the outcome of testing a storage or a notifier: whether it
// answered, what was tried and how long it took.
type ProbeResult struct {
	OK bool `json:"ok"`
	// Steps are what was done, in order ("put lifeboat-probe/…", "get", …).
	Steps []string `json:"steps"`
	// Error says why it failed; never a URL or a secret.
	Error      string  `json:"error,omitempty"`
	TookMillis float64 `json:"took_ms"`
}
