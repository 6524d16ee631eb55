// Package oktatest is a fake Okta org on loopback for tests: a real HTTP
// server (httptest inside) that speaks the wire protocol of the parts of
// Okta package okta uses, so the production [okta.Client] is exercised end
// to end.
//
// # What it serves
//
//   - users: POST /api/v1/users?activate=false (STAGED; type: {id}), GET
//     /api/v1/users (search, filter and q expressions, limit and after
//     with Link rel="self" and rel="next"), GET and partial POST
//     /api/v1/users/{id|login}, DELETE /api/v1/users/{id} (the first call
//     deactivates, the second deletes), and the lifecycle operations
//     activate, reactivate, deactivate, suspend, unsuspend, unlock and
//     reset_factors, with Okta's rules on the statuses each starts from;
//   - groups: POST and GET /api/v1/groups (q, search, filter, limit,
//     after), GET /api/v1/groups/{gid}, PUT and DELETE
//     /api/v1/groups/{gid}/users/{uid}, GET /api/v1/groups/{gid}/users
//     (limit default 1000, Link rel="next");
//   - WebAuthn preregistration (/webauthn-registration/api/v1): all seven
//     operations, with real JWE/JWS envelopes and attestation verification
//     from package webauthn;
//   - the classic Authn API for a WebAuthn factor (/api/v1/authn and
//     /api/v1/authn/factors/{id}/verify), verified with package webauthn;
//   - event hooks: the Event Hooks API (/api/v1/eventHooks: list, create,
//     get, replace, delete, lifecycle activate, deactivate and verify),
//     verification by calling the hook's URL, and deliveries (see below);
//   - the System Log, GET /api/v1/logs, over every event the fake emitted
//     (see "System Log" below);
//   - /.well-known/openid-configuration (the org authorization server's
//     metadata: issuer, endpoints, S256 PKCE, RS256 ID tokens);
//   - OpenID Connect sign-in for apps registered with [Server.AddOIDCApp]
//     (see below): GET /oauth2/v1/authorize with a sign-in page, the
//     authorization_code grant at /oauth2/v1/token, /oauth2/v1/keys,
//     /oauth2/v1/userinfo and /oauth2/v1/logout;
//   - the org authorization server's token endpoint, POST /oauth2/v1/token,
//     for service apps registered with [Server.AddServiceApp]:
//     client_credentials with a private_key_jwt assertion verified against
//     the app's keys (aud, exp, iat, single-use jti), granted scopes,
//     one-hour tokens on the fake clock, and DPoP (proof checks, the
//     use_dpop_nonce challenge with DPoP-Nonce, daily nonce renewal,
//     tokens bound by cnf.jkt).
//
// Status codes, error bodies (errorCode, errorSummary, errorLink, errorId,
// errorCauses), IDs (00u…, 00g…, fwf…) and headers (X-Okta-Request-Id,
// Date, X-Rate-Limit-Limit/Remaining/Reset) follow Okta's documentation as
// summarized, with sources, in docs/okta.md.
// API calls need "Authorization: SSWS <token>" or "Bearer <token>", or, with
// a token from /oauth2/v1/token, "Bearer <token>" or "DPoP <token>" plus a
// valid DPoP proof; anything else is 401 E0000011 (with a WWW-Authenticate
// challenge for OAuth tokens). Each route needs an Okta scope (for example
// okta.users.manage to create a user, okta.groups.read to list members); a
// token without it gets 403 E0000006. A POST or PUT without Content-Length
// and body is 411.
//
// # Controlling and observing it
//
// Seed with [Server.AddUser], [Server.SetLastLogin] (a user who has signed
// in before), [Server.AddUserType], [Server.AddGroup], [Server.AddToGroup],
// [Server.AddToken], [Server.AddServiceApp], [Server.AddOIDCApp] and
// [Server.AddEventHook]; sign a user in to an OIDC app without a browser
// with [Server.SignIn]; get
// a client authenticated as a service app with [Server.OAuthClient], and
// steer OAuth with [Server.RevokeServiceAppTokens], [Server.RotateDPoPNonce]
// and [Server.RequireDPoPNonceForAPI]; inspect with [Server.Users],
// [Server.Enrollments], [Server.Enrollment], [Server.Events],
// [Server.TokenCounts], [Server.Outbox] (the users' mailboxes, PIN emails
// included; [Server.PIN] reads the PIN out of the newest PIN email to an
// address), [Server.Deliveries] and [Server.RequestLog] (every request;
// [WithRequestLogLimit] keeps only the most recent ones, for long runs).
// Time is a fake clock that only moves forward
// ([Server.SetNow], [Server.Advance]; moving it back is refused with
// [ErrClockBackwards]); with [WithRealTime] it follows the wall clock, for
// clients you cannot give a clock to (an SDK that waits for
// X-Rate-Limit-Reset). Requests are counted per Okta's rate-limit buckets
// (GET /api/v1/users/{id} apart from create and list, and so on; the table
// is shared with the okta client), configurable with [WithBucketLimit] and
// [WithRateLimit]. HTTP faults are queued with [Server.InjectHTTPFault],
// [Server.FailNext] and [Server.DropNext] (a status, added latency, a
// dropped connection, or a response dropped after the request took
// effect), added to every request with [Server.SetLatency], or injected at
// a rate on every endpoint with a seeded [HTTPFaultPlan]
// ([WithHTTPFaultPlan], [Server.SetHTTPFaultPlan],
// [Server.HTTPFaultCounts]); the kinds, plans and rules are those of
// package httpfault. A rule or plan whose method and path prefix reach no
// route of the fake is refused; [Server.HTTPFaultRuleCounts] tells how
// often each rule fired. yubicotest is driven with the same methods and types. A request the client gives up on during added latency is not
// handled.
//
// # Preregistration semantics (the project's decisions)
//
// Okta does not document these; docs/decisions.md lists each choice.
//
// enroll creates one enrollment per RP ID (FULFILLMENT_PENDING), each with
// its own P-384 response key, and seals the credential requests and the PIN
// request to the given transport key; the PIN request names the first
// enrollment's key as its response key (each response's content type says
// what it holds, and activate checks it). activate opens the responses with
// those keys, checks Yubico's signatures with yubicoSigningJwks, refuses a
// response sealed for another user or enrollment, verifies each
// attestation against the trust roots (by default the root of
// simulator.DefaultFIDOCA(), which simulated keys and the fake Yubico's
// keys attest under; replace them with [WithAttestationRoots]), and
// stores the credentials and the PIN (AES-GCM encrypted at rest): status
// ACTIVE, presetPinAvailable true. send-pin emails the PIN (the secondary
// email for STAGED users, the primary one otherwise). The first successful
// sign-in flips presetPinAvailable to false and wipes the PIN; send-pin is
// refused afterwards. A user has at most one key in fulfillment
// (FULFILLMENT_PENDING or FULFILLMENT_ERRORED): a second enroll or
// initiate-fulfillment-request is 400 E0000001 with a cause. When activate
// refuses a response, the body carries Okta's generic cause ("There was an
// unexpected internal error") followed by the fake's explanation, prefixed
// "oktatest: ", so the client's error says why.
//
// initiate-fulfillment-request emits system.mfa.preregister.initiate to
// the callback given with [WithEventCallback] (before the response) and to
// event hooks (after the response, as Okta delivers asynchronously).
//
// # Event hooks
//
// A hook is created ACTIVE and UNVERIFIED (through the API or
// [Server.AddEventHook], which also verifies it). Verify calls the hook's
// URL with a GET carrying X-Okta-Verification-Challenge (and the hook's
// auth and custom headers), which must be answered with
// {"verification": "<challenge>"} within the hook timeout (3 s, Okta's;
// [WithHookTimeout]); one more try follows any failure, then the verify
// call answers 400. Events go only to ACTIVE and VERIFIED hooks subscribed
// to their type, one POST of Okta's envelope per event with the hook's
// auth and custom headers. Delivery is asynchronous, as Okta's is: the
// request that caused an event gets its answer without waiting for any
// hook, and each hook's deliveries run in the background, one at a time in
// the order the events were emitted (so a hook may call the org's API
// while it handles a delivery). A timeout, a failed connection or a 5xx
// gets one retry with the same body, a 4xx none. Every attempt is a
// [Delivery] ([Server.Deliveries]); a test that needs a delivery waits for
// it with [Server.AwaitDeliveries] (n attempts) or
// [Server.AwaitQueuedDeliveries] (everything emitted so far), never with a
// sleep. [Server.Close] waits for the queued deliveries. At most 25 hooks are ACTIVE; only INACTIVE ones
// can be deleted. docs/decisions.md §Okta event hooks lists what Okta does
// not document and the fake chose.
//
// # System Log
//
// GET /api/v1/logs (scope okta.logs.read) lists the events of
// [Server.Events], each rendered as event hooks deliver it, whether a hook
// received it, failed to, or none was subscribed. since (inclusive; default
// 7 days before until) and until (exclusive) take RFC 3339 times with or
// without a fraction; limit is 1 to 1000 (default 100, capped by
// [WithMaxPageSize]); sortOrder is ASCENDING (default) or DESCENDING;
// after is the opaque cursor of a Link rel="next". A query without until
// and ASCENDING is a polling query: every page has a next link, an empty
// one too, and a later page holds the events emitted since. Otherwise the
// last page has no next link. Events older than 90 days are left out, and
// a since more than 180 days back is 400 E0000053, as Okta documents. A bad
// since, until, limit, sortOrder or after is 400 E0000001 naming it.
//
// filter takes only eventType eq "<type>", alone or joined with or; any
// other expression is 400 E0000031 saying so. q (keyword search) is 400:
// the fake does not support it. Okta filters a polling query by when each
// event was stored, not published, and may return its events out of
// published order (a bounded query may miss events stored late); in the
// fake an event is stored when published, so neither happens.
// docs/decisions.md §Okta System Log in the fake lists these choices.
//
// # OpenID Connect sign-in
//
// An app registered with [Server.AddOIDCApp] signs users in with the
// authorization code flow of the org authorization server, as a web app
// does against Okta (docs/okta.md §OIDC sign-in): discovery at
// /.well-known/openid-configuration, GET /oauth2/v1/authorize (client_id,
// response_type=code, an exactly registered redirect_uri, scope with
// openid and any of profile, email, groups, state, optional nonce and
// login_hint, code_challenge with code_challenge_method=S256, required
// when the app requires PKCE), then POST /oauth2/v1/token with
// grant_type=authorization_code, the code, the same redirect_uri, the
// code_verifier and the client's secret (client_secret_basic or
// client_secret_post; a public client sends only client_id). A code is
// good once, for [CodeLifetime] (300 s) on the fake clock; a second use
// also revokes the access token the first one got. The answer holds an
// RS256 ID token whose kid is in /oauth2/v1/keys (iss, sub = the user ID,
// aud = the client ID, iat, exp one hour later, auth_time, nonce, at_hash;
// name, preferred_username = login, given_name, family_name with profile;
// email with email; groups, the names of the user's groups the app's
// GroupsFilter matches, with groups), and an opaque access token good for
// /oauth2/v1/userinfo only. /oauth2/v1/logout takes id_token_hint and an
// optional registered post_logout_redirect_uri and state; the fake keeps no
// sessions, so every authorize shows the sign-in page.
//
// The sign-in page is plain HTML without JavaScript, for browser tests
// (chromedp and the like):
//
//   - form#signin posts (application/x-www-form-urlencoded) to
//     /login/signin ([SignInPath]) with the fields "txn" (hidden, names
//     this sign-in) and "login";
//   - input#login (name "login") takes the user's Okta login, matched
//     without regard to case and prefilled from login_hint; there is no
//     password field: the fake's users have no passwords;
//   - button#submit signs in; button#cancel (name "cancel") goes back to
//     the app with error=access_denied;
//   - p#error (role="alert") shows why the last try failed ("Unable to sign
//     in." for an unknown login or a user who is not ACTIVE: the request
//     log's Detail says which; "Enter your username." for an empty one),
//     p#app names the app, p#message confirms a sign-out.
//
// The login of an ACTIVE user redirects (303) to the redirect_uri with
// code and state and sets the user's lastLogin; any other login shows the
// page again with status 401, and it may be submitted again for an hour
// of fake time. A POST a browser marks as cross-origin (Sec-Fetch-Site,
// Origin) is refused with 403. An unknown client_id or unregistered
// redirect_uri gets an error page (400) rather than a redirect; other
// request errors go back to the app as error and error_description. The
// page has a Content-Security-Policy without scripts, is never cached and
// cannot be framed. Everything a request brings (login, login_hint) is
// HTML-escaped.
//
// # Okta's Go SDK
//
// okta-sdk-golang v5 works against the fake (this repository's
// internal/sdkcompat tests drive users, lifecycle, groups, pagination and
// 429s through it). Configure it with WithOrgUrl(srv.URL()),
// WithToken(srv.Token()), WithTestingDisableHttpsCheck(true) and
// WithCache(false), then set the configuration's Host to the URL's host
// with its port (NewConfiguration keeps the host name only). The SDK
// sleeps on the wall clock for a 429's X-Rate-Limit-Reset, which the fake
// computes on its own clock; on the default clock, which only the test
// moves, every retry gets 429 again. Keep the SDK's retries off, or start
// the fake with [WithRealTime] (and a short [WithRateLimitWindow], e.g. a
// second) so the SDK's wait resets the window as it would against Okta.
package oktatest
