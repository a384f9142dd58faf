package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"gopkg.in/yaml.v3"

	"github.com/lifeboat-dev/lifeboat/internal/schedule"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// DefaultJobs is restore.jobs when unset: one pg_restore job per CPU, from
// DefaultRestoreJobs to 8.
func DefaultJobs() int { return min(max(runtime.NumCPU(), DefaultRestoreJobs), 8) }

var memSizeRe = regexp.MustCompile(`^[1-9][0-9]*(kB|MB|GB|TB)$`)

// maxLockDays bounds object_lock.days (S3 allows up to 100 years).
const maxLockDays = 36500

// Defaults applied by Parse to fields left empty.
const (
	DefaultRestoreJobs     = 2
	DefaultTimezone        = "UTC"
	DefaultRowCounts       = "exact"
	DefaultStageTimeout    = 6 * time.Hour
	DefaultLockTimeout     = 30 * time.Second
	DefaultCheckTimeout    = 60 * time.Second
	DefaultRegion          = "us-east-1"
	DefaultPartSizeMB      = 16
	DefaultOverlap         = "skip"
	DefaultHeartbeat       = "plain"
	DefaultMinVerified     = 1
	DefaultUnverifiedGrace = 7 * 24 * time.Hour
	DefaultPartialGrace    = 24 * time.Hour
)

const (
	minPartSizeMB      = 5 // S3's minimum multipart part size
	maxPartSizeMB      = 512
	maxSecretFileBytes = 1 << 20
	maxYAMLNodes       = 100_000 // bounds alias expansion ("billion laughs")
	expectedCronFields = 5

	fromEnvironment      = "(value from the environment)"
	postgresURLMessage   = "want a postgres:// or postgresql:// URL"
	httpURLMessage       = "want an http:// or https:// URL"
	storageKindsMessage  = "want s3 or fs"
	notifierKindsMessage = "want slack, heartbeat or webhook"
	notRecipientMessage  = "not an X25519 age recipient (age1…)"
)

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// FieldError is one problem with the configuration, located by the path of
// the field in the YAML document, e.g. "targets[2].schedule". Msg never
// contains a secret: URLs and values taken from the environment are named by
// their path only.
type FieldError struct {
	Path string
	Msg  string
	err  error // underlying error, for errors.Is (e.g. fs.ErrNotExist)
}

func (e *FieldError) Unwrap() error { return e.err }

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Load reads the config file at path and parses it with Parse, resolving
// relative paths against the file's directory.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, filepath.Dir(abs), getenv)
}

// Parse decodes, completes and validates a config document.
//
//   - ${VAR} in any value is replaced by getenv("VAR"); $$ is a literal $.
//     A nil getenv behaves as an empty environment.
//   - Unknown keys are errors.
//   - database_url_file, secret_access_key_file, url_file and secret_file are
//     read (surrounding whitespace trimmed) into their main field.
//   - Relative file paths are resolved against baseDir and stored absolute.
//   - Defaults are applied, then every field is validated.
//
// All problems are reported at once: the error is an errors.Join of
// *FieldError values.
func Parse(data []byte, baseDir string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}

	d := &decoder{
		getenv:  getenv,
		p:       &problems{bad: map[string]bool{}},
		fromEnv: envPaths{},
		budget:  maxYAMLNodes,
	}
	cfg := &Config{}
	if doc := topLevel(&root); doc != nil {
		if doc.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("config: the top level must be a mapping of settings, got %s", describe(doc))
		}
		d.decode(doc, reflect.ValueOf(cfg).Elem(), "")
		if d.budget < 0 {
			return nil, d.p.err()
		}
	}

	cfg.resolvePaths(baseDir)
	cfg.readSecretFiles(d.p)
	cfg.applyDefaults()
	v := &validator{p: d.p, fromEnv: d.fromEnv}
	v.config(cfg)

	if err := d.p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// topLevel returns the document's root value, or nil for an empty document.
func topLevel(root *yaml.Node) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return nil
	}
	return n
}

// Target returns the target called name.
func (c *Config) Target(name string) (*Target, bool) {
	for i := range c.Targets {
		if c.Targets[i].Name == name {
			return &c.Targets[i], true
		}
	}
	return nil, false
}

// Storage returns the storage called name.
func (c *Config) Storage(name string) (*Storage, bool) {
	for i := range c.Storages {
		if c.Storages[i].Name == name {
			return &c.Storages[i], true
		}
	}
	return nil, false
}

// Notifier returns the notifier called name.
func (c *Config) Notifier(name string) (*Notifier, bool) {
	for i := range c.Notifiers {
		if c.Notifiers[i].Name == name {
			return &c.Notifiers[i], true
		}
	}
	return nil, false
}

// Recipients returns the age recipients backups are encrypted to: the one
// derived from each identity in the current identity file
// (encryption.age_identity_file, or the first of age_identity_files), then each of
// encryption.age_recipients, without duplicates; and their string forms
// (age1…) for the manifest. The identity file is read on every call.
func (c *Config) Recipients() ([]age.Recipient, []string, error) {
	var (
		recipients []age.Recipient
		names      []string
		seen       = map[string]bool{}
	)
	add := func(r *age.X25519Recipient) {
		s := r.String()
		if seen[s] {
			return
		}
		seen[s] = true
		recipients = append(recipients, r)
		names = append(names, s)
	}
	if paths, files := c.Encryption.identityFiles(); len(files) > 0 {
		// Only the current (first) identity: older ones only decrypt.
		ids, err := readIdentityFile(files[0])
		if err != nil {
			return nil, nil, &FieldError{Path: paths[0], Msg: err.Error(), err: err}
		}
		for _, id := range ids {
			add(id.Recipient())
		}
	}
	for i, s := range c.Encryption.AgeRecipients {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(s))
		if err != nil {
			return nil, nil, &FieldError{Path: indexPath("encryption.age_recipients", i), Msg: notRecipientMessage}
		}
		add(r)
	}
	if len(recipients) == 0 {
		return nil, nil, &FieldError{Path: "encryption", Msg: "no age recipients: set age_identity_file, age_recipients, or both"}
	}
	return recipients, names, nil
}

// Identities returns the age identities that decrypt backups, current and
// older, read from encryption.age_identity_file or every file of
// encryption.age_identity_files on every call.
func (c *Config) Identities() ([]age.Identity, error) {
	paths, files := c.Encryption.identityFiles()
	if len(files) == 0 {
		return nil, &FieldError{Path: "encryption.age_identity_file", Msg: "required to restore"}
	}
	var out []age.Identity
	for i, file := range files {
		ids, err := readIdentityFile(file)
		if err != nil {
			return nil, &FieldError{Path: paths[i], Msg: err.Error(), err: err}
		}
		for _, id := range ids {
			out = append(out, id)
		}
	}
	return out, nil
}

// readIdentityFile parses an age identity file that holds X25519 identities
// only. Its errors never quote the file's content: it is a secret key.
func readIdentityFile(path string) ([]*age.X25519Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError: names the file, not its content
	}
	defer f.Close()
	parsed, err := age.ParseIdentities(f)
	if err != nil {
		// age keeps key material out of its messages, except for the
		// character-level detail of a malformed key: keep only the line.
		if m := ageLineError.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("line %s: not a valid age identity (AGE-SECRET-KEY-1…)", m[1])
		}
		return nil, fmt.Errorf("not a valid age identity file: %v", err)
	}
	ids := make([]*age.X25519Identity, 0, len(parsed))
	for _, id := range parsed {
		x, ok := id.(*age.X25519Identity)
		if !ok {
			return nil, errors.New("only X25519 identities (AGE-SECRET-KEY-1…) are supported")
		}
		ids = append(ids, x)
	}
	return ids, nil
}

var ageLineError = regexp.MustCompile(`^error at line (\d+):`)

// problems collects every FieldError found while loading.
type problems struct {
	list []error
	bad  map[string]bool // paths that already have a problem
}

func (p *problems) add(path, format string, args ...any) {
	p.bad[path] = true
	p.list = append(p.list, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// check is add for validation: a field whose value could not be decoded (or
// sits under one that could not) is not reported twice.
func (p *problems) check(path, format string, args ...any) {
	if !p.isBad(path) {
		p.add(path, format, args...)
	}
}

// isBad reports whether path, or a field that contains it, has a problem.
func (p *problems) isBad(path string) bool {
	for q := path; ; {
		if p.bad[q] {
			return true
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			return false
		}
		q = q[:i]
	}
}

func (p *problems) err() error {
	return errors.Join(p.list...)
}

func fieldPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// decoder fills the config structs from the YAML node tree by their yaml tags,
// expanding ${VAR} in every scalar. Decoding by hand rather than with
// yaml.Node.Decode lets every error (unknown key, wrong type, bad duration)
// name its field, and keeps values out of the messages.
type decoder struct {
	getenv func(string) string
	// literal takes values as they are, without ${VAR} (API input).
	literal bool
	p       *problems
	fromEnv envPaths
	budget  int
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.p.add(path, "document too large (more than %d values after expanding aliases)", maxYAMLNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		// The config's types nest only a few levels deep, so even an alias
		// that contains itself ends in a type mismatch, not a loop.
		d.decode(n.Alias, v, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // leave the zero value; defaults fill it later
	}

	switch {
	case v.Type() == durationType:
		s, ok := d.scalar(n, path, "a duration")
		if !ok {
			return
		}
		dur, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			d.p.add(path, "want a duration such as 90s, 15m or 6h, got %s", d.fromEnv.show(path, s))
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		if s, ok := d.scalar(n, path, "a single value"); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Int:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			d.p.add(path, "want an integer, got %s", d.fromEnv.show(path, s))
			return
		}
		v.SetInt(int64(i))
	case v.Kind() == reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		switch strings.TrimSpace(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.p.add(path, "want true or false, got %s", d.fromEnv.show(path, s))
		}
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.p.add(path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.p.add(path, "want a mapping, got %s", describe(n))
			return
		}
		d.mapping(n, v, path)
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	fields := yamlFields(v.Type())
	// Merge keys (<<: *base) first, so the mapping's own keys override them.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; isMerge(k) {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.p.add(fieldPath(path, "line "+strconv.Itoa(k.Line)), "keys must be plain names, got %s", describe(k))
			continue
		}
		p := fieldPath(path, k.Value)
		if seen[k.Value] {
			d.p.add(p, "duplicate key")
			continue
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			d.p.add(p, "unknown key")
			continue
		}
		f := v.Field(idx)
		f.Set(reflect.Zero(f.Type())) // a key replaces what a merge supplied, as in YAML
		d.decode(val, f, p)
	}
}

func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	target := n
	if target.Kind == yaml.AliasNode {
		target = target.Alias
	}
	switch target.Kind {
	case yaml.MappingNode:
		d.decode(n, v, path)
	case yaml.SequenceNode:
		// Earlier mappings in the list take precedence over later ones.
		for i := len(target.Content) - 1; i >= 0; i-- {
			d.merge(target.Content[i], v, path)
		}
	default:
		d.p.add(fieldPath(path, "<<"), "want a mapping or a list of mappings to merge, got %s", describe(target))
	}
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

// scalar returns the scalar's value with ${VAR} expanded.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.p.add(path, "want %s, got %s", want, describe(n))
		return "", false
	}
	if d.literal {
		return n.Value, true
	}
	s, used, err := expand(n.Value, d.getenv)
	if err != nil {
		d.p.add(path, "%s", err.Error())
		return "", false
	}
	if used {
		d.fromEnv[path] = true
	}
	return s, true
}

// envPaths records the paths whose value came (partly) from the environment.
type envPaths map[string]bool

// show quotes a value for an error message, unless it came from the
// environment, where it may be a secret.
func (e envPaths) show(path, s string) string {
	if e[path] {
		return fromEnvironment
	}
	return strconv.Quote(s)
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a single value"
	}
}

func yamlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
	}
	return fields
}

// expand replaces ${NAME} with getenv(NAME) and $$ with $; any other $ is
// kept as is. used reports whether a variable was expanded. Errors name the
// variable, never its value.
func expand(s string, getenv func(string) string) (out string, used bool, err error) {
	if !strings.Contains(s, "$") {
		return s, false, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", false, errors.New("unterminated ${ (write $$ for a literal $)")
			}
			name := s[i+2 : i+2+end]
			if !envName.MatchString(name) {
				return "", false, fmt.Errorf("invalid environment variable name %q in ${...} (write $$ for a literal $)", name)
			}
			val := getenv(name)
			if val == "" {
				return "", false, fmt.Errorf("environment variable %s is not set", name)
			}
			b.WriteString(val)
			used = true
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), used, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func absPath(baseDir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

func (c *Config) resolvePaths(baseDir string) {
	c.Dashboard.AdminPasswordFile = absPath(baseDir, c.Dashboard.AdminPasswordFile)
	c.Encryption.AgeIdentityFile = absPath(baseDir, c.Encryption.AgeIdentityFile)
	for i, f := range c.Encryption.AgeIdentityFiles {
		c.Encryption.AgeIdentityFiles[i] = absPath(baseDir, f)
	}
	c.Evidence.SigningKeyFile = absPath(baseDir, c.Evidence.SigningKeyFile)
	for i, f := range c.Encryption.AgeIdentityFiles {
		c.Encryption.AgeIdentityFiles[i] = absPath(baseDir, f)
	}
	c.Restore.SpoolDir = absPath(baseDir, c.Restore.SpoolDir)
	c.Restore.SandboxDir = absPath(baseDir, c.Restore.SandboxDir)
	for i := range c.Storages {
		s := &c.Storages[i]
		s.Path = absPath(baseDir, s.Path)
		s.SecretAccessKeyFile = absPath(baseDir, s.SecretAccessKeyFile)
		s.CAFile = absPath(baseDir, s.CAFile)
	}
	for i := range c.Notifiers {
		n := &c.Notifiers[i]
		n.URLFile = absPath(baseDir, n.URLFile)
		n.SecretFile = absPath(baseDir, n.SecretFile)
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		t.DatabaseURLFile = absPath(baseDir, t.DatabaseURLFile)
		t.TriggerSecretFile = absPath(baseDir, t.TriggerSecretFile)
	}
}

func (c *Config) readSecretFiles(p *problems) {
	readSecretFile(p, "dashboard", "admin_password", &c.Dashboard.AdminPassword, c.Dashboard.AdminPasswordFile)
	for i := range c.Storages {
		s := &c.Storages[i]
		readSecretFile(p, indexPath("storages", i), "secret_access_key", &s.SecretAccessKey, s.SecretAccessKeyFile)
	}
	for i := range c.Notifiers {
		n := &c.Notifiers[i]
		readSecretFile(p, indexPath("notifiers", i), "url", &n.URL, n.URLFile)
		readSecretFile(p, indexPath("notifiers", i), "secret", &n.Secret, n.SecretFile)
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		readSecretFile(p, indexPath("targets", i), "database_url", &t.DatabaseURL, t.DatabaseURLFile)
		readSecretFile(p, indexPath("targets", i), "trigger_secret", &t.TriggerSecret, t.TriggerSecretFile)
	}
}

// readSecretFile sets *value from the file named by field_file, if any.
func readSecretFile(p *problems, parent, field string, value *string, file string) {
	if file == "" {
		return
	}
	path := fieldPath(parent, field+"_file")
	fail := func(format string, args ...any) {
		p.add(path, format, args...)
		// The main field has no usable value either; "required" there
		// would only repeat this problem.
		p.bad[fieldPath(parent, field)] = true
	}
	if *value != "" {
		fail("%s is also set; use one or the other", field)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		fail("%v", err)
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		fail("%v", err)
		return
	}
	if len(data) > maxSecretFileBytes {
		fail("%s is larger than %d bytes", file, maxSecretFileBytes)
		return
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		fail("%s is empty", file)
		return
	}
	*value = s
}

func (c *Config) applyDefaults() {
	if c.Restore.Jobs == 0 {
		c.Restore.Jobs = DefaultJobs()
	}
	if c.Restore.Mode == "" {
		c.Restore.Mode = RestoreSandbox
		if c.Restore.DatabaseURL != "" {
			c.Restore.Mode = RestoreServer
		}
	}
	if c.Restore.Mode == RestoreSandbox && c.Restore.SandboxDir == "" {
		c.Restore.SandboxDir = filepath.Join(os.TempDir(), "lifeboat-sandbox")
	}
	for i := range c.Notifiers {
		if n := &c.Notifiers[i]; n.Kind == "heartbeat" && n.Style == "" {
			n.Style = DefaultHeartbeat
		}
	}
	for i := range c.Storages {
		s := &c.Storages[i]
		if s.Kind != "s3" {
			continue
		}
		if s.Region == "" {
			s.Region = DefaultRegion
		}
		if s.PartSizeMB == 0 {
			s.PartSizeMB = DefaultPartSizeMB
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Timezone == "" {
			t.Timezone = DefaultTimezone
		}
		if t.RowCounts == "" {
			t.RowCounts = DefaultRowCounts
		}
		if t.StageTimeout == 0 {
			t.StageTimeout = DefaultStageTimeout
		}
		if t.LockTimeout == 0 {
			t.LockTimeout = DefaultLockTimeout
		}
		if t.Overlap == "" {
			t.Overlap = DefaultOverlap
		}
		if t.Retention.MinVerified == 0 {
			t.Retention.MinVerified = DefaultMinVerified
		}
		if t.Retention.UnverifiedGrace == 0 {
			t.Retention.UnverifiedGrace = DefaultUnverifiedGrace
		}
		if t.Retention.PartialGrace == 0 {
			t.Retention.PartialGrace = DefaultPartialGrace
		}
		for j := range t.Checks {
			if t.Checks[j].Timeout == 0 {
				t.Checks[j].Timeout = DefaultCheckTimeout
			}
		}
	}
}

type validator struct {
	p       *problems
	fromEnv envPaths
	// A storage or notifier name that could not be decoded makes "no storage
	// named x" unreliable, so references are not checked then.
	storageNamesUnknown, notifierNamesUnknown bool
}

func (v *validator) config(c *Config) {
	v.storageNamesUnknown = v.namesUnknown("storages", len(c.Storages))
	v.notifierNamesUnknown = v.namesUnknown("notifiers", len(c.Notifiers))

	v.postgresURL("database_url", c.DatabaseURL)
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			v.p.check("listen", "want host:port, such as 127.0.0.1:8080")
		}
	}
	if c.BaseURL != "" {
		v.httpURL("base_url", c.BaseURL)
	}

	switch c.Restore.Mode {
	case RestoreServer:
		v.postgresURL("restore.database_url", c.Restore.DatabaseURL)
		if c.Restore.ReaderURL != "" {
			v.postgresURL("restore.reader_url", c.Restore.ReaderURL)
		}
	case RestoreSandbox:
		if c.Restore.DatabaseURL != "" {
			v.p.check("restore.database_url", "set only with restore.mode: server (the sandbox needs no server)")
		}
		if c.Restore.ReaderURL != "" {
			v.p.check("restore.reader_url", "set only with restore.mode: server")
		}
		if c.Restore.AllowSuperuser {
			v.p.check("restore.allow_superuser", "applies only to restore.mode: server (a sandbox's roles are never superusers)")
		}
	default:
		v.p.check("restore.mode", "want sandbox or server, got %q", c.Restore.Mode)
	}
	if m := c.Restore.MaintenanceWorkMem; m != "" && !memSizeRe.MatchString(m) {
		v.p.check("restore.maintenance_work_mem", "want a size such as 512MB or 2GB, got %q", m)
	}
	if c.Restore.Jobs < 1 {
		v.p.check("restore.jobs", "must be at least 1, got %d", c.Restore.Jobs)
	}

	v.encryption(&c.Encryption)
	v.evidence(&c.Evidence)
	if pw := c.Dashboard.AdminPassword; pw != "" && len(pw) < MinAdminPassword {
		v.p.check("dashboard.admin_password", "must be at least %d characters", MinAdminPassword)
	}

	storageNames := map[string]bool{}
	for i := range c.Storages {
		v.storage(indexPath("storages", i), &c.Storages[i], storageNames)
	}
	for i, cidr := range c.Outbound.Allow {
		path := indexPath("outbound.allow", i)
		if _, err := netip.ParsePrefix(strings.TrimSpace(cidr)); err != nil {
			v.p.check(path, "%s is not a CIDR prefix such as 10.20.0.0/16", v.fromEnv.show(path, cidr))
		}
	}
	for i, root := range c.Outbound.FSRoots {
		if !filepath.IsAbs(root) {
			v.p.check(indexPath("outbound.fs_roots", i), "must be an absolute path")
		}
	}
	notifierNames := map[string]bool{}
	for i := range c.Notifiers {
		v.notifier(indexPath("notifiers", i), &c.Notifiers[i], notifierNames)
	}
	targetNames := map[string]bool{}
	for i := range c.Targets {
		v.target(indexPath("targets", i), &c.Targets[i], c, targetNames)
	}
}

// namesUnknown reports whether the list, or a name in it, failed to decode.
// It must run before validation adds its own problems.
func (v *validator) namesUnknown(list string, n int) bool {
	if v.p.isBad(list) {
		return true
	}
	for i := range n {
		if v.p.isBad(fieldPath(indexPath(list, i), "name")) {
			return true
		}
	}
	return false
}

// postgresURL never prints the value: it usually holds a password.
func (v *validator) postgresURL(path, s string) {
	if s == "" {
		v.p.check(path, "required")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		v.p.check(path, postgresURLMessage)
	}
}

// httpURL never prints the value: webhook URLs are secrets.
func (v *validator) httpURL(path, s string) {
	if s == "" {
		v.p.check(path, "required")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.p.check(path, httpURLMessage)
	}
}

func (v *validator) name(path, name string, seen map[string]bool) {
	switch {
	case name == "":
		v.p.check(path, "required")
	case !namePattern.MatchString(name):
		v.p.check(path, "%s must be lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)", v.fromEnv.show(path, name))
	case seen[name]:
		v.p.check(path, "duplicate name %s", v.fromEnv.show(path, name))
	}
	seen[name] = true
}

func (v *validator) encryption(e *Encryption) {
	if e.AgeIdentityFile == "" && len(e.AgeIdentityFiles) == 0 && len(e.AgeRecipients) == 0 {
		v.p.check("encryption", "set age_identity_file, age_recipients, or both")
	}
	if e.AgeIdentityFile != "" && len(e.AgeIdentityFiles) > 0 {
		v.p.check("encryption.age_identity_files", "age_identity_file is also set; use one or the other (list the current identity first)")
	}
	paths, files := e.identityFiles()
	for i, file := range files {
		if file == "" {
			v.p.check(paths[i], "empty path")
			continue
		}
		if _, err := readIdentityFile(file); err != nil {
			v.p.check(paths[i], "%v", err)
		}
	}
	for i, r := range e.AgeRecipients {
		// Never print the value: it may be a private key pasted by mistake.
		if _, err := age.ParseX25519Recipient(strings.TrimSpace(r)); err != nil {
			v.p.check(indexPath("encryption.age_recipients", i), notRecipientMessage)
		}
	}
}

func (v *validator) storage(path string, s *Storage, names map[string]bool) {
	v.name(fieldPath(path, "name"), s.Name, names)
	kindPath := fieldPath(path, "kind")
	switch s.Kind {
	case "s3":
		if s.Bucket == "" {
			v.p.check(fieldPath(path, "bucket"), "required for kind s3")
		}
		switch {
		case s.AccessKeyID != "" && s.SecretAccessKey == "":
			v.p.check(fieldPath(path, "secret_access_key"), "required when access_key_id is set")
		case s.AccessKeyID == "" && s.SecretAccessKey != "":
			v.p.check(fieldPath(path, "access_key_id"), "required when secret_access_key is set")
		}
		if s.Endpoint != "" {
			v.httpURL(fieldPath(path, "endpoint"), s.Endpoint)
		}
		if s.PartSizeMB < minPartSizeMB || s.PartSizeMB > maxPartSizeMB {
			v.p.check(fieldPath(path, "part_size_mb"), "must be between %d and %d, got %d", minPartSizeMB, maxPartSizeMB, s.PartSizeMB)
		}
		if s.CAFile != "" {
			v.caFile(fieldPath(path, "ca_file"), s.CAFile)
		}
		if l := s.ObjectLock; l.Enabled() {
			lp := fieldPath(path, "object_lock")
			if mp := fieldPath(lp, "mode"); l.Mode != "governance" && l.Mode != "compliance" {
				v.p.check(mp, "unknown mode %s: want governance or compliance", v.fromEnv.show(mp, l.Mode))
			}
			if l.Days < 1 || l.Days > maxLockDays {
				v.p.check(fieldPath(lp, "days"), "must be between 1 and %d, got %d", maxLockDays, l.Days)
			}
		}
	case "fs":
		if s.Path == "" {
			v.p.check(fieldPath(path, "path"), "required for kind fs")
		}
		if s.ObjectLock.Enabled() {
			v.p.check(fieldPath(path, "object_lock"), "only s3 storages have Object Lock")
		}
	case "":
		v.p.check(kindPath, "required: %s", storageKindsMessage)
	default:
		v.p.check(kindPath, "unknown kind %s: %s", v.fromEnv.show(kindPath, s.Kind), storageKindsMessage)
	}
}

func (v *validator) caFile(path, file string) {
	pem, err := os.ReadFile(file)
	if err != nil {
		v.p.check(path, "%v", err)
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		v.p.check(path, "%s holds no PEM certificate", file)
	}
}

func (v *validator) notifier(path string, n *Notifier, names map[string]bool) {
	v.name(fieldPath(path, "name"), n.Name, names)
	kindPath := fieldPath(path, "kind")
	switch n.Kind {
	case "slack", "heartbeat", "webhook":
	case "":
		v.p.check(kindPath, "required: %s", notifierKindsMessage)
	default:
		v.p.check(kindPath, "unknown kind %s: %s", v.fromEnv.show(kindPath, n.Kind), notifierKindsMessage)
	}
	v.httpURL(fieldPath(path, "url"), n.URL)
	if n.Kind == "webhook" && n.Secret == "" {
		v.p.check(fieldPath(path, "secret"), "required for kind webhook")
	}
	stylePath := fieldPath(path, "style")
	switch {
	case n.Style == "":
	case n.Kind != "heartbeat":
		v.p.check(stylePath, "only heartbeat notifiers have a style")
	case n.Style != "plain" && n.Style != "healthchecks" && n.Style != "cronitor" && n.Style != "deadmanssnitch":
		v.p.check(stylePath, "unknown style %s: want plain, healthchecks, cronitor or deadmanssnitch", v.fromEnv.show(stylePath, n.Style))
	}
}

func (v *validator) target(path string, t *Target, c *Config, names map[string]bool) {
	v.name(fieldPath(path, "name"), t.Name, names)
	v.postgresURL(fieldPath(path, "database_url"), t.DatabaseURL)

	storagePath := fieldPath(path, "storage")
	switch {
	case len(t.Storages) > 0:
		// (Storage equal to the first is what validating once already did.)
		if t.Storage != "" && t.Storage != t.Storages[0] {
			v.p.check(fieldPath(path, "storages"), "storage is also set; use one or the other (the first of storages is the primary)")
		}
		seen := map[string]bool{}
		for i, name := range t.Storages {
			p := indexPath(fieldPath(path, "storages"), i)
			if _, ok := c.Storage(name); !ok && !v.storageNamesUnknown {
				v.p.check(p, "no storage named %s", v.fromEnv.show(p, name))
			} else if seen[name] {
				v.p.check(p, "%s is listed twice", v.fromEnv.show(p, name))
			}
			seen[name] = true
		}
		// Code that needs one storage reads the primary.
		t.Storage = t.Storages[0]
	case t.Storage == "":
		v.p.check(storagePath, "required")
	default:
		if _, ok := c.Storage(t.Storage); !ok && !v.storageNamesUnknown {
			v.p.check(storagePath, "no storage named %s", v.fromEnv.show(storagePath, t.Storage))
		}
	}

	listed := map[string]bool{}
	for i, name := range t.Notify {
		p := indexPath(fieldPath(path, "notify"), i)
		switch _, ok := c.Notifier(name); {
		case listed[name]:
			v.p.check(p, "%s is listed twice", v.fromEnv.show(p, name))
		case !ok && !v.notifierNamesUnknown:
			v.p.check(p, "no notifier named %s", v.fromEnv.show(p, name))
		}
		listed[name] = true
	}

	if t.Schedule != "" {
		v.schedule(fieldPath(path, "schedule"), t.Schedule, t.Timezone)
	}
	tzPath := fieldPath(path, "timezone")
	if _, err := time.LoadLocation(t.Timezone); err != nil {
		v.p.check(tzPath, "unknown time zone %s: want an IANA name such as UTC or Europe/Berlin", v.fromEnv.show(tzPath, t.Timezone))
	}
	rcPath := fieldPath(path, "row_counts")
	if t.RowCounts != "exact" && t.RowCounts != "estimate" {
		v.p.check(rcPath, "unknown mode %s: want exact or estimate", v.fromEnv.show(rcPath, t.RowCounts))
	}
	if t.StageTimeout < 0 {
		v.p.check(fieldPath(path, "stage_timeout"), "must be positive")
	}
	if t.LockTimeout < 0 || t.LockTimeout > 0 && t.LockTimeout < time.Millisecond {
		v.p.check(fieldPath(path, "lock_timeout"), "must be at least 1ms")
	}
	if ovPath := fieldPath(path, "overlap"); t.Overlap != "skip" && t.Overlap != "queue" {
		v.p.check(ovPath, "unknown mode %s: want skip or queue", v.fromEnv.show(ovPath, t.Overlap))
	}
	if t.MaxAge < 0 {
		v.p.check(fieldPath(path, "max_age"), "must be positive")
	}
	rp := fieldPath(path, "retention")
	r := t.Retention
	for name, n := range map[string]int{"keep_last": r.KeepLast, "keep_daily": r.KeepDaily, "keep_weekly": r.KeepWeekly,
		"keep_monthly": r.KeepMonthly, "keep_yearly": r.KeepYearly, "min_verified": r.MinVerified} {
		if n < 0 {
			v.p.check(fieldPath(rp, name), "must not be negative")
		}
	}
	if r.UnverifiedGrace < 0 {
		v.p.check(fieldPath(rp, "unverified_grace"), "must be positive")
	}
	if r.PartialGrace < 0 {
		v.p.check(fieldPath(rp, "partial_grace"), "must be positive")
	}

	v.gates(fieldPath(path, "gates"), &t.Gates)

	checkNames := map[string]bool{}
	for i := range t.Checks {
		v.check(indexPath(fieldPath(path, "checks"), i), &t.Checks[i], checkNames)
	}
}

func (v *validator) schedule(path, spec string, tz string) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		v.p.check(path, "set the time zone with the target's timezone, not in the schedule")
		return
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC // reported on the timezone field
	}
	if _, err := schedule.Parse(spec, loc); err != nil {
		if v.fromEnv[path] {
			v.p.check(path, "invalid cron expression %s", fromEnvironment)
			return
		}
		v.p.check(path, "%v", err)
	}
}

func (v *validator) check(path string, ch *Check, names map[string]bool) {
	namePath := fieldPath(path, "name")
	switch {
	case strings.TrimSpace(ch.Name) == "":
		v.p.check(namePath, "required")
	case names[ch.Name]:
		v.p.check(namePath, "duplicate check name %s", v.fromEnv.show(namePath, ch.Name))
	}
	names[ch.Name] = true
	if strings.TrimSpace(ch.SQL) == "" {
		v.p.check(fieldPath(path, "sql"), "required")
	}
	expectPath := fieldPath(path, "expect")
	if _, err := verify.ParseExpect(ch.Expect); err != nil {
		if v.fromEnv[expectPath] {
			v.p.check(expectPath, "not a valid expect form %s", fromEnvironment)
		} else {
			v.p.check(expectPath, "%v", err)
		}
	}
	if ch.Timeout < 0 {
		v.p.check(fieldPath(path, "timeout"), "must be positive")
	}
}
