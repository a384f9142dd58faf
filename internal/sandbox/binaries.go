package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Server is one installed PostgreSQL server: the directory holding its
// initdb and postgres binaries, and its version. Finding them is pgtool's
// job; Options.Servers hands them over.
type Server struct {
	BinDir  string
	Version string // e.g. "15.18"
	Major   int
}

// Choose picks the server for a dump made by pg_dump of major dumpMajor: the
// same major when installed, else the nearest newer one. The error names what
// is installed and what is needed; restoring onto an older server is never
// tried (pg_restore refuses newer archives, and a newer dump may use what an
// older server lacks).
func Choose(servers []Server, dumpMajor int) (Server, error) {
	var best *Server
	for i := range servers {
		s := &servers[i]
		if s.Major < dumpMajor {
			continue
		}
		if best == nil || s.Major < best.Major {
			best = s
		}
	}
	if best != nil {
		return *best, nil
	}
	if len(servers) == 0 {
		return Server{}, fmt.Errorf("the sandbox needs a PostgreSQL %d server (initdb and postgres) and none is installed "+
			"(looked in $PG_BIN_DIR, /usr/lib/postgresql/*/bin and $PATH): install the postgresql-%d package", dumpMajor, dumpMajor)
	}
	var have []string
	for _, s := range servers {
		have = append(have, s.Version+" ("+s.BinDir+")")
	}
	slices.Sort(have)
	return Server{}, fmt.Errorf("the sandbox needs a PostgreSQL server of major version %d or newer to restore this dump, "+
		"installed: %s; install postgresql-%d", dumpMajor, strings.Join(have, ", "), dumpMajor)
}

// Note says how a dump of dumpMajor restored on s, for the run's log and
// page: "restored a PostgreSQL 15 dump on 17" when the majors differ.
func Note(dumpMajor int, s Server) string {
	if dumpMajor == s.Major || dumpMajor == 0 {
		return "sandbox runs PostgreSQL " + s.Version
	}
	return "restored a PostgreSQL " + strconv.Itoa(dumpMajor) + " dump on " + strconv.Itoa(s.Major) +
		" (sandbox runs PostgreSQL " + s.Version + "): the backup also restores on the newer major"
}
