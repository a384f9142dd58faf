package api

import (
	"context"
	"fmt"
	"slices"

	"github.com/lifeboat-dev/lifeboat"
)

// CatalogAdmin changes the storages, notifiers and targets kept in
// lifeboat's database (app.Catalog, adapted in cmd/server). Bodies are the
// config file's fields as JSON; the admin decodes and validates them as the
// config file is.
type CatalogAdmin interface {
	Put(ctx context.Context, kind, name string, body []byte, replace bool) error
	Delete(ctx context.Context, kind, name string) error
	Storages(ctx context.Context) ([]StorageConfig, error)
	Notifiers(ctx context.Context) ([]NotifierConfig, error)
	TestStorage(ctx context.Context, name string) (lifeboat.ProbeResult, error)
	TestNotifier(ctx context.Context, name string) (lifeboat.ProbeResult, error)
}

// The kinds CatalogAdmin knows (config.Kind*).
const (
	kindTarget   = "target"
	kindStorage  = "storage"
	kindNotifier = "notifier"
)

// StorageConfig is a storage as the API may show it: no secret field.
type StorageConfig struct {
	Name, Kind, Source                            string
	Path, Bucket, Prefix, Endpoint, Region, KeyID string
	SecretKeySet                                  bool
	PartSizeMB                                    int
}

// NotifierConfig is a notifier as the API may show it: its URL only by host.
type NotifierConfig struct {
	Name, Kind, Source, Host, Style string
	URLSet, SecretSet               bool
}

type storageView struct {
	Name            string    `json:"name"`
	Kind            string    `json:"kind"`
	Source          string    `json:"source"`
	Path            string    `json:"path,omitempty"`
	Bucket          string    `json:"bucket,omitempty"`
	Prefix          string    `json:"prefix,omitempty"`
	Endpoint        string    `json:"endpoint,omitempty"`
	Region          string    `json:"region,omitempty"`
	AccessKeyID     string    `json:"access_key_id,omitempty"`
	SecretAccessKey secretSet `json:"secret_access_key"`
	PartSizeMB      int       `json:"part_size_mb,omitempty"`
}

type notifierView struct {
	Name   string    `json:"name"`
	Kind   string    `json:"kind"`
	Source string    `json:"source"`
	URL    secretSet `json:"url"`
	Host   string    `json:"host,omitempty"`
	Secret secretSet `json:"secret"`
	Style  string    `json:"style,omitempty"`
}

func storageViewOf(c StorageConfig) storageView {
	return storageView{Name: c.Name, Kind: c.Kind, Source: c.Source, Path: c.Path, Bucket: c.Bucket, Prefix: c.Prefix,
		Endpoint: c.Endpoint, Region: c.Region, AccessKeyID: c.KeyID, SecretAccessKey: secretSet{c.SecretKeySet},
		PartSizeMB: c.PartSizeMB}
}

func notifierViewOf(c NotifierConfig) notifierView {
	return notifierView{Name: c.Name, Kind: c.Kind, Source: c.Source, URL: secretSet{c.URLSet}, Host: c.Host,
		Secret: secretSet{c.SecretSet}, Style: c.Style}
}

func (s *Server) catalog() (CatalogAdmin, error) {
	if s.Catalog == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "the catalog is not wired in this process")
	}
	return s.Catalog, nil
}

// rawBody is the request's JSON body as sent (readBody kept it): the
// catalog decodes it with the config file's rules.
func rawBody(ctx context.Context) []byte {
	b, _ := ctx.Value(bodyKey{}).([]byte)
	return b
}

func (s *Server) putItem(ctx context.Context, kind, name string, replace bool) error {
	c, err := s.catalog()
	if err != nil {
		return err
	}
	return c.Put(ctx, kind, name, rawBody(ctx), replace)
}

// CreateTarget creates a target kept in the database.
func (s *Server) CreateTarget(ctx context.Context, in CreateTargetRequestObject) (CreateTargetResponseObject, error) {
	name := ""
	if in.Body.Name != nil {
		name = *in.Body.Name
	}
	if name == "" {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "body.name: is required")
	}
	if err := s.putItem(ctx, kindTarget, name, false); err != nil {
		return nil, err
	}
	v, err := s.apiTarget(ctx, name)
	if err != nil {
		return nil, err
	}
	return CreateTarget201JSONResponse(v), nil
}

// ReplaceTarget replaces a target created through the API.
func (s *Server) ReplaceTarget(ctx context.Context, in ReplaceTargetRequestObject) (ReplaceTargetResponseObject, error) {
	if err := s.putItem(ctx, kindTarget, in.Name, true); err != nil {
		return nil, err
	}
	v, err := s.apiTarget(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return ReplaceTarget200JSONResponse(v), nil
}

// DeleteTarget deletes a target created through the API, refusing while it
// has an active run unless force, which cancels the run first.
func (s *Server) DeleteTarget(ctx context.Context, in DeleteTargetRequestObject) (DeleteTargetResponseObject, error) {
	c, err := s.catalog()
	if err != nil {
		return nil, err
	}
	v, err := s.apiTarget(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	if v.Source == "file" {
		return nil, lifeboat.Errorf(lifeboat.ECONFLICT, "target %q is defined in the config file: remove it there", in.Name)
	}
	active, _, err := s.Reader.RunList(ctx, lifeboat.RunFilter{Target: in.Name,
		Statuses: []lifeboat.RunStatus{lifeboat.RunQueued, lifeboat.RunRunning}, Limit: 10})
	if err != nil {
		return nil, err
	}
	force := in.Params.Force != nil && *in.Params.Force
	for _, run := range active {
		if !force {
			return nil, lifeboat.Errorf(lifeboat.ECONFLICT, "target %q has an active run %d (%s); pass ?force=true to cancel it and delete",
				in.Name, run.ID, run.Status)
		}
		if _, err := s.Runs.CancelRun(ctx, run.ID); err != nil && lifeboat.ErrorCode(err) != lifeboat.ECONFLICT {
			return nil, fmt.Errorf("cancel run %d: %w", run.ID, err)
		}
	}
	if err := c.Delete(ctx, kindTarget, in.Name); err != nil {
		return nil, err
	}
	return DeleteTarget200JSONResponse(v), nil
}

// apiTarget is one target as GET shows it.
func (s *Server) apiTarget(ctx context.Context, name string) (targetView, error) {
	resp, err := s.GetTarget(ctx, GetTargetRequestObject{Name: name})
	if err != nil {
		return targetView{}, err
	}
	return targetView(resp.(GetTarget200JSONResponse)), nil
}

func (s *Server) ListStorages(ctx context.Context, _ ListStoragesRequestObject) (ListStoragesResponseObject, error) {
	c, err := s.catalog()
	if err != nil {
		return nil, err
	}
	list, err := c.Storages(ctx)
	if err != nil {
		return nil, err
	}
	out := ListStorages200JSONResponse{Storages: make([]storageView, len(list))}
	for i, st := range list {
		out.Storages[i] = storageViewOf(st)
	}
	return out, nil
}

func (s *Server) storage(ctx context.Context, name string) (storageView, error) {
	c, err := s.catalog()
	if err != nil {
		return storageView{}, err
	}
	list, err := c.Storages(ctx)
	if err != nil {
		return storageView{}, err
	}
	i := slices.IndexFunc(list, func(st StorageConfig) bool { return st.Name == name })
	if i < 0 {
		return storageView{}, lifeboat.Errorf(lifeboat.ENOTFOUND, "no storage named %q", name)
	}
	return storageViewOf(list[i]), nil
}

func (s *Server) GetStorage(ctx context.Context, in GetStorageRequestObject) (GetStorageResponseObject, error) {
	v, err := s.storage(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return GetStorage200JSONResponse(v), nil
}

func (s *Server) CreateStorage(ctx context.Context, in CreateStorageRequestObject) (CreateStorageResponseObject, error) {
	if in.Body.Name == nil || *in.Body.Name == "" {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "body.name: is required")
	}
	if err := s.putItem(ctx, kindStorage, *in.Body.Name, false); err != nil {
		return nil, err
	}
	v, err := s.storage(ctx, *in.Body.Name)
	if err != nil {
		return nil, err
	}
	return CreateStorage201JSONResponse(v), nil
}

func (s *Server) ReplaceStorage(ctx context.Context, in ReplaceStorageRequestObject) (ReplaceStorageResponseObject, error) {
	if err := s.putItem(ctx, kindStorage, in.Name, true); err != nil {
		return nil, err
	}
	v, err := s.storage(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return ReplaceStorage200JSONResponse(v), nil
}

func (s *Server) DeleteStorage(ctx context.Context, in DeleteStorageRequestObject) (DeleteStorageResponseObject, error) {
	v, err := s.storage(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	if err := s.Catalog.Delete(ctx, kindStorage, in.Name); err != nil {
		return nil, err
	}
	return DeleteStorage200JSONResponse(v), nil
}

func (s *Server) TestStorage(ctx context.Context, in TestStorageRequestObject) (TestStorageResponseObject, error) {
	c, err := s.catalog()
	if err != nil {
		return nil, err
	}
	res, err := c.TestStorage(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	s.recordTest(ctx, testStorage, in.Name, res) // Settings shows it too
	return TestStorage200JSONResponse(res), nil
}

func (s *Server) ListNotifiers(ctx context.Context, _ ListNotifiersRequestObject) (ListNotifiersResponseObject, error) {
	c, err := s.catalog()
	if err != nil {
		return nil, err
	}
	list, err := c.Notifiers(ctx)
	if err != nil {
		return nil, err
	}
	out := ListNotifiers200JSONResponse{Notifiers: make([]notifierView, len(list))}
	for i, n := range list {
		out.Notifiers[i] = notifierViewOf(n)
	}
	return out, nil
}

func (s *Server) notifier(ctx context.Context, name string) (notifierView, error) {
	c, err := s.catalog()
	if err != nil {
		return notifierView{}, err
	}
	list, err := c.Notifiers(ctx)
	if err != nil {
		return notifierView{}, err
	}
	i := slices.IndexFunc(list, func(n NotifierConfig) bool { return n.Name == name })
	if i < 0 {
		return notifierView{}, lifeboat.Errorf(lifeboat.ENOTFOUND, "no notifier named %q", name)
	}
	return notifierViewOf(list[i]), nil
}

func (s *Server) GetNotifier(ctx context.Context, in GetNotifierRequestObject) (GetNotifierResponseObject, error) {
	v, err := s.notifier(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return GetNotifier200JSONResponse(v), nil
}

func (s *Server) CreateNotifier(ctx context.Context, in CreateNotifierRequestObject) (CreateNotifierResponseObject, error) {
	if in.Body.Name == nil || *in.Body.Name == "" {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "body.name: is required")
	}
	if err := s.putItem(ctx, kindNotifier, *in.Body.Name, false); err != nil {
		return nil, err
	}
	v, err := s.notifier(ctx, *in.Body.Name)
	if err != nil {
		return nil, err
	}
	return CreateNotifier201JSONResponse(v), nil
}

func (s *Server) ReplaceNotifier(ctx context.Context, in ReplaceNotifierRequestObject) (ReplaceNotifierResponseObject, error) {
	if err := s.putItem(ctx, kindNotifier, in.Name, true); err != nil {
		return nil, err
	}
	v, err := s.notifier(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return ReplaceNotifier200JSONResponse(v), nil
}

func (s *Server) DeleteNotifier(ctx context.Context, in DeleteNotifierRequestObject) (DeleteNotifierResponseObject, error) {
	v, err := s.notifier(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	if err := s.Catalog.Delete(ctx, kindNotifier, in.Name); err != nil {
		return nil, err
	}
	return DeleteNotifier200JSONResponse(v), nil
}

func (s *Server) TestNotifier(ctx context.Context, in TestNotifierRequestObject) (TestNotifierResponseObject, error) {
	c, err := s.catalog()
	if err != nil {
		return nil, err
	}
	res, err := c.TestNotifier(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	s.recordTest(ctx, testNotifier, in.Name, res) // Settings shows it too
	return TestNotifier200JSONResponse(res), nil
}
