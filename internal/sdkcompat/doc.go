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
// Keep the SDK's cache off (a cached GET hides the fake's changes) and its
// 429 retries off or bounded: the SDK sleeps in real time for the
// X-Rate-Limit-Reset the fake computes on its own clock.
package sdkcompat
