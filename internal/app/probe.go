package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// probeTimeout bounds a test: the caller is waiting on an HTTP request.
const probeTimeout = 20 * time.Second

// TestStorage writes a small probe object to the storage, reads it back,
// compares it and deletes it.
func (c *Catalog) TestStorage(ctx context.Context, name string) (lifeboat.ProbeResult, error) {
	cat := c.runner.Catalog()
	st, ok := cat.Stores[name]
	if !ok {
		return lifeboat.ProbeResult{}, lifeboat.Errorf(lifeboat.ENOTFOUND, "no storage named %q", name)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	start := time.Now()
	res := lifeboat.ProbeResult{}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	key := "lifeboat-probe/" + hex.EncodeToString(nonce)
	payload := []byte("lifeboat storage probe " + key)
	err := func() error {
		res.Steps = append(res.Steps, "put "+key)
		if _, err := st.Put(ctx, key, bytes.NewReader(payload)); err != nil {
			return err
		}
		res.Steps = append(res.Steps, "get "+key)
		r, err := st.Get(ctx, key)
		if err != nil {
			return err
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return err
		}
		if !bytes.Equal(got, payload) {
			return fmt.Errorf("read back %d bytes that differ from the %d written", len(got), len(payload))
		}
		res.Steps = append(res.Steps, "delete "+key)
		return st.Delete(ctx, key)
	}()
	if err != nil {
		// Leave nothing behind, whatever step failed.
		_ = st.Delete(context.WithoutCancel(ctx), key)
		res.Error = err.Error()
	}
	res.OK = err == nil
	res.TookMillis = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// TestNotifier sends the notifier's test message: a chat line, a signed
// lifeboat.test webhook event, or (heartbeats) a connection only, since
// any request to a heartbeat URL would count as a check-in.
func (c *Catalog) TestNotifier(ctx context.Context, name string) (lifeboat.ProbeResult, error) {
	s, ok := c.runner.Catalog().Senders[name]
	if !ok {
		return lifeboat.ProbeResult{}, lifeboat.Errorf(lifeboat.ENOTFOUND, "no notifier named %q", name)
	}
	t, ok := s.(notify.Tester)
	if !ok {
		return lifeboat.ProbeResult{}, lifeboat.Errorf(lifeboat.EINVALID, "notifier %q cannot be tested", name)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	start := time.Now()
	err := t.Test(ctx)
	res := lifeboat.ProbeResult{OK: err == nil, Steps: []string{"send test message"},
		TookMillis: float64(time.Since(start).Microseconds()) / 1000}
	if _, hb := s.(*notify.Heartbeat); hb {
		res.Steps = []string{"connect (a heartbeat is not pinged by a test)"}
	}
	if err != nil {
		res.Error = err.Error()
	}
	return res, nil
}
