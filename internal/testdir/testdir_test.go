package testdir_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testdir"
)

// TestListings: each listing names every entry of the directory, a file,
// a symbolic link and a subdirectory, and says of each what it promises.
func TestListings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.db"), []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.db", filepath.Join(dir, "b.link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "c"), 0o700); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a.db", "b.link", "c"}, testdir.Names(t, dir)); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	if got := testdir.Names(t, t.TempDir()); got != nil {
		t.Errorf("Names of an empty directory = %q, want nil", got)
	}
	if got := testdir.Sizes(t, dir)["a.db"]; got != 3 {
		t.Errorf("Sizes[a.db] = %d, want 3", got)
	}
	want := map[string]string{
		"a.db":   "3 bytes, sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"b.link": "symlink to a.db",
		"c":      "d---------",
	}
	if diff := cmp.Diff(want, testdir.Contents(t, dir)); diff != "" {
		t.Errorf("Contents (-want +got):\n%s", diff)
	}
	stamps := testdir.Stamps(t, dir)
	if s := stamps["a.db"]; !strings.HasPrefix(s, "3 bytes, -rw-------, modified ") {
		t.Errorf("Stamps[a.db] = %q, want its size, mode and time", s)
	}
	before := stamps["a.db"]
	if err := os.Chmod(filepath.Join(dir, "a.db"), 0o400); err != nil {
		t.Fatal(err)
	}
	if after := testdir.Stamps(t, dir)["a.db"]; after == before {
		t.Errorf("Stamps[a.db] = %q after a chmod, as before", after)
	}
}
