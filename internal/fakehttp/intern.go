package fakehttp

import "unique"

// Intern returns the canonical copy of s (the [unique] package's): equal
// strings a fake keeps from many requests (an RP ID, a key type, a product
// ID) then share one copy instead of each holding the one JSON decoding
// made. unique does not keep the copies alive, so nothing accumulates
// across servers or after the records holding them are gone.
func Intern(s string) string { return unique.Make(s).Value() }
