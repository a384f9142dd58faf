package sandbox

import (
	"fmt"
	"syscall"
)

// need estimates the disk a sandbox needs to restore a dump of rawBytes:
// tables and their indexes take up to about twice the dump's plain size,
// plus the cluster itself.
func need(rawBytes int64) int64 { return 2*max(rawBytes, 0) + 64<<20 }

// CheckSpace fails when dir's file system has less than need bytes free,
// saying how much is needed and how much there is.
func CheckSpace(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // an unknown free space is not a reason to refuse
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free >= need {
		return nil
	}
	return fmt.Errorf("the sandbox needs about %s, %s free in %s (restore.sandbox_dir)", bytesWord(need), bytesWord(free), dir)
}

func bytesWord(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.0f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
