// Package preenroll orders, ships, activates and retires pre-enrolled
// YubiKeys for users of Okta, and simulates every party of that lifecycle so
// that it runs in a unit test without hardware, accounts or network.
//
// This package holds no code; it is the map. Start with package fulfillment,
// and with package fulfillment/fulfillmenttest to test a service of your own.
//
// # The lifecycle
//
//  1. An administrator prepares a user in Okta: a new user is created STAGED
//     with a secondary email, an existing user stays ACTIVE. The shipping
//     address lives in the Okta profile (or comes from an HRIS export).
//  2. A key is ordered for the user (or a batch of users): Okta's
//     initiate-fulfillment-request names the product, inventory and
//     customization IDs and emits the event system.mfa.preregister.initiate.
//  3. The fulfillment flow calls Okta's enroll with Yubico's P-384 transport
//     key, receives an encrypted PIN request and one encrypted credential
//     request per relying-party ID, and creates a FIDO Pre-reg shipment at
//     Yubico. Status: FulfillmentStarted.
//  4. Yubico validates the address, programs a key at its facility (a FIDO2
//     credential for each RP ID, a random PIN with force-PIN-change), encrypts
//     the responses to Okta's keys and ships the key.
//  5. When the shipment has shipped, the flow calls Okta's activate with the
//     key's serial, firmware and the encrypted responses, then send-pin: Okta
//     emails the PIN. Status: Shipped.
//  6. The user signs in with the key, changing the PIN on first use. Okta
//     wipes the PIN it held. Status: Active.
//  7. Any failure marks the enrollment errored (FulfillmentErrored); an
//     administrator retries it from the point of failure (Service.Retry,
//     preenroll retry). Deleting an order cancels the shipment and the
//     enrollment (Deleted).
//
// # Packages
//
//   - [github.com/preenroll/preenroll/fulfillment]: the domain (statuses and
//     their transition table, orders, shipping-address validation, HRIS
//     exports) and the Service that runs the lifecycle for one user or a batch.
//     [github.com/preenroll/preenroll/fulfillment/fulfillmenttest] is the test
//     harness for a service of your own: both fakes on one clock with a
//     Service between them, simulated keys, milestones, the PIN email and the
//     first sign-in. [github.com/preenroll/preenroll/fulfillment/pgstore] is
//     a Store in PostgreSQL that several instances share.
//   - [github.com/preenroll/preenroll/console]: the administrator's web
//     console over a Service (an http.Handler with OIDC sign-in).
//   - [github.com/preenroll/preenroll/okta]: a client for Okta's users, groups,
//     WebAuthn preregistration and Authn APIs.
//     [github.com/preenroll/preenroll/okta/oktatest] is a fake Okta org on
//     loopback that speaks the same wire protocol.
//   - [github.com/preenroll/preenroll/yubico]: a client for the YubiEnterprise
//     Delivery API and FIDO Pre-reg shipments.
//     [github.com/preenroll/preenroll/yubico/yubicotest] is a fake Yubico with
//     a factory that programs simulated keys.
//   - [github.com/preenroll/preenroll/webauthn]: relying-party verification on
//     go-webauthn and the encrypted pre-registration envelope (JWE/JWS).
//   - [github.com/preenroll/preenroll/simulator]: a software YubiKey 5 (FIDO2
//     CTAP2.1, PIV, management) behind ISO 7816 APDUs, a Platform that plays
//     the browser, and a vpcd bridge for real PC/SC clients.
//   - [github.com/preenroll/preenroll/httpfault]: the HTTP faults both fakes
//     inject (kinds, seeded plans, rules).
//
// The command-line program is cmd/preenroll (order, batch, status, retry,
// delete, resend-pin, check, sync, serve, demo). Runnable programs live under examples/;
// examples/lifecycle runs the whole story against the fakes, and
// examples/embed mounts the Service in a server of your own.
package preenroll
