package lifeboat

import (
	"strings"
	"time"
)

// GatePrefix starts the name of every anomaly gate's result. Gates compare
// a run's source snapshot and stored size with the previous verified backup
// of its target (or a baseline a user accepted): a dump of a database that
// was just emptied restores perfectly, and only a comparison with the past
// notices.
const GatePrefix = "gate: "

// IsGate reports whether the result is an anomaly gate's rather than a check
// of the restored database.
func (c CheckResult) IsGate() bool { return strings.HasPrefix(c.Name, GatePrefix) }

// BaselineAcceptance records that a user accepted a run's source snapshot
// and stored size as its target's new baseline: the next run's gates
// compare with it instead of tripping on the same expected drop again.
type BaselineAcceptance struct {
	// By is who accepted it: "token NAME" or "admin".
	By string    `json:"by"`
	At time.Time `json:"at"`
}
