package jobs

// Working reports whether this process's River client works jobs: Start
// succeeded and the client has not stopped since (/readyz asks).
func (r *Runner) Working() bool {
	if !r.started.Load() {
		return false
	}
	select {
	case <-r.client.Stopped():
		return false
	default:
		return true
	}
}
