// Package sdkcompat holds tests that drive the fake Okta org
// (package okta/oktatest) with Okta's official Go SDK,
// github.com/okta/okta-sdk-golang/v5, the way most Go services that talk
// to Okta do. The SDK is a test-only dependency: nothing outside this
// package's tests imports it, so users of the library never build it.
//
// To point the SDK at a fake org in your own tests:
//
//	srv := oktatest.NewServer(t)
//	cfg, err := okta.NewConfiguration(
//		okta.WithOrgUrl(srv.URL()), okta.WithToken(srv.Token()),
//		okta.WithTestingDisableHttpsCheck(true), okta.WithCache(false),
//		okta.WithRateLimitMaxRetries(0))
//	// NewConfiguration keeps only the host name of the org URL; the fake
//	// listens on a loopback port, so set the host with its port:
//	u, _ := url.Parse(srv.URL())
//	cfg.Host = u.Host
//	client := okta.NewAPIClient(cfg)
//
// Keep the SDK's cache off (a cached GET hides the fake's changes). The
// SDK sleeps on the wall clock for a 429's X-Rate-Limit-Reset, which the
// fake computes on its own clock; that clock moves only when the test
// moves it, so a retrying SDK gets 429 until its retries run out. Either
// keep its retries off (okta.WithRateLimitMaxRetries(0)), or start the
// fake with oktatest.WithRealTime() so its clock follows the wall clock,
// and with oktatest.WithRateLimitWindow(time.Second) so the wait is short:
//
//	srv := oktatest.NewServer(t, oktatest.WithRealTime(),
//		oktatest.WithRateLimitWindow(time.Second),
//		oktatest.WithBucketLimit("GET /api/v1/users/{idOrLogin}", 2))
//	// ... okta.WithRateLimitMaxRetries(4), okta.WithRateLimitMaxBackOff(30)
//
// TestSDKRidesOut429InRealTime does that (the SDK waits 1-2 s and every
// call succeeds); TestSDKWithoutRealTimeGets429UntilRetriesRunOut shows
// the same SDK failing without WithRealTime. Both wait on the wall clock
// and are skipped under -short.
package sdkcompat
