package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/yubico"
)

// Vendors, the value of the vendor label.
const (
	vendorOkta   = "okta"
	vendorYubico = "yubico"
)

// metrics holds every collector serve exports, on its own registry (the
// Go and process collectors included), so two Runs in one process (tests)
// do not collide.
type metrics struct {
	reg *prometheus.Registry

	keys          *prometheus.GaugeVec     // status
	orders        prometheus.Counter       // orders recorded from events
	remote        *prometheus.CounterVec   // vendor, endpoint, outcome
	remoteLatency *prometheus.HistogramVec // vendor, endpoint
	waits         *prometheus.CounterVec   // vendor
	waitSeconds   *prometheus.CounterVec   // vendor
	lastSuccess   *prometheus.GaugeVec     // vendor
	syncDuration  prometheus.Histogram
	syncPasses    *prometheus.CounterVec // result
	syncRecords   *prometheus.CounterVec // result
	deliveries    *prometheus.CounterVec // outcome
	events        *prometheus.CounterVec // outcome
	catchUps      *prometheus.CounterVec // result
	catchUpEvents *prometheus.CounterVec // outcome
	catchUpLast   prometheus.Gauge
	queueLength   prometheus.GaugeFunc

	mu   sync.Mutex
	seen map[string]time.Time // vendor → last response that was not a 5xx or a transport error
	// refused: vendor → why its answer to the authenticated request sent
	// last (of those answered) refused the credentials ("" or absent: it
	// took them); decidedBy: vendor → that request's number (sent).
	refused   map[string]string
	decidedBy map[string]uint64
	// sent numbers the authenticated requests in the order they are sent.
	sent atomic.Uint64
}

func newMetrics(queueLen func() float64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), seen: map[string]time.Time{}, refused: map[string]string{}, decidedBy: map[string]uint64{}}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.keys = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "preenroll_keys",
		Help: "Keys in the store by status (counted after every Sync pass that read the store)."}, []string{"status"})
	m.orders = prometheus.NewCounter(prometheus.CounterOpts{Name: "preenroll_orders_total",
		Help: "Orders recorded from Okta events (system.mfa.preregister.initiate)."})
	m.remote = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_remote_requests_total",
		Help: "HTTP requests to Okta and Yubico by endpoint (route template) and outcome (ok, client_error, rate_limited, server_error, transport_error)."},
		[]string{"vendor", "endpoint", "outcome"})
	m.remoteLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "preenroll_remote_request_duration_seconds",
		Help:    "Latency of HTTP requests to Okta and Yubico by endpoint (route template).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"vendor", "endpoint"})
	m.waits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_remote_waits_total",
		Help: "Waits of the Okta and Yubico clients before a request (rate-limit resets, Retry-After, backoff)."}, []string{"vendor"})
	m.waitSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_remote_wait_seconds_total",
		Help: "Seconds the Okta and Yubico clients waited before requests (rate-limit resets, Retry-After, backoff)."}, []string{"vendor"})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "preenroll_remote_last_success_timestamp_seconds",
		Help: "Unix time of the last answer from the vendor that was not a 5xx or a transport error."}, []string{"vendor"})
	m.syncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "preenroll_sync_pass_duration_seconds",
		Help: "Duration of Sync passes.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 10)})
	m.syncPasses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_sync_passes_total",
		Help: "Sync passes by result (ok, error, draining)."}, []string{"result"})
	m.syncRecords = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_sync_records_total",
		Help: "Records of Sync passes by result (checked, advanced, shipped, active, errored, failed, busy, not_due)."}, []string{"result"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_hook_deliveries_total",
		Help: "Okta event hook requests by outcome (" + strings.Join(deliveryOutcomes, ", ") + ")."},
		[]string{"outcome"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_hook_events_total",
		Help: "Okta events taken from the queue by outcome (" + strings.Join(eventOutcomes, ", ") + ")."},
		[]string{"outcome"})
	m.catchUps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_catch_up_passes_total",
		Help: "Catch-ups from Okta's System Log by result (ok, error)."}, []string{"result"})
	m.catchUpEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preenroll_catch_up_events_total",
		Help: "Events the catch-ups read from Okta's System Log by outcome (" + strings.Join(catchUpOutcomes, ", ") +
			"); recorded: an order whose event hook delivery never arrived."}, []string{"outcome"})
	m.catchUpLast = prometheus.NewGauge(prometheus.GaugeOpts{Name: "preenroll_catch_up_last_success_timestamp_seconds",
		Help: "Unix time (this instance's clock) of the last catch-up from Okta's System Log that succeeded (0: none yet)."})
	m.queueLength = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preenroll_hook_queue_length",
		Help: "Okta events accepted and not yet recorded."}, queueLen)
	for _, c := range []prometheus.Collector{m.keys, m.orders, m.remote, m.remoteLatency, m.waits, m.waitSeconds,
		m.lastSuccess, m.syncDuration, m.syncPasses, m.syncRecords, m.deliveries, m.events, m.catchUps, m.catchUpEvents, m.catchUpLast, m.queueLength} {
		f(c)
	}
	// Every status is present from the start (0 until counted).
	for _, st := range fulfillment.Statuses() {
		m.keys.WithLabelValues(string(st)).Set(0)
	}
	// So are the counters' fixed label values: an alert on
	// increase(preenroll_hook_deliveries_total{outcome="unauthorized"}[5m])
	// sees 0, not an absent series, until the first one.
	for _, o := range deliveryOutcomes {
		m.deliveries.WithLabelValues(o)
	}
	for _, o := range eventOutcomes {
		m.events.WithLabelValues(o)
	}
	for _, o := range catchUpOutcomes {
		m.catchUpEvents.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "error"} {
		m.catchUps.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error", "draining"} {
		m.syncPasses.WithLabelValues(r)
	}
	for _, v := range []string{vendorOkta, vendorYubico} {
		m.waits.WithLabelValues(v)
		m.waitSeconds.WithLabelValues(v)
	}
	return m
}

// expect exports the vendor's last success at 0 (none yet) until its first
// answer: serve talks to that vendor, and an alert on the time since the
// last success fires also when it never answered.
func (m *metrics) expect(vendor string) { m.lastSuccess.WithLabelValues(vendor) }

// watchCertificate exports when the certificate serve answers https with
// expires (preenroll_tls_certificate_expiry_timestamp_seconds), as
// notAfter reports it at each scrape: an alert on it sees a renewal that
// was not picked up.
func (m *metrics) watchCertificate(notAfter func() time.Time) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preenroll_tls_certificate_expiry_timestamp_seconds",
		Help: "When the certificate serve answers https with expires (-tls-cert-file; reloaded when the file changes)."},
		func() float64 { return float64(notAfter().Unix()) }))
}

// deliveryOutcomes are the outcome label's values of
// preenroll_hook_deliveries_total.
var deliveryOutcomes = []string{"accepted", "duplicate", "ignored", "verification", "unauthorized", "invalid", "overloaded", "error"}

// eventOutcomes are the outcome label's values of
// preenroll_hook_events_total: fulfillment.EventOutcome's names, and
// "abandoned" (shutdown came before the event could be recorded).
var eventOutcomes = []string{"recorded", "duplicate", "in-flight", "rejected", "stale", "failed", "abandoned"}

// catchUpOutcomes are the outcome label's values of
// preenroll_catch_up_events_total: those of RecordEvent that a catch-up
// counts, and "skipped" (a malformed event).
var catchUpOutcomes = []string{"recorded", "duplicate", "in-flight", "rejected", "stale", "skipped"}

// observeCatchUp counts a catch-up.
func (m *metrics) observeCatchUp(rep fulfillment.CatchUpReport, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	} else {
		m.catchUpLast.SetToCurrentTime()
	}
	m.catchUps.WithLabelValues(result).Inc()
	for o, n := range rep.Outcomes {
		m.catchUpEvents.WithLabelValues(o.String()).Add(float64(n))
	}
	m.catchUpEvents.WithLabelValues("skipped").Add(float64(rep.Skipped))
	m.orders.Add(float64(rep.Recorded()))
}

// reachedAt reports when vendor last answered (zero: never).
func (m *metrics) reachedAt(vendor string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[vendor]
}

func (m *metrics) reached(vendor string, at time.Time) {
	m.mu.Lock()
	m.seen[vendor] = at
	m.mu.Unlock()
	m.lastSuccess.WithLabelValues(vendor).Set(float64(at.UnixNano()) / 1e9)
}

// refusedCredentials reports why vendor's last answer to an
// authenticated request refused the credentials ("": it did not).
func (m *metrics) refusedCredentials(vendor string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refused[vendor]
}

// credentials notes how vendor answered authenticated request number n
// (see metrics.sent): a 401 or 403 refused the token (revoked, expired,
// lacking a scope); any other answer below 400 took it. An answer to a
// request sent before the one whose answer decided last is not heeded: a
// 200 to a request sent before the token was revoked, coming back after
// a later request's 401, does not make the credentials good again.
func (m *metrics) credentials(vendor, endpoint string, n uint64, resp *http.Response, at time.Time) {
	why := ""
	switch c := resp.StatusCode; {
	case c == http.StatusUnauthorized && strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce"):
		return // DPoP's nonce exchange (RFC 9449 §9): the client retries with the nonce
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		why = fmt.Sprintf("refused the credentials: %s answered %d at %s", endpoint, c, at.UTC().Format(time.RFC3339))
	case c >= 400:
		return // about the request, not the credentials
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n < m.decidedBy[vendor] {
		return
	}
	m.refused[vendor] = why
	m.decidedBy[vendor] = n
}

// observeSync records one Sync pass.
func (m *metrics) observeSync(d time.Duration, rep fulfillment.SyncReport, err error) {
	m.syncDuration.Observe(d.Seconds())
	switch {
	case errors.Is(err, fulfillment.ErrDraining):
		m.syncPasses.WithLabelValues("draining").Inc()
	case err != nil:
		m.syncPasses.WithLabelValues("error").Inc()
	default:
		m.syncPasses.WithLabelValues("ok").Inc()
	}
	for result, n := range map[string]int{"checked": rep.Checked, "advanced": rep.Advanced, "shipped": rep.Shipped,
		"active": rep.Active, "errored": rep.Errored, "failed": len(rep.Failures), "busy": rep.Busy, "not_due": rep.NotDue} {
		m.syncRecords.WithLabelValues(result).Add(float64(n))
	}
}

// countKeys sets the keys gauge from the store's counts.
func (m *metrics) countKeys(ctx context.Context, store fulfillment.Store) error {
	counts, err := fulfillment.CountByStatus(ctx, store)
	if err != nil {
		return err
	}
	for _, st := range fulfillment.Statuses() {
		m.keys.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	return nil
}

// authenticated reports whether req carries the client's credentials: an
// Authorization header (the clients' wrapping transport adds it below
// this one) or an OAuth token request (a client assertion in the body).
func authenticated(req *http.Request) bool {
	return req.Header.Get("Authorization") != "" || strings.HasSuffix(req.URL.Path, "/v1/token")
}

// transport is an http.RoundTripper that counts and times every request
// of one vendor's client by route template and outcome, and notes when the
// vendor last answered.
type transport struct {
	m      *metrics
	vendor string
	routes []route
	suffix bool // match templates against the end of the path (Yubico's base path)
	base   http.RoundTripper
	now    func() time.Time
	// otherCredentials: the requests carry credentials other than the
	// client's (the console's sign-in), so /readyz does not judge the
	// client's by their answers.
	otherCredentials bool
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := req.Method + " " + matchRoute(t.routes, req.URL.Path, t.suffix)
	judged := !t.otherCredentials && authenticated(req)
	var n uint64
	if judged {
		n = t.m.sent.Add(1)
	}
	start := t.now()
	resp, err := t.base.RoundTrip(req)
	t.m.remoteLatency.WithLabelValues(t.vendor, endpoint).Observe(t.now().Sub(start).Seconds())
	outcome := "transport_error"
	if err == nil {
		switch c := resp.StatusCode; {
		case c == http.StatusTooManyRequests:
			outcome = "rate_limited"
		case c >= 500:
			outcome = "server_error"
		case c >= 400:
			outcome = "client_error"
		default:
			outcome = "ok"
		}
		if resp.StatusCode < 500 {
			t.m.reached(t.vendor, t.now())
		}
		if judged {
			t.m.credentials(t.vendor, endpoint, n, resp, t.now())
		}
	}
	t.m.remote.WithLabelValues(t.vendor, endpoint, outcome).Inc()
	return resp, err
}

// waitClock is the clients' clock (okta.Clock and yubico.Clock): the wall
// clock, counting every wait made (not one refused because it would outlast
// the call's deadline, nor one cut short by cancellation).
type waitClock struct {
	m      *metrics
	vendor string
}

func (c waitClock) Now() time.Time { return httpclient.WallClock{}.Now() }

func (c waitClock) Sleep(ctx context.Context, d time.Duration) error {
	err := httpclient.Sleep(ctx, d)
	if err == nil && d > 0 {
		c.m.waits.WithLabelValues(c.vendor).Inc()
		c.m.waitSeconds.WithLabelValues(c.vendor).Add(d.Seconds())
	}
	return err
}

// route is a route template split into segments; "{…}" matches any one
// non-empty segment.
type route []string

func routes(templates ...string) []route {
	out := make([]route, len(templates))
	for i, t := range templates {
		out[i] = strings.Split(strings.Trim(t, "/"), "/")
	}
	return out
}

// The routes the clients call: the endpoint label is one of these (or
// "other"), never a raw path with IDs in it. Literal routes come before
// the templates they would also match.
var (
	oktaRoutes = routes(
		"/api/v1/users", "/api/v1/users/{id}", "/api/v1/users/{id}/lifecycle/{op}",
		"/api/v1/groups", "/api/v1/groups/{id}", "/api/v1/groups/{id}/users", "/api/v1/groups/{id}/users/{userId}",
		"/api/v1/authn", "/api/v1/authn/factors/{factorId}/verify",
		"/api/v1/eventHooks", "/api/v1/eventHooks/{id}", "/api/v1/eventHooks/{id}/lifecycle/{op}", "/api/v1/logs",
		"/.well-known/openid-configuration", "/oauth2/v1/token",
		"/webauthn-registration/api/v1/initiate-fulfillment-request", "/webauthn-registration/api/v1/enroll",
		"/webauthn-registration/api/v1/activate", "/webauthn-registration/api/v1/send-pin",
		"/webauthn-registration/api/v1/users/{userId}/enrollments",
		"/webauthn-registration/api/v1/users/{userId}/enrollments/{id}",
		"/webauthn-registration/api/v1/users/{userId}/enrollments/{id}/mark-error",
	)
	yubicoRoutes = routes(
		"/fpr/shipments", "/fpr/shipments/{id}",
		"/shipments_exact", "/shipments_exact/search-description", "/shipments_exact/{id}",
		"/products", "/products/{id}", "/countries", "/validate-address", "/inventory",
		yubico.TransportKeysPath, yubico.SigningKeysPath,
	)
)

// matchRoute returns the template path matches ("other" if none). With
// suffix, the template is matched against the last segments of path.
func matchRoute(rs []route, path string, suffix bool) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range rs {
		s := segs
		if suffix && len(s) > len(r) {
			s = s[len(s)-len(r):]
		}
		if len(s) != len(r) {
			continue
		}
		ok := true
		for i, p := range r {
			if s[i] == "" || (!strings.HasPrefix(p, "{") && p != s[i]) {
				ok = false
				break
			}
		}
		if ok {
			return "/" + strings.Join(r, "/")
		}
	}
	return "other"
}
