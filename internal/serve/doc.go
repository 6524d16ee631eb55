// Package serve is the runtime of `preenroll serve`, the long-running
// service an IT team deploys: it receives Okta's event hook
// (system.mfa.preregister.initiate) and hands each event to a bounded queue
// whose workers record the order once Okta confirms the user, runs
// fulfillment's Sync on a schedule with jitter (and at once after an
// order), exposes /healthz, /readyz and Prometheus /metrics, logs JSON with
// a request ID, and shuts down gracefully on its context's end. It speaks
// plain HTTP for a TLS-terminating proxy in front, or, given a
// certificate and key file ([Config].TLSCertFile), https itself (TLS 1.2
// at least, HTTP/2), reloading the pair when a renewal rewrites the files.
//
// It mounts the administrators' web console (package console) at "/" when
// an Okta OIDC app is configured for it ([Config].Console): the hook path,
// /healthz, /readyz, /metrics and the status page /status keep their
// paths, and the console's requests get the same request IDs and log
// lines. Without an app it logs why the console is off and serves the
// status page at "/".
//
// With no Okta org configured it runs the embedded demo: in-process fakes
// of Okta and Yubico with simulated keys, seeded users and a fast fake
// clock, with serve's own hook registered at the fake org, and the console
// signed in through an OIDC app of the fake org by a seeded administrator
// (admin@example.com, in the group preenroll-admins). The fake clock
// moves in ticks; a console sign-in holds it still from /auth/login until
// its callback is answered (at most two minutes of wall time), so the
// login state, the authorization code and the ID token's times, all on the
// fake clock, are checked at one instant; the console's sessions last
// eight hours of wall time.
//
// # Event hook deliveries
//
// Okta waits at most 3 s for an answer and delivers an event again only
// after a timeout or an error. serve answers a delivery as soon as its
// events are queued (never after asking Okta or writing the store): 200 when
// queued, 503 with Retry-After when the queue cannot take the whole
// delivery or serve is shutting down (Okta delivers once more), 401 for a
// wrong Authorization header. Events already queued are not queued twice;
// the store de-duplicates redeliveries by event ID. A queued event is
// recorded by fulfillment's RecordEvent, which first reads the user from
// Okta: an event for a user the org does not have (or names by login, or
// has deactivated) is rejected with a logged reason and counted
// (preenroll_hook_events_total{outcome="rejected"}) and creates no work.
// A failure to reach Okta or the store is tried again (1 s, 4 s, 15 s);
// an accepted event that still cannot be recorded, or is still queued
// at the shutdown deadline, is logged at error level with its ID and
// counted as failed or abandoned: Okta will not deliver it again.
package serve
