package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Managed is what the API adds to the config file: storages, notifiers and
// targets kept in lifeboat's database. Items of the file cannot be changed
// through the API; managed items may not take their names.
type Managed struct {
	Storages  []Storage
	Notifiers []Notifier
	Targets   []Target
}

// The kinds of managed items.
const (
	KindTarget   = "target"
	KindStorage  = "storage"
	KindNotifier = "notifier"
)

// DecodeItem decodes one API-supplied item (a JSON object with the config
// file's field names) into into, a *Target, *Storage or *Notifier. Unknown
// keys are errors; values are taken literally (no ${VAR}: the API must not
// read lifeboat's environment); the *_file fields, which would read
// lifeboat's own files, are refused, and an fs path must be absolute.
// Errors name fields from path ("body.schedule").
func DecodeItem(data []byte, path string, into any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return &FieldError{Path: path, Msg: "not a JSON object: " + err.Error()}
	}
	n := topLevel(&root)
	if n == nil || n.Kind != yaml.MappingNode {
		return &FieldError{Path: path, Msg: "want a JSON object"}
	}
	d := &decoder{getenv: nil, literal: true, p: &problems{bad: map[string]bool{}}, fromEnv: envPaths{}, budget: maxYAMLNodes}
	v := reflect.ValueOf(into).Elem()
	d.mapping(n, v, path)
	refuse := func(field, value string) {
		if value != "" {
			d.p.add(fieldPath(path, field), "not accepted through the API (it reads lifeboat's files); give the value itself")
		}
	}
	switch it := into.(type) {
	case *Target:
		refuse("database_url_file", it.DatabaseURLFile)
		refuse("trigger_secret_file", it.TriggerSecretFile)
	case *Storage:
		refuse("secret_access_key_file", it.SecretAccessKeyFile)
		refuse("ca_file", it.CAFile)
		if it.Kind == "fs" && it.Path != "" && !filepath.IsAbs(it.Path) {
			d.p.add(fieldPath(path, "path"), "must be an absolute path")
		}
	case *Notifier:
		refuse("url_file", it.URLFile)
		refuse("secret_file", it.SecretFile)
	default:
		panic(fmt.Sprintf("config.DecodeItem: %T", into))
	}
	return d.p.err()
}

// Compose returns base with m's items added after the file's own, defaults
// applied and the whole validated as the config file is: a managed target
// may use a file storage, names must be unique across both, and so on.
// base is not modified.
func Compose(base *Config, m Managed) (*Config, error) {
	c := *base
	c.Storages = append(append([]Storage(nil), base.Storages...), m.Storages...)
	c.Notifiers = append(append([]Notifier(nil), base.Notifiers...), m.Notifiers...)
	c.Targets = make([]Target, 0, len(base.Targets)+len(m.Targets))
	for _, list := range [][]Target{base.Targets, m.Targets} {
		for _, t := range list {
			t.Notify = append([]string(nil), t.Notify...)
			t.Checks = append([]Check(nil), t.Checks...)
			c.Targets = append(c.Targets, t)
		}
	}
	c.applyDefaults()
	p := &problems{bad: map[string]bool{}}
	v := &validator{p: p, fromEnv: envPaths{}}
	v.config(&c)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// RebasePath renames the paths of err's field errors that start with from
// ("targets[3]") to start with to ("body"), so an API caller reads the
// fields of what it sent. Other errors are kept as they are.
func RebasePath(err error, from, to string) error {
	var out []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) && (fe.Path == from || strings.HasPrefix(fe.Path, from+".") || strings.HasPrefix(fe.Path, from+"[")) {
			e = &FieldError{Path: to + strings.TrimPrefix(fe.Path, from), Msg: fe.Msg, err: fe.err}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
