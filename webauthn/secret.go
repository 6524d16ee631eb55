package webauthn

import (
	"crypto/subtle"
	"fmt"
)

const redacted = "[REDACTED]"

// Secret holds a secret such as a PIN. It never prints its value: String,
// GoString and every fmt verb print "[REDACTED]", and encoding/json encodes it
// as the string "[REDACTED]" too. The sealed PIN response is the only place
// this package serializes the value, through an internal wire type.
// Convert explicitly (string(s)) where the value is really needed, and call
// [Secret.Zero] when done. The zero value is an empty secret.
type Secret []byte

// Zero overwrites the secret's bytes with zeros in place.
func (s Secret) Zero() {
	clear(s)
}

// Equal reports, in constant time, whether s and t hold the same bytes.
func (s Secret) Equal(t Secret) bool {
	return subtle.ConstantTimeCompare(s, t) == 1
}

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (s Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb, including %x, %q and %#v.
func (s Secret) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(redacted))
}

// MarshalJSON encodes the secret as the string "[REDACTED]", so that logging
// a struct holding a Secret as JSON never leaks it.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redacted + `"`), nil
}

// MarshalText encodes the secret as "[REDACTED]" (for text encoders and
// structured loggers).
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(redacted), nil
}
