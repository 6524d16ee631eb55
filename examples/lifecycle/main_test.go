package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun plays the demo for one user through the example's command line
// (the demo itself is tested in internal/demo).
func TestRun(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-users", "1"}, &stdout, &stderr); code != 0 {
		t.Fatalf("run = %d, stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "1 users: 1 Active, PIN wiped in Okta for 1") {
		t.Errorf("no summary in:\n%s", stdout.String())
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-users", "0"}, 2, "-users 0: want 1 to 2000"},
		{[]string{"-users", "x"}, 2, "invalid value"},
		{[]string{"-concurrency", "0"}, 2, "-concurrency 0"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-h"}, 0, "usage: lifecycle"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) wrote to stdout: %q", tc.args, stdout.String())
		}
	}
}
