//go:build tools

// Package tools pins the command this module builds (see bench/peers/build-kyverno).
package tools

import _ "github.com/kyverno/kyverno/cmd/kyverno"
