package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/pgstore"
)

// storeSpec is a parsed -store value: a SQLite file, a PostgreSQL URL, or
// neither (in memory).
type storeSpec struct {
	// sqlite is the SQLite file's path.
	sqlite string
	// postgres is the postgres:// or postgresql:// URL, as given (its
	// password, if any, never printed).
	postgres string
}

// parseStore reads a -store value: "" (in memory), a path or sqlite:PATH
// (file:PATH too), or a postgres:// or postgresql:// URL. Another URL
// scheme is refused, naming what is supported.
func parseStore(v string) (storeSpec, error) {
	if v == "" {
		return storeSpec{}, nil
	}
	if keywordDSN.MatchString(v) {
		// Not a file name (it would be created, and printed by doctor
		// with its password): the value is not quoted either.
		return storeSpec{}, errors.New("a PostgreSQL connection string in keyword form (host=... dbname=...) is not supported: give a postgres://[user@]host[:port]/database URL")
	}
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok || len(scheme) < 2 || strings.ContainsAny(scheme, `/\.`) {
		return storeSpec{sqlite: v}, nil // a path (a one-letter "scheme" is a Windows drive)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "file":
		rest = strings.TrimPrefix(rest, "//")
		if rest == "" {
			return storeSpec{}, errors.New("sqlite: the file path is empty")
		}
		return storeSpec{sqlite: rest}, nil
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return storeSpec{}, fmt.Errorf("%s: want a URL %s://[user@]host[:port]/database[?...]", scheme, scheme)
		}
		return storeSpec{postgres: v}, nil
	}
	return storeSpec{}, fmt.Errorf("store %q is not supported: want a SQLite file path, sqlite:PATH or a postgres:// URL", scheme+":")
}

// keywordDSN matches a PostgreSQL connection string in keyword/value form
// (libpq's "host=db dbname=keys password=..."): a keyword starting the
// value or following white space, then "=".
var keywordDSN = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|passfile|sslmode|service)\s*=`)

// openStore opens the store a -store value names: in memory, a SQLite
// file, or PostgreSQL (fulfillment/pgstore, shared by every instance on
// the same database). close releases it. log, if not nil, is PostgreSQL's
// change feed's logger (serve's console and Sync loop listen to it).
func openStore(ctx context.Context, v string, log *slog.Logger) (_ fulfillment.Store, close func(), err error) {
	spec, err := parseStore(v)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case spec.postgres != "":
		var opts []pgstore.Option
		if log != nil {
			opts = append(opts, pgstore.WithLogger(log))
		}
		db, err := pgstore.Open(ctx, spec.postgres, opts...)
		if err != nil {
			return nil, nil, err // pgstore's errors never carry the password
		}
		return db, func() { db.Close() }, nil
	case spec.sqlite != "":
		db, err := fulfillment.OpenSQLite(ctx, spec.sqlite)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	return fulfillment.NewMemoryStore(), func() {}, nil
}
