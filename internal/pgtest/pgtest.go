// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema on the server named by PREENROLL_POSTGRES_URL, dropped when the
// test ends. Without the variable a test skips, or fails when CI=true (CI
// must never skip these tests silently). Start a throwaway server with
//
//	eval "$(bash .ci/postgres.sh start)"
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/preenroll/preenroll/internal/testproc"
)

// EnvURL is the environment variable naming the test server.
const EnvURL = "PREENROLL_POSTGRES_URL"

// ServerURL returns the test server's URL, skipping t without one (failing
// it when CI=true).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		const how = EnvURL + ` is unset: start a throwaway PostgreSQL with ` +
			`eval "$(bash .ci/postgres.sh start)" (stop it with bash .ci/postgres.sh stop "$PREENROLL_PG_DIR")`
		if os.Getenv("CI") == "true" {
			t.Fatal(how + "; CI=true, so this test fails instead of skipping")
		}
		t.Skip(how)
	}
	return u
}

// SchemaName returns the name of a schema no other test uses (beginning
// with prefix), not created, and dropped (if it exists) when t ends.
func SchemaName(t testing.TB, prefix string) string {
	t.Helper()
	server := ServerURL(t)
	name := prefix + "_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return name
}

// Schema creates a schema no other test uses (its name begins with
// prefix), dropped when t ends, and returns its name and a URL of the test
// server whose connections have it as their search_path: a store opened on
// that URL without options keeps its tables there.
func Schema(t testing.TB, prefix string) (name, schemaURL string) {
	t.Helper()
	server := ServerURL(t)
	name = SchemaName(t, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL", EnvURL)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return name, u.String()
}

// Database creates a database no other test uses (its name begins with
// prefix) on the test server, dropped when t ends, and returns a URL of
// the server that connects to it: for a test whose notifications must
// reach no other test's listeners (a NOTIFY goes to every listener of its
// channel in the database, whatever the schema).
func Database(t testing.TB, prefix string) (dbURL string) {
	t.Helper()
	server := ServerURL(t)
	name := prefix + "_" + strings.ToLower(rand.Text()[:12])
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL", EnvURL)
	}
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := exec(`CREATE DATABASE ` + ident); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := exec(`DROP DATABASE IF EXISTS ` + ident + ` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Cluster starts a PostgreSQL server of t's own with the repository's
// .ci/postgres.sh (a throwaway cluster in a temporary directory, stopped
// and deleted when t ends) and returns its URL and directory: for a test
// that stops and starts the server (`postgres.sh pause DIR`, `resume
// DIR`), which must not take the shared test server away from the tests
// running beside it. It skips or fails as ServerURL does when
// PREENROLL_POSTGRES_URL is unset (no PostgreSQL on this machine).
func Cluster(t testing.TB) (serverURL, dir string) {
	t.Helper()
	ServerURL(t)
	script, err := Script()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	out, err := testproc.Output(t, exec.Command("bash", script, "start"))
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("pgtest: postgres.sh start: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("pgtest: postgres.sh start: %v", err)
	}
	// The script prints: export PREENROLL_PG_DIR=… PREENROLL_PG_PID=… PREENROLL_POSTGRES_URL=…
	for _, f := range strings.Fields(string(out)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		v = strings.ReplaceAll(v, `\`, "") // printf %q escapes the URL's ?
		switch k {
		case "PREENROLL_PG_DIR":
			dir = v
		case EnvURL:
			serverURL = v
		}
	}
	if dir == "" || serverURL == "" {
		t.Fatalf("pgtest: postgres.sh start printed no directory and URL: %q", out)
	}
	t.Cleanup(func() {
		if out, err := testproc.CombinedOutput(t, exec.Command("bash", script, "stop", dir)); err != nil {
			t.Errorf("pgtest: postgres.sh stop %s: %v\n%s", dir, err, out)
		}
	})
	return serverURL, dir
}

// Script returns the path of the repository's .ci/postgres.sh, found from
// the working directory (a package's directory under test) upwards.
func Script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, ".ci", "postgres.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(".ci/postgres.sh not found above the working directory")
		}
		dir = parent
	}
}
