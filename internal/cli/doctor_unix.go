//go:build unix

package cli

import "golang.org/x/sys/unix"

// dirWritable checks, without writing, that this process may create files
// in dir (write and search permission), as access(2) tells for its user.
func dirWritable(dir string) error { return unix.Access(dir, unix.W_OK|unix.X_OK) }
