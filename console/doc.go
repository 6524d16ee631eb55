// Package console is the administrator's web console over a
// [fulfillment.Service]: an http.Handler to mount in a server (preenroll
// serve mounts it at "/").
//
// # Pages
//
//   - People: every user the Service knows, with the key status, counts
//     per status, a filter by status, and a search of Okta by login.
//   - User: the profile, the Security Key section (status, Yubico shipment
//     state, serial once programmed, delivery, every step with its time,
//     the reason and failed step when errored) and the actions the status
//     machine allows then: Add a pre-enrolled security key (refused, with
//     the reason, while a key is in fulfillment), Send PIN (Shipped),
//     Retry (errored), Delete (after a page saying what it cancels and
//     deletes).
//   - Order: Product ID, Inventory Product ID and Customization ID (Yubico's
//     products and inventory offered when Config.Yubico is set) and the
//     delivery section, every problem of the profile named by its Okta
//     attribute.
//   - Batch: upload a CSV (Okta logins, Okta attributes, a Workday or
//     ServiceNow export); every bad row is listed with its line before
//     anything is ordered; an admin then orders the valid rows and follows
//     the progress; the per-row results download as CSV (cells that a
//     spreadsheet would run as formulas are defused).
//   - Audit: who did what, when, and the outcome.
//
// Batches are kept in Config.Documents and the audit trail in
// Config.Audit. Give both the Store the Service uses ([NewStoreAudit] over
// it; every store of package fulfillment and of pgstore is a
// [fulfillment.DocumentStore]), and several instances of the console on
// that store show the same batches and audit trail with no session
// affinity. A batch is checked and ordered by the instance that received
// its upload (or its order). It is kept as two documents: its rows
// (gzip-compressed JSON, ~0.6 MB for a 1 MiB upload) and a summary of a
// few hundred bytes, which the upload page lists without reading any
// rows. The instance running the batch writes its summary (state,
// progress, heartbeat) every 2 s, and its rows at most every 30 s while
// they change and at every change of state: another instance shows the
// progress of 2 s ago and rows up to 30 s older while the batch runs, and
// every row once it is checked or done. A batch whose instance stopped
// writing shows as interrupted after five minutes. Of two instances
// ordering one batch, one does (compare-and-swap on its summary). Batches
// are deleted after Config.BatchRetention; a batch kept by an older
// console, without a summary, gets one when the upload page first lists
// it. A StoreAudit keeps its entries for the retention given to
// [NewStoreAudit] ([DefaultAuditRetention], 400 days, by default), and the
// entries without a signed-in user (refusals of requests anybody can
// send) in its instance's memory, not in the store.
//
// Pages are rendered on the server (html/template) with one embedded
// stylesheet and one small script, which only refreshes the page's live
// regions when the Service stores a change (server-sent events from
// [fulfillment.Service.Subscribe]; one fetch of the page at a time, so
// an older answer never replaces a newer one, and a browser too slow to
// take every event is told to refresh anyway). With a store that has a
// change feed ([fulfillment.ChangeFeed]: pgstore, MemoryStore) the
// changes another instance sharing it stores come the same way, and when
// the feed restarts after breaking (remote changes may have been missed)
// every open page is told to refresh; with SQLite they do not come
// (reload the page). A user may keep 32 event streams open at once on an
// instance (a tab each; the next gets a stream that ends at once and asks
// the browser to come back in a minute), and a stream whose writes stay
// blocked for two minutes (its browser stopped reading) ends. Everything else works
// without JavaScript. Close Config.Done when the server shuts down: the console
// then unsubscribes and ends the open event streams, which would
// otherwise hold up http.Server.Shutdown until each tab is closed.
//
// # Sign-in and protection
//
// Administrators sign in with OpenID Connect (authorization code with
// PKCE, github.com/coreos/go-oidc and golang.org/x/oauth2): members of
// OIDC.AdminGroup (by the ID token's groups claim) may act, members of
// OIDC.ReadOnlyGroup may look, anybody else is refused. The session is an
// AES-GCM sealed, HttpOnly, SameSite=Lax cookie (Secure unless the
// redirect URL is http on loopback) that expires after Config.SessionTTL.
// The role is read from the groups claim at sign-in only: removing
// somebody from a group takes effect at their next sign-in, at the latest
// Config.SessionTTL later (shorten SessionTTL, or change
// Config.SessionKey to sign everybody out at once). A provider's error
// redirect counts only with the state of the browser's sign-in; it is
// audited with its text cut short and stripped of control characters.
// State-changing requests are POSTs checked by
// net/http.CrossOriginProtection; every response carries a strict
// Content-Security-Policy (no inline script or style, no framing),
// X-Content-Type-Options and Referrer-Policy, and Strict-Transport-Security
// when the redirect URL is https. Every action, refused or
// not, is written to the [AuditLog].
package console
