//go:build tools

// Package depsprobe pins the modules the project depends on while packages are
// being written; it is never built (build tag "tools"). Remove it once every
// module is imported by real code.
package deps
import (
 _ "github.com/go-webauthn/webauthn/webauthn"
 _ "github.com/go-webauthn/webauthn/metadata/providers/memory"
 _ "github.com/go-jose/go-jose/v4"
 _ "github.com/fxamacker/cbor/v2"
 _ "golang.org/x/sync/errgroup"
 _ "golang.org/x/time/rate"
 _ "modernc.org/sqlite"
 _ "github.com/google/go-cmp/cmp"
 _ "github.com/jarcoal/httpmock"
 _ "github.com/go-piv/piv-go/v2/piv"
 _ "github.com/descope/virtualwebauthn"
 _ "golang.org/x/text/unicode/norm"
 _ "golang.org/x/term"
 _ "github.com/google/uuid"
)
