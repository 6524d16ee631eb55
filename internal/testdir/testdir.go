// Package testdir lists a directory's entries for the tests that check
// what a call wrote there, or that it wrote nothing (backups, doctor's
// read-only checks): by name, size, stamp or content. Every failure to
// read fails the test.
package testdir

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Names lists the names in dir, sorted; nil for an empty directory.
func Names(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	for _, e := range read(t, dir) {
		names = append(names, e.Name())
	}
	return names
}

// Sizes is the size of each entry of dir, by name.
func Sizes(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	return each(t, dir, func(_ string, fi fs.FileInfo) int64 { return fi.Size() })
}

// Stamps is the size, mode and modification time of each entry of dir,
// by name: with Contents, what a call that must leave dir alone compares
// before and after.
func Stamps(t testing.TB, dir string) map[string]string {
	t.Helper()
	return each(t, dir, func(_ string, fi fs.FileInfo) string {
		return fmt.Sprintf("%d bytes, %v, modified %v", fi.Size(), fi.Mode(), fi.ModTime())
	})
}

// Contents is each entry of dir by name: a regular file by its size and
// SHA-256 (a write-ahead log's index rewritten keeps its size), a
// symbolic link by its target, anything else by its type.
func Contents(t testing.TB, dir string) map[string]string {
	t.Helper()
	return each(t, dir, func(path string, fi fs.FileInfo) string {
		switch fi.Mode().Type() {
		case 0: // a regular file
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%d bytes, sha256 %x", len(b), sha256.Sum256(b))
		case fs.ModeSymlink:
			target, err := os.Readlink(path)
			if err != nil {
				t.Fatal(err)
			}
			return "symlink to " + target
		default:
			return fi.Mode().Type().String()
		}
	})
}

// each maps every entry of dir, by name, to what f makes of its path and
// its (not followed) FileInfo.
func each[V any](t testing.TB, dir string, f func(path string, fi fs.FileInfo) V) map[string]V {
	t.Helper()
	out := map[string]V{}
	for _, e := range read(t, dir) {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = f(filepath.Join(dir, e.Name()), fi)
	}
	return out
}

func read(t testing.TB, dir string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return es
}
