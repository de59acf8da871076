//go:build tools

// Package tools records the CLI's main package as a dependency of this module,
// so that `go mod tidy` keeps every module it needs in go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
