// Package cputime reads the CPU time a process or an OS thread has used,
// so benchmarks on a machine shared with other work can report the work
// they did rather than their waiting for a core. Where the system does not
// say (anything but Linux), both fall back to the wall time since the
// program started.
package cputime
