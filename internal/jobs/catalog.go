package jobs

import (
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// Catalog is what the configuration gives the workers: the targets and
// their settings, one client per storage and one sender per notifier. The
// config file's items plus those managed through the API; swapped whole by
// Reload when those change, so a reader sees one consistent version.
type Catalog struct {
	Config  *config.Config
	Stores  map[string]blob.Store    // by storage name
	Senders map[string]notify.Sender // by notifier name
}

// catalog is the current catalog.
func (r *Runner) catalog() *Catalog { return r.cat.Load() }

// conf is the current configuration.
func (r *Runner) conf() *config.Config { return r.cat.Load().Config }

// Reload makes c the catalog every job reads from now on. Work in progress
// keeps what it already read.
func (r *Runner) Reload(c Catalog) { r.cat.Store(&c) }

// Catalog returns the current catalog.
func (r *Runner) Catalog() Catalog { return *r.cat.Load() }
