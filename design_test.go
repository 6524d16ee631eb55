package preenroll_test

import (
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const module = "github.com/preenroll/preenroll"

// TestDesignImports: the package table of docs/design.md names, for each
// package, exactly the packages of this module it imports (besides
// internal/...), so the table cannot drift from the code.
func TestDesignImports(t *testing.T) {
	data, err := os.ReadFile("docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([a-z/]+)`[^|]*\\|[^|]*\\| (.*) \\|$")
	code := regexp.MustCompile("`([a-z/]+)`")
	rows := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pkg, dir := m[1], m[1]
		if pkg == "preenroll" {
			dir = "."
		}
		rows++
		var documented []string
		for _, c := range code.FindAllStringSubmatch(m[2], -1) {
			documented = append(documented, c[1])
		}
		bp, err := build.Default.ImportDir(filepath.FromSlash(dir), 0)
		if err != nil {
			t.Errorf("%s: %v", pkg, err)
			continue
		}
		var imported []string
		for _, imp := range bp.Imports {
			rel, ok := strings.CutPrefix(imp, module+"/")
			if ok && !strings.HasPrefix(rel, "internal/") {
				imported = append(imported, rel)
			}
		}
		slices.Sort(documented)
		slices.Sort(imported)
		if diff := cmp.Diff(imported, documented); diff != "" {
			t.Errorf("docs/design.md: %s's imports (-code +docs):\n%s", pkg, diff)
		}
	}
	if rows < 10 {
		t.Errorf("read %d package rows of docs/design.md, want every package", rows)
	}
}
