//go:build !unix

package cli

// dirWritable cannot tell, on this system, whether this process may create
// files in dir without writing there: it reports nothing.
func dirWritable(string) error { return nil }
