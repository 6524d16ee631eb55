// Package fulfillment orders, ships, activates and retires pre-enrolled
// YubiKeys for Okta users. It holds the domain of that lifecycle (statuses,
// orders, addresses, directories: no network I/O) and the [Service] that
// runs it against Okta and Yubico.
//
// # Statuses
//
// Each key is in one [Status]: [FulfillmentStarted] (Okta enrolled the
// factor, Yubico is programming or shipping the key), [FulfillmentErrored]
// (a step failed; it can be retried), [Shipped] (Okta activated the
// enrollment and holds the PIN, which may be resent), [Active] (the user
// signed in; the PIN is gone) and the terminal [Deleted]. The zero Status,
// [StatusNone], means nothing is on order. Every change is an [Event]
// applied by [Status.Next] through one transition table; an illegal move
// returns a [*TransitionError] wrapping [ErrInvalidTransition]:
//
//	enroll      none                              → started
//	ship        started                           → shipped
//	sign-in     shipped                           → active
//	resend-pin  shipped                           → shipped
//	fail        started, shipped, errored         → errored
//	retry       errored                           → started
//	delete      started, errored, shipped, active → deleted (terminal)
//
// A user gets a new key only when the current one is Active or Deleted
// ([CanOrder]). [StatusFromOkta] reads Okta's enrollment status (Shipped and
// Active are told apart by profile.presetPinAvailable); unknown values are
// reported, not failed on. Yubico's shipment states (yubico.ShipmentState)
// are read the same way by [Service.Sync].
//
// # Orders and addresses
//
// An [Item] is the key ordered for a user (Yubico's product, inventory
// product and customization IDs, as Okta's initiate-fulfillment-request
// carries them); [Item.Validate] checks it as Okta would.
//
// The recipient and address come from the user's Okta [Profile] (or an HR
// system mapped onto it): [ShippingInfoFromProfile] builds a [ShippingInfo],
// [ShippingInfo.Normalize] puts it in canonical form (trimmed, codes upper
// case, postal codes in their country's format, phones in E.164) and
// [ShippingInfo.Validate] reports every problem at once, per Okta attribute,
// in a [*ValidationError]: required fields (the secondary email for new
// users and for active ones who never signed in), ISO 3166-1 country
// codes, USPS regions for the US and Canada, postal-code formats, phone
// numbers (every country's numbering plan, from Google's libphonenumber
// metadata; [NormalizePhone]), email syntax and Yubico's byte limits.
// Names are shortened as the Okta Workflows template does only when the
// caller asks, with [ShippingInfo.Truncate]. Validation happens before any
// remote call, so a bad address never leaves an orphaned enrollment behind.
//
// # Directories
//
// A [Directory] finds profiles by login. [ReadHRIS] reads a CSV or JSON
// export of Workday or ServiceNow, or a file whose columns are Okta's own
// profile attribute names, through a declared [Mapping] ([WorkdayMapping],
// [ServiceNowMapping], [OktaMapping]); CSV headers match ignoring case. Bad
// rows are reported as [*RowError] values naming the line and the column.
//
// # The Service
//
// [Service] runs the lifecycle against Okta and Yubico. [New] takes an
// *okta.Client, a *yubico.Client, a [Store] ([NewMemoryStore], [OpenSQLite]
// for a program on one machine, or package fulfillment/pgstore for several
// instances sharing PostgreSQL; each also counts its records by status,
// [StatusCounter], for [CountByStatus], and keeps a due index,
// [DueLister], so that a Sync pass reads only the records due) and the
// relying-party IDs. [Service.PrepareUser]
// creates STAGED users or updates existing ones; [Service.Order] and
// [Service.OrderBatch] validate every profile before any call, then send
// Okta's initiate-fulfillment-request (a batch concurrently, within Okta's
// rate limits); [Service.EventHandler] receives Okta's
// system.mfa.preregister.initiate events and records each with
// [Service.RecordEvent], which asks Okta about the user first and rejects
// an event for a user the org does not have or has deactivated
// ([Service.QueuedEventHandler] answers at once and hands them to a queue
// whose workers call RecordEvent; Okta delivers an event at most twice, so
// catch up now and then ([Service.CatchUpFromCheckpoint], which Run calls
// with Config.CatchUpEvery): it records the events of Okta's System Log
// that no delivery brought, and those it did bring change nothing);
// [Service.Sync], or [Service.Run]
// on a schedule and on each new order ([Service.RunWith] also reports each
// pass, for metrics, and adds jitter and a backoff), enrolls, creates the FIDO Pre-reg shipment, polls it,
// activates every credential paired with its enrollment, sends the PIN and
// notices the first sign-in. [Service.Retry], [Service.Delete],
// [Service.ResendPIN] and [Service.Status] do the rest. A process that only
// orders may leave Config.Yubico nil, sharing the Store with the one that
// runs Sync. For a graceful shutdown, [Service.Drain] stops Sync between steps and
// [Service.ReleaseLeases] lets the next instance resume at once what was
// abandoned.
//
// Several instances on one Store share the work: each Sync pass claims the
// records it works on with a compare-and-swap write ([Record.Claim]), so
// the passes of N instances take disjoint records, a record another live
// instance holds is skipped without a remote call, and with
// Config.SyncClaim at least the time between two passes the instance that
// checked a record keeps it while it lives: N instances make the remote
// calls of one. A crashed instance's intents are resumed once their lease
// expires, its other records once its claims do. The store's event mark
// makes deliveries of one Okta event to several instances one order. A
// store that keeps documents ([DocumentStore]; every store of this module
// does) also shares what programs built on the Service keep next to the
// records: the console's batches and audit trail, the catch-up
// checkpoint. A store with a change feed ([ChangeFeed]: MemoryStore and
// pgstore, whose triggers notify over LISTEN/NOTIFY; not SQLite) tells
// every instance what the others store, so that [Service.Subscribe]
// delivers their changes too ([RecordChange.Remote]; the bookkeeping of
// their passes, claims and leases, is not reported) and a console open on
// one instance shows what a pass of another did, with a Resync when
// changes may have been missed (the feed restarted).
//
// Every remote call is recorded in the store before it is sent (intent,
// idempotency key, lease) and after it returns (result), so a program that
// crashed resumes without a second enrollment or shipment; the [Service]
// type's documentation lists the recovery rule of each step (one table,
// steps.go, holds every step with its rule). [Service.Sync] reports every
// record whose step failed in [SyncReport.Failures]. The Service never
// deletes or replaces an enrollment it did not create: a user whose key
// another tool is fulfilling (the Okta Workflows flowpack, which reacts to
// the same order: disable it when using this library) rests at
// [StepManagedElsewhere]. After shipping, the Service reads the shipment
// at most twice a day until it is delivered ([Record.DeliveredAt]). With a
// Yubico API that honours Idempotency-Key (yubicotest does; the real API's
// support is unconfirmed), set [Config.IdempotentShipments]; an
// interrupted create is then resent with its key within
// [Config.IdempotencyWindow] of its intent, and errored for a person after.
//
// # User IDs
//
// [Service.Order] and [Service.OrderBatch] take a user's Okta ID or login
// and ask Okta for the user. [Service.Retry], [Service.Delete],
// [Service.ResendPIN], [Service.Status] and [Service.Check] take the Okta
// ID only (Record.UserID, "00u…"), the key of the user's record in the
// Store: a login finds no record (an error wrapping [ErrRecordNotFound]).
// Use the UserID of the record Order returned, or okta.Client.GetUser to
// read a login's ID. Each of them refuses an ID or login that no store can
// key ([CheckID]: empty, longer than [MaxIDLen], not UTF-8, or holding a
// control character) before any call, with an error matching
// [ErrInvalidID] in which errors.As finds the [*IDError] saying why; for
// Order and OrderBatch that error is a [*ValidationError] for field
// "userId", which wraps the *IDError. The error of [Service.RecordEvent]
// for an event naming such a user, or with such an event ID, is one too.
//
// # Testing
//
// Package fulfillmenttest runs a Service against the fake Okta and the
// fake Yubico on one clock, with simulated keys: a test seeds users,
// orders, advances to a milestone or a status, reads the PIN email, opens
// the parcel and signs in with the key.
package fulfillment
