package lifeboat

import _ "embed"

// OpenAPI is the REST API's contract, served at /api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
