package fakehttp

// Map returns f of every element of s, in order: never nil, so an empty
// list still encodes as the JSON array [] the real services send.
func Map[E, T any](s []E, f func(E) T) []T {
	out := make([]T, 0, len(s))
	for _, e := range s {
		out = append(out, f(e))
	}
	return out
}
