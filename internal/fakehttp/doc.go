// Package fakehttp is the machinery the fakes okta/oktatest and
// yubico/yubicotest share, so that both behave and are driven alike:
//
//   - [Faults]: HTTP faults queued for the next matching requests ([httpfault.Rule])
//     or drawn at a seeded rate ([httpfault.Plan]), plus added latency;
//   - [Limiter]: fixed-window rate-limit buckets, with the choice of
//     bucket left to the fake (a func from request to bucket);
//   - [Clock]: a fake clock that never moves backwards, manual or
//     following the wall clock (real-time mode);
//   - [Settings]: the options both fakes take alike (WithNow,
//     WithRealTime, WithRand, WithHTTPFaultPlan), each fake's option a
//     one-line adapter ([Adapt]);
//   - small helpers: [DropConnection], [Wait], [LockedReader] and
//     [NewSeededReader] (a seeded ChaCha8 stream for the fakes and test
//     worlds), [Log] (the request log), [ReadBody] (a bounded request
//     body, read into a buffer sized from Content-Length).
//
// The fault vocabulary users name (kinds, plans, rules) is the public
// package httpfault. How a fault looks on the wire (error body, rate-limit
// headers) stays in each fake: this package decides what happens, the
// fake says it in its vendor's words.
package fakehttp
