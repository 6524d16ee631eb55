// Package fulfillmenttest is a harness for testing a service built on
// package fulfillment without hardware, accounts or network: a [World] is a
// fake Okta org ([oktatest]) and a fake Yubico ([yubicotest]) on one fake
// clock, on loopback, with a [fulfillment.Service] between them and its
// event hook registered at Okta. The fake Okta trusts the attestation of
// the simulated YubiKeys ([simulator]) the fake Yubico's factory programs.
//
// A test starts a World, seeds users, orders, moves the World to a
// milestone or a status, reads the PIN email, opens the parcel, signs in
// with the key and checks the status:
//
//	func TestNewHireOnboarding(t *testing.T) {
//		ctx, w := t.Context(), fulfillmenttest.New(t)
//		hire := w.AddUser(fulfillmenttest.NewHire("ada"))
//		if _, err := w.Service.Order(ctx, hire.Profile.Login); err != nil {
//			t.Fatal(err)
//		}
//		w.AdvanceUntil(ctx, hire.Profile.Login, fulfillment.Shipped)
//		pin, err := w.Okta.PIN(hire.Profile.SecondEmail) // a new hire's PIN goes home
//		if err != nil {
//			t.Fatal(err)
//		}
//		w.SignIn(ctx, hire.Profile.Login, w.Parcel(ctx, hire.Profile.Login), pin)
//		rec := w.AdvanceUntil(ctx, hire.Profile.Login, fulfillment.Active)
//		if !w.Okta.PINWiped(rec.Enrollments[0].ID) {
//			t.Error("Okta still holds the PIN after the first sign-in")
//		}
//	}
//
// A method that cannot do its step fails the test (through the [TB] given
// to [New]) with a message saying where the user's key stopped and why:
// an errored record's reason, a shipment short of a milestone with nothing
// scheduled, a Shipped key waiting for its first sign-in. Outside tests
// (Example functions, programs) pass [LogFatal] instead of t.
//
// # Time
//
// Nothing in a World happens on its own. [World.AdvanceTo] moves the World
// to a [Milestone] of every shipment (Programmed, Shipped, Delivered) and
// [World.AdvanceUntil] to a status of one user's record: both run Sync, as
// [fulfillment.Service.Run] would, after each transition Yubico has
// scheduled (address validation, the daily batch, the carrier's pick-up,
// delivery) and at the records' next checks ([fulfillment.Record.NextCheck]:
// the Service reads Yubico on its own schedule), so a test never computes
// delays. [World.Advance] and
// [World.SetNow] move both clocks without Sync.
//
// The Service's Okta client does not sleep: its waits (a backoff, a 429's
// X-Rate-Limit-Reset) advance the fake Okta's clock, as
// [oktatest.Server.Client] does. The fake Okta has one clock, so one
// worker's wait moves Okta's time for every worker and every user, and
// Okta's clock may then run ahead of the World's (Yubico's, the
// Service's; [World.SetNow] moves Okta's only once the World's time passes
// it): a rate-limit window or a one-hour token can end at Okta sooner, in
// the World's time, than a test expects. A test that must keep both clocks together
// injects no Okta 429s, or gives the client a clock of its own with
// [WithOktaClient] and [okta.WithClock].
//
// # Users
//
// [NewHire] is a STAGED user (Okta emails the PIN to the secondary email),
// [Employee] an ACTIVE one (the primary email), both with a valid shipping
// [Profile]; change fields of the returned [User] to test bad addresses.
// Seed them with [WithUsers] or [World.AddUser]. Methods take a user's
// login or Okta ID.
//
// # The event hook
//
// Unless [WithoutEventHook], the Service's [fulfillment.Service.EventHandler]
// is registered at the fake Okta for system.mfa.preregister.initiate, so an
// order made at Okta (in the Admin Console, or by another tool calling
// initiate-fulfillment-request) reaches the Service: the World's, or the
// test's own built by [WithService]. A handler of one's own
// (see the event hook Example) receives what Okta sends an event hook
// (https://developer.okta.com/docs/concepts/event-hooks/): a POST with the
// headers Authorization (the hook's secret; Config.EventHookSecret for the
// World's hook), Content-Type application/json and User-Agent
// Okta-Integrations, and a body of one event:
//
//	{
//	  "eventType": "com.okta.event_hook",
//	  "eventTypeVersion": "1.0",
//	  "cloudEventsVersion": "0.1",
//	  "source": "<org URL>/api/v1/eventHooks/<hook ID>",
//	  "eventId": "<delivery UUID>",
//	  "eventTime": "2026-03-02T17:00:00.000Z",
//	  "contentType": "application/json",
//	  "data": {"events": [{
//	    "uuid": "<event UUID: the same on every delivery of the event>",
//	    "published": "2026-03-02T17:00:00.000Z",
//	    "eventType": "system.mfa.preregister.initiate",
//	    "displayMessage": "MFA preregistration initiated",
//	    "severity": "INFO",
//	    "target": [
//	      {"id": "<Okta user ID>", "type": "User",
//	       "alternateId": "<login>", "displayName": "<first and last name>"},
//	      {"id": "<Okta user ID>", "type": "PreregistrationMFAFactorResourceDetails",
//	       "alternateId": "webauthn", "displayName": "FIDO2 (WebAuthn)",
//	       "detailEntry": {"fulfillmentProvider": "yubico", "yubicoProductId": "1",
//	         "yubicoInventoryProductId": "106", "yubicoCustomizationId": "RXJN83"}}
//	    ],
//	    "debugContext": {"debugData": {"requestId": "<X-Okta-Request-Id>",
//	      "requestUri": "/webauthn-registration/api/v1/initiate-fulfillment-request",
//	      "fulfillmentProvider": "yubico", "yubicoProductId": "1",
//	      "yubicoInventoryProductId": "106", "yubicoCustomizationId": "RXJN83"}},
//	    "actor": {...}, "outcome": {"result": "SUCCESS"}, "transaction": {...}
//	  }]}
//	}
//
// The Service's handler takes the user from the "User" target and the item
// from the detail entries (the names Okta Workflows exposes; Okta does not
// publish the event's raw JSON), reads the user from Okta (an event for a
// user the org does not have, or has deactivated, is rejected and
// recorded nowhere) and answers 200 once the order is recorded. As Okta
// does, the fake delivers asynchronously: the request that caused an event
// has its answer first, and the hook gets the event in the background, so
// a test waits for it with [World.AwaitEvents] ([World.Sync] and
// [World.Status] already do) or [oktatest.Server.AwaitDeliveries]. Every
// delivery is recorded with the handler's status
// ([oktatest.Server.Deliveries]).
//
// # Stores
//
// [RunStoreConformance] is the suite every [fulfillment.Store] of this
// module passes (memory, SQLite, PostgreSQL): round trips, the
// compare-and-swap of Put under concurrency, lease hand-over, event
// de-duplication, List's order and paging, the due index, and the
// documents of a [fulfillment.DocumentStore] (skipped for a store that is
// not one). Run it against a store of your own; [SampleRecord] is a record
// with every field set.
// [CheckConcurrentUpdates] runs its compare-and-swap check across several
// instances of a store that share one database. A store that adds a due
// index ([fulfillment.DueLister]) to an existing schema tests its
// migration with [DueMigrationRecords], written at the old version, and
// [CheckDueMigration] on the migrated store.
package fulfillmenttest
