package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// Catalog keeps the storages, notifiers and targets created through the API
// in lifeboat's database, beside the config file's, and keeps the runner's
// catalog current: every change is validated as the config file is,
// stored with its secrets encrypted to lifeboat's age recipients, and
// loaded by every process (each polls the catalog version).
type Catalog struct {
	base       *config.Config // the config file
	st         *store.Store
	runner     *jobs.Runner
	recipients []age.Recipient
	identities []age.Identity
	log        *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	version int64 // of the managed items loaded; -1 before the first Load
	current *config.Config
	clients map[string]storeClient
}

// storeClient is a built storage client and the settings it was built from.
type storeClient struct {
	sum    [32]byte
	client blob.Store
}

// NewCatalog returns the catalog over the config file's items; Load reads
// the managed ones.
func NewCatalog(base *config.Config, st *store.Store, runner *jobs.Runner, deps jobs.Deps) *Catalog {
	c := &Catalog{base: base, st: st, runner: runner, recipients: deps.Recipients, identities: deps.Identities,
		log: deps.Logger, now: time.Now, version: -1, current: base, clients: map[string]storeClient{}}
	for _, s := range base.Storages {
		if cl, ok := deps.Stores[s.Name]; ok {
			c.clients[s.Name] = storeClient{sum: fingerprint(s), client: cl}
		}
	}
	return c
}

func fingerprint(v any) [32]byte {
	b, _ := json.Marshal(v)
	return sha256.Sum256(b)
}

// Load reads the managed items and, when they changed since the last load,
// composes the catalog and gives it to the runner.
func (c *Catalog) Load(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	items, version, err := c.st.ManagedList(ctx)
	if err != nil {
		return err
	}
	if version == c.version {
		return nil
	}
	m, err := c.decode(items)
	if err != nil {
		return err
	}
	cfg, err := config.Compose(c.base, m)
	if err != nil {
		// Valid when stored; invalid now only if the file changed under it.
		return fmt.Errorf("managed items no longer fit the config file: %w", err)
	}
	if err := c.apply(ctx, cfg); err != nil {
		return err
	}
	c.version = version
	return nil
}

// Watch reloads whenever the catalog version moves, until ctx ends.
func (c *Catalog) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v, err := c.st.CatalogVersion(ctx)
			if err == nil && v != c.loadedVersion() {
				err = c.Load(ctx)
			}
			if err != nil && ctx.Err() == nil {
				c.log.Error("catalog reload failed", "err", err)
			}
		}
	}
}

func (c *Catalog) loadedVersion() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// apply builds clients for new or changed storages and all senders, then
// swaps the runner's catalog.
func (c *Catalog) apply(ctx context.Context, cfg *config.Config) error {
	clients := map[string]storeClient{}
	for _, s := range cfg.Storages {
		sum := fingerprint(s)
		if old, ok := c.clients[s.Name]; ok && old.sum == sum {
			clients[s.Name] = old
			continue
		}
		one := *cfg
		one.Storages = []config.Storage{s}
		built, err := Storages(ctx, &one, c.log)
		if err != nil {
			return err
		}
		clients[s.Name] = storeClient{sum: sum, client: built[s.Name]}
	}
	senders, err := Senders(cfg, c.st.LogTail)
	if err != nil {
		return err
	}
	stores := make(map[string]blob.Store, len(clients))
	for name, cl := range clients {
		stores[name] = cl.client
	}
	c.clients, c.current = clients, cfg
	if c.runner != nil {
		c.runner.Reload(jobs.Catalog{Config: cfg, Stores: stores, Senders: senders})
	}
	return nil
}

// Config is the current composed configuration.
func (c *Catalog) Config() *config.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Names returns the current targets' and notifiers' names (for /metrics).
func (c *Catalog) Names() (targets, notifiers []string) {
	cfg := c.Config()
	for _, t := range cfg.Targets {
		targets = append(targets, t.Name)
	}
	for _, n := range cfg.Notifiers {
		notifiers = append(notifiers, n.Name)
	}
	return targets, notifiers
}

// Managed reports whether kind/name was created through the API: it is
// in the catalog but not in the config file.
func (c *Catalog) Managed(kind, name string) bool {
	return has(c.Config(), kind, name) && !has(c.base, kind, name)
}

// secretFields are each kind's write-only fields, by config field name.
var secretFields = map[string][]string{
	config.KindTarget:   {"database_url", "trigger_secret"},
	config.KindStorage:  {"secret_access_key"},
	config.KindNotifier: {"url", "secret"},
}

// newItem returns a zero item of kind.
func newItem(kind string) (any, error) {
	switch kind {
	case config.KindTarget:
		return &config.Target{}, nil
	case config.KindStorage:
		return &config.Storage{}, nil
	case config.KindNotifier:
		return &config.Notifier{}, nil
	}
	return nil, lifeboat.Errorf(lifeboat.EINVALID, "kind: %q is not target, storage or notifier", kind)
}

// split separates an item's secrets (by config field name) from the rest,
// which is returned as JSON of the item with the secrets emptied.
func split(kind string, item any) (spec []byte, secrets map[string]string, err error) {
	v := reflect.ValueOf(item).Elem()
	secrets = map[string]string{}
	for _, name := range secretFields[kind] {
		f := v.FieldByIndex(yamlField(v.Type(), name))
		if s := f.String(); s != "" {
			secrets[name] = s
		}
		f.SetString("")
	}
	spec, err = json.Marshal(item)
	for name, s := range secrets { // put them back: the caller still uses item
		v.FieldByIndex(yamlField(v.Type(), name)).SetString(s)
	}
	return spec, secrets, err
}

func yamlField(t reflect.Type, name string) []int {
	for i := range t.NumField() {
		if strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0] == name {
			return []int{i}
		}
	}
	panic("app: no field " + name + " in " + t.Name())
}

// seal encrypts secrets to lifeboat's age recipients.
func (c *Catalog) seal(secrets map[string]string) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	if len(c.recipients) == 0 {
		return nil, errors.New("encryption: no age recipient to encrypt secrets to")
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, c.recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c *Catalog) open(sealed []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(sealed) == 0 {
		return out, nil
	}
	if len(c.identities) == 0 {
		return nil, errors.New("encryption: no age identity to decrypt managed secrets with")
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), c.identities...)
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return out, json.Unmarshal(plain, &out)
}

// decode turns stored items back into config items, secrets decrypted.
func (c *Catalog) decode(items []store.ManagedItem) (config.Managed, error) {
	var m config.Managed
	for _, it := range items {
		item, err := newItem(it.Kind)
		if err != nil {
			return m, err
		}
		if err := json.Unmarshal(it.Spec, item); err != nil {
			return m, fmt.Errorf("%s %q: %w", it.Kind, it.Name, err)
		}
		secrets, err := c.open(it.Secrets)
		if err != nil {
			return m, fmt.Errorf("%s %q: %w", it.Kind, it.Name, err)
		}
		v := reflect.ValueOf(item).Elem()
		for name, s := range secrets {
			v.FieldByIndex(yamlField(v.Type(), name)).SetString(s)
		}
		switch x := item.(type) {
		case *config.Target:
			m.Targets = append(m.Targets, *x)
		case *config.Storage:
			m.Storages = append(m.Storages, *x)
		case *config.Notifier:
			m.Notifiers = append(m.Notifiers, *x)
		}
	}
	return m, nil
}

// Put creates (replace false) or replaces a managed item from an API body
// (the config file's fields, as JSON). For a replace, secrets left out of
// the body keep their stored values, so a client can change a schedule
// without resending the password. It returns the composed configuration.
func (c *Catalog) Put(ctx context.Context, kind, name string, body []byte, replace bool) error {
	item, err := newItem(kind)
	if err != nil {
		return err
	}
	if err := config.DecodeItem(body, "body", item); err != nil {
		return lifeboat.Errorf(lifeboat.EINVALID, "%v", err)
	}
	v := reflect.ValueOf(item).Elem()
	nameField := v.FieldByName("Name")
	switch got := nameField.String(); {
	case got == "":
		nameField.SetString(name)
	case got != name:
		return lifeboat.Errorf(lifeboat.EINVALID, "body.name: %q differs from the name in the path (%q)", got, name)
	}
	if has(c.base, kind, name) {
		return lifeboat.Errorf(lifeboat.ECONFLICT, "%s %q is defined in the config file: change it there", kind, name)
	}
	if s, ok := item.(*config.Storage); ok && s.Kind == "fs" {
		if err := checkFSRoot(c.base.Outbound.FSRoots, s.Path); err != nil {
			return err
		}
	}
	err = c.st.ManagedChange(ctx, kind, name, c.now(), func(current []store.ManagedItem) (*store.ManagedItem, error) {
		exists := slices.ContainsFunc(current, func(it store.ManagedItem) bool { return it.Kind == kind && it.Name == name })
		if exists && !replace {
			return nil, lifeboat.Errorf(lifeboat.ECONFLICT, "name: %s %q exists (PUT replaces it)", kind, name)
		}
		if !exists && replace {
			return nil, lifeboat.Errorf(lifeboat.ENOTFOUND, "%s %q not found (POST creates it)", kind, name)
		}
		m, err := c.decode(current)
		if err != nil {
			return nil, err
		}
		if exists { // keep stored secrets the body left out
			keepSecrets(kind, name, m, item)
		}
		m = without(m, kind, name)
		var path string
		switch x := item.(type) {
		case *config.Target:
			m.Targets = append(m.Targets, *x)
			path = fmt.Sprintf("targets[%d]", len(c.base.Targets)+len(m.Targets)-1)
		case *config.Storage:
			m.Storages = append(m.Storages, *x)
			path = fmt.Sprintf("storages[%d]", len(c.base.Storages)+len(m.Storages)-1)
		case *config.Notifier:
			m.Notifiers = append(m.Notifiers, *x)
			path = fmt.Sprintf("notifiers[%d]", len(c.base.Notifiers)+len(m.Notifiers)-1)
		}
		if _, err := config.Compose(c.base, m); err != nil {
			return nil, lifeboat.Errorf(lifeboat.EINVALID, "%v", config.RebasePath(err, path, "body"))
		}
		spec, secrets, err := split(kind, item)
		if err != nil {
			return nil, err
		}
		sealed, err := c.seal(secrets)
		return &store.ManagedItem{Kind: kind, Name: name, Spec: spec, Secrets: sealed}, err
	})
	if err != nil {
		return err
	}
	return c.Load(ctx)
}

// Delete removes a managed item. An item something else uses (a storage
// of a target, a notifier a target notifies) is a conflict naming the user.
func (c *Catalog) Delete(ctx context.Context, kind, name string) error {
	if _, err := newItem(kind); err != nil {
		return err
	}
	if has(c.base, kind, name) {
		return lifeboat.Errorf(lifeboat.ECONFLICT, "%s %q is defined in the config file: remove it there", kind, name)
	}
	err := c.st.ManagedChange(ctx, kind, name, c.now(), func(current []store.ManagedItem) (*store.ManagedItem, error) {
		m, err := c.decode(current)
		if err != nil {
			return nil, err
		}
		if _, err := config.Compose(c.base, without(m, kind, name)); err != nil {
			return nil, lifeboat.Errorf(lifeboat.ECONFLICT, "%s %q is in use: %v", kind, name, err)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return c.Load(ctx)
}

// has reports whether cfg holds kind/name.
func has(cfg *config.Config, kind, name string) bool {
	var ok bool
	switch kind {
	case config.KindTarget:
		_, ok = cfg.Target(name)
	case config.KindStorage:
		_, ok = cfg.Storage(name)
	case config.KindNotifier:
		_, ok = cfg.Notifier(name)
	}
	return ok
}

// without returns m minus kind/name.
func without(m config.Managed, kind, name string) config.Managed {
	switch kind {
	case config.KindTarget:
		m.Targets = slices.DeleteFunc(slices.Clone(m.Targets), func(t config.Target) bool { return t.Name == name })
	case config.KindStorage:
		m.Storages = slices.DeleteFunc(slices.Clone(m.Storages), func(s config.Storage) bool { return s.Name == name })
	case config.KindNotifier:
		m.Notifiers = slices.DeleteFunc(slices.Clone(m.Notifiers), func(n config.Notifier) bool { return n.Name == name })
	}
	return m
}

// keepSecrets fills item's empty secret fields from the stored item.
func keepSecrets(kind, name string, m config.Managed, item any) {
	var old any
	switch kind {
	case config.KindTarget:
		for i := range m.Targets {
			if m.Targets[i].Name == name {
				old = &m.Targets[i]
			}
		}
	case config.KindStorage:
		for i := range m.Storages {
			if m.Storages[i].Name == name {
				old = &m.Storages[i]
			}
		}
	case config.KindNotifier:
		for i := range m.Notifiers {
			if m.Notifiers[i].Name == name {
				old = &m.Notifiers[i]
			}
		}
	}
	if old == nil {
		return
	}
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(item).Elem()
	for _, f := range secretFields[kind] {
		idx := yamlField(nv.Type(), f)
		if nv.FieldByIndex(idx).String() == "" {
			nv.FieldByIndex(idx).SetString(ov.FieldByIndex(idx).String())
		}
	}
}
