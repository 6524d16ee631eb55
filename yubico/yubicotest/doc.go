// Package yubicotest is a fake Yubico for tests and examples: a real HTTP
// server on loopback that speaks the YubiEnterprise Delivery API wire
// protocol of package yubico, with an organisation's inventory, address
// validation, shipment states driven by a controllable clock, and a factory
// that programs simulated YubiKeys (package simulator) from encrypted FIDO
// Pre-reg requests (package webauthn).
//
// # Start
//
// In a test, [NewServer] starts a server and registers its Close with
// t.Cleanup; elsewhere (Example functions, programs) use [Start] and
// [Server.Close]. [Server.Client] returns a production *yubico.Client pointed
// at the fake with a valid token (and at the console host for the JWKS).
//
// The fake listens on two loopback hosts, as Yubico serves two: the API
// host ([Server.URL], standing for https://api.console.yubico.com/v1) and
// the console host ([Server.ConsoleURL], standing for
// https://console.yubico.com), which serves the public JWKS at
// /.well-known/yubico-transport-keys.jwks and /.well-known/yubico-sign.jwks,
// where Yubico documents them. The API host does not serve them.
//
// # What it reproduces
//
// The documented behaviour of docs/yubico.md, and our choices where Yubico
// publishes nothing (docs/decisions.md): bearer-token auth (401 otherwise),
// /v1/shipments_exact create/get/list/search/update/delete,
// /v1/fpr/shipments create/get/cancel, inventory, shippable keys, products,
// countries, validate-address, and the public JWKS on the console host.
// Requests are validated as the service does: required fields, the newest
// length limits counted in bytes ([Limits]), region required for US and CA,
// the organisation's country allow-list, at most 500 items per shipment, one
// key (product_quantity 1) per FIDO Pre-reg shipment with a customization_id,
// products that map to the named inventory bucket. A rejected request gets a
// 400 with the body
//
//	{"error_code":"validation_failed","message":"...","details":[{"field":"city","description":"required"}]}
//
// An unknown shipment ID gets 400 error_code "invalid_shipment_id"; editing
// or cancelling a shipment past state 9 gets 409 error_code
// "shipment_not_editable"; an unknown route gets 404 naming the method and
// path.
//
// A page of GET /v1/shipments_exact costs in proportion to the page, not to
// the number of shipments; with a search, one pass over the shipments'
// fields (nothing copied) counts the matches. A test can page through
// thousands of shipments. Cancelling (deleting) a shipment costs O(log n),
// not a pass over the others.
//
// # Time
//
// Nothing happens on its own: the fake's clock moves only forward, with
// [Server.Advance] and [Server.SetNow], which run every transition that falls
// due, in time order, before returning (moving it back is refused with
// [ErrClockBackwards]). With [WithRealTime] the clock also follows the wall
// clock, and the transitions due run when the fake is next asked. Address validation runs every 15
// minutes (a shipment in state 3 is checked at the first tick after its
// creation: undeliverable addresses go to 7 unless address_validation_bypass,
// denied parties to 9); the fulfillment batch runs daily at 03:00
// America/Los_Angeles (inventory is drawn for its shipments in creation
// order, whenever each was validated; insufficient inventory goes to 8,
// the rest to 10, and FIDO Pre-reg keys are programmed); shipping (103) and
// delivery (104) follow after configurable delays. [Timing] holds all of it.
// [Server.NextTransition] tells when the next of these is due, so a test can
// step from one to the next without computing delays; [Server.Lagging]
// finds a shipment that has not yet reached a state. The shipments' next
// transitions are kept in time order, so moving the clock costs in
// proportion to the transitions that fall due (times log n), not to the
// number of shipments: a test can step thousands of shipments through
// their lifecycle.
//
// # The factory
//
// Each FIDO Pre-reg request is opened with the fake's transport keyring when
// the shipment is created (the fake keeps the opened requests, a few hundred
// bytes, not their compact JWEs; concurrent creates open theirs in
// parallel, outside the fake's lock); at the batch a simulator.Key of the ordered model gets the next serial, a random
// PIN (8 digits by default, trivial PINs rejected) with force-PIN-change, and
// one credential per credential request, made through its FIDO2 applet. The
// credential and PIN responses are signed with the fake's signing key and
// sealed to the requester's response keys, and the PIN and requests are
// purged. From state 103 on, GET /v1/fpr/shipments/{id} carries them, and
// [Server.Parcel] hands the test the programmed key. A request that does not
// open (wrong key) or has expired by the batch sends the shipment to 99 with
// a message at the batch, not at create.
//
// # Idempotency keys
//
// Both create routes honour the Idempotency-Key request header (see
// yubico.IdempotencyKeyHeader; the real API's support is UNCONFIRMED, so this
// is our model, after the IETF HTTPAPI draft). Keys belong to the
// organisation (every token of a Server shares them; two Servers are two
// organisations) and are remembered for [IdempotencyTTL] of the fake's clock
// ([WithIdempotencyTTL] sets another) after the create that first used them.
// A create is judged as of its arrival on the fake's clock (the time the
// request log shows), not of its handling: a request that an injected
// latency holds while a test moves the clock past the TTL still finds a
// key it arrived within the TTL of, as it would at a service whose latency
// is seconds against a day, and a key is forgotten only once no request in
// flight could still find it. The shipment a create makes, and the key's
// TTL with it, still date from its handling, since the lifecycle has
// already run up to the clock's time. A create with a remembered key and
// the same body (compared as decoded JSON) creates nothing: it gets 200, the
// header Idempotent-Replayed: true and the shipment's current view (the
// first response if the shipment was cancelled since). The same key with a
// different body, or on the other create route, gets 422 error_code
// "idempotency_key_reused" naming the key. Only successful creates are
// remembered. A present but empty or malformed header gets 400
// validation_failed. [Request.IdempotencyKey] and [Request.Replayed] show it
// in the request log ([Server.RequestLog]: every request;
// [WithRequestLogLimit] keeps only the most recent ones, for long runs).
//
// # Faults
//
// A shipment's fate is a [ShipmentFault]: [Server.InjectShipmentFault] and
// [Server.InjectShipmentFaultNext] force a shipment into an error state at
// the matching step. HTTP faults are driven as in oktatest, with the same
// types (those of package httpfault): [Server.InjectHTTPFault], [Server.FailNext], [Server.DropNext] and
// [Server.SetLatency] disturb the next HTTP requests (a request the client
// gave up on during added latency is still handled, as a slow service
// does);
// [Server.DropResponseAfterCommit] lets the next creates take effect but
// closes their connections without a response. An [HTTPFaultPlan]
// ([WithHTTPFaultPlan], [Server.SetHTTPFaultPlan], [Server.HTTPFaultCounts])
// injects 429s, 500/502/503s, latency, dropped connections and responses
// dropped after the request took effect at a seeded rate on every route.
// A rule or plan whose method and path prefix reach no route of the fake
// (its paths begin with /v1, which a yubico.APIError leaves out) is
// refused; [Server.HTTPFaultRuleCounts] tells how often each rule fired.
package yubicotest
