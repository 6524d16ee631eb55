package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/pgstore"
)

// Example opens the shared store every instance of a service uses and
// hands it to the Service. Each instance runs the same code against the
// same database; the store's compare-and-swap and leases keep them from
// doing one user's step twice. (It needs a server, so it is compiled but
// not run; the package's tests run against one.)
func Example() {
	ctx := context.Background()
	// For example postgres://preenroll:…@db.internal:5432/preenroll?sslmode=verify-full
	store, err := pgstore.Open(ctx, os.Getenv("PREENROLL_POSTGRES_URL"), pgstore.WithSchema("preenroll"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	svc, err := fulfillment.New(fulfillment.Config{
		Store: store,
		// Okta, Yubico, RPIDs and Defaults as for any other store.
	})
	if err != nil {
		log.Fatal(err)
	}
	// Every instance syncs; a step one instance has leased the others leave
	// alone until the lease expires.
	if err := svc.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
