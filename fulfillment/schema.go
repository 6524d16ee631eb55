package fulfillment

// SchemaStatus is a store's schema as read without opening the store for
// use: the version it has, the version this program's open would migrate
// it to, and what would keep that open or the store's writes from
// succeeding. [InspectSQLite] and pgstore's Inspect report it, for a
// preflight check that must not change a store other programs (an older
// version among them) may be using.
type SchemaStatus struct {
	// Version is the store's schema version: the number of migrations
	// recorded in it; 0 when it has none yet (a new store, whose schema
	// the open creates), or when VersionUnknown.
	Version int
	// VersionUnknown is set when the store's schema exists but its
	// version could not be read (a PostgreSQL role without USAGE or
	// CREATE on the schema, which Problems names): Version is then 0 and
	// says nothing, nor do Migrates and Newer.
	VersionUnknown bool
	// Latest is the version this program's open brings the schema to,
	// and the newest it accepts.
	Latest int
	// Problems are what the open, or the store's writes afterwards, would
	// be refused, found without trying (a PostgreSQL role's missing
	// privileges, say), each a sentence naming the object; empty when
	// none was found.
	Problems []string
}

// Migrates reports whether opening the store would migrate its schema
// (create it, or apply the migrations it has not seen).
func (s SchemaStatus) Migrates() bool { return s.Version < s.Latest }

// Newer reports whether the store's schema is newer than this program
// knows: its open refuses the store.
func (s SchemaStatus) Newer() bool { return s.Version > s.Latest }
