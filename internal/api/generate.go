package api

// openapi.yaml is the contract: the router, the request parsing and the
// response types in openapi.gen.go are generated from it.
//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../openapi.yaml
