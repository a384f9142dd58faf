package views

import "github.com/lifeboat-dev/lifeboat"

// CopyStatusWords says where a copy is, in words.
func CopyStatusWords(c lifeboat.Copy) string {
	switch c.Status {
	case lifeboat.CopyVerified:
		return "stored, checksum-verified"
	case lifeboat.CopyFailed:
		return "failed"
	default:
		return "stored, not yet read back"
	}
}
