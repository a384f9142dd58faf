// Package migrations embeds lifeboat's numbered SQL migrations
// (NNN_name.up.sql), applied in order by internal/store.
package migrations

import "embed"

// FS holds every *.up.sql file of this folder.
//
//go:embed *.up.sql
var FS embed.FS
