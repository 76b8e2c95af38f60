//go:build tools

// Package tools pins the command this module builds (see tests/cluster/build).
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
