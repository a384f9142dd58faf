package store

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// Channels the triggers of migration 008 notify, with a run id as payload:
// new log lines of the run, and a change of the run's status.
const (
	channelRunLogs = "lifeboat_run_logs"
	channelRuns    = "lifeboat_runs"
)

// Listener holds one connection per process that LISTENs for run log and
// run status notifications and wakes the subscribers of that run. A wake
// says only "look again": subscribers read what changed by id cursor, so
// notifications may be coalesced and none carries data.
type Listener struct {
	config *pgx.ConnConfig
	log    *slog.Logger

	mu        sync.Mutex
	subs      map[int64]map[*subscription]struct{}
	count     int
	listening bool // connected and LISTENing
	closed    bool // Run has returned: no more wakes will come
}

type subscription struct {
	wake chan struct{}
	done bool
}

// NewListener returns a listener on the pool's database; it listens once
// Run is called. Its connection is its own, outside the pool, so a pool
// under load cannot starve it.
func (s *Store) NewListener(log *slog.Logger) *Listener {
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "lifeboat-listener"
	return &Listener{config: cfg, log: log, subs: map[int64]map[*subscription]struct{}{}}
}

// Subscribe asks to be woken when run runID writes log lines or changes
// status. The returned channel receives (coalesced) wakes and is closed when
// the listener stops; unsubscribe releases the subscription and must be
// called. Subscribe before reading, then read after every wake: a change
// committed after the read always wakes the channel, and so does every
// (re)connection of the listener, which may have missed notifications.
func (l *Listener) Subscribe(runID int64) (wake <-chan struct{}, unsubscribe func()) {
	sub := &subscription{wake: make(chan struct{}, 1)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		close(sub.wake)
		return sub.wake, func() {}
	}
	if l.subs[runID] == nil {
		l.subs[runID] = map[*subscription]struct{}{}
	}
	l.subs[runID][sub] = struct{}{}
	l.count++
	return sub.wake, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if sub.done {
			return
		}
		sub.done = true
		delete(l.subs[runID], sub)
		if len(l.subs[runID]) == 0 {
			delete(l.subs, runID)
		}
		l.count--
	}
}

// Listening reports whether the listener is connected and listening (when
// not, live tails wait; they catch up once it reconnects).
func (l *Listener) Listening() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.listening
}

func (l *Listener) setListening(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listening = on
}

// Subscribers counts the live subscriptions (tests check for leaks with it).
func (l *Listener) Subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// wake signals the subscribers of one run, or of every run when all is set.
func (l *Listener) wake(runID int64, all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	signal := func(subs map[*subscription]struct{}) {
		for sub := range subs {
			select {
			case sub.wake <- struct{}{}:
			default: // a wake is already pending; it covers this one
			}
		}
	}
	if all {
		for _, subs := range l.subs {
			signal(subs)
		}
		return
	}
	signal(l.subs[runID])
}

// Run listens until ctx ends (call it once), reconnecting with backoff when the connection
// drops. When it returns every subscription's channel is closed, so live
// tails end and a graceful HTTP shutdown is not held up by them.
func (l *Listener) Run(ctx context.Context) {
	defer func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.closed = true
		for _, subs := range l.subs {
			for sub := range subs {
				close(sub.wake)
				sub.done = true
			}
		}
		l.subs = map[int64]map[*subscription]struct{}{}
		l.count = 0
	}()
	backoff := time.Second
	for {
		connected, err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = time.Second
		}
		l.log.Warn("run notifications: connection lost, reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// listen connects, LISTENs and dispatches notifications until an error.
func (l *Listener) listen(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.config)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	for _, ch := range []string{channelRunLogs, channelRuns} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	// Anything committed while we were not listening went unheard: every
	// subscriber looks again.
	l.setListening(true)
	defer l.setListening(false)
	l.wake(0, true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			l.log.Warn("run notifications: unexpected payload", "channel", n.Channel, "payload", n.Payload)
			continue
		}
		l.wake(id, false)
	}
}

// RunHead returns the run's own row, without stages and checks: what a live
// tail checks after every wake.
func (s *Store) RunHead(ctx context.Context, id int64) (lifeboat.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, "SELECT "+runColumns+" FROM runs WHERE id = $1", id))
	if err != nil {
		return r, fmt.Errorf("run %d: %w", id, err)
	}
	return r, nil
}
