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
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
