package serve

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/syncio"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// testCA is a throwaway certificate authority (P-256) the test's clients
// trust.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	n    int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "preenroll test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, n: 1}
}

// pair is a server certificate and its key, PEM.
type pair struct {
	cert, key []byte
	der       []byte // the certificate
}

// issue makes a server certificate for localhost and 127.0.0.1, named cn.
func (ca *testCA) issue(t *testing.T, cn string) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.n++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.n), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pair{cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), der: der}
}

// client makes https requests trusting only the CA, one connection per
// request (so that each sees the certificate served at the time).
func (ca *testCA) client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool},
		ForceAttemptHTTP2: true, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// tlsFiles are a certificate file and a key file in a test directory.
type tlsFiles struct {
	cert, key string
	mod       time.Time // the last modification time written
}

func newTLSFiles(t *testing.T) *tlsFiles {
	dir := t.TempDir()
	return &tlsFiles{cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"), mod: time.Now().Add(-time.Hour)}
}

// write replaces one file, as a renewal does, with a modification time a
// second after the previous write (files written within one tick of the
// file system's clock would otherwise look unchanged).
func (f *tlsFiles) write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f.mod = f.mod.Add(time.Second)
	if err := os.Chtimes(path, f.mod, f.mod); err != nil {
		t.Fatal(err)
	}
}

// writePair writes both files, the certificate first.
func (f *tlsFiles) writePair(t *testing.T, p pair) {
	t.Helper()
	f.write(t, f.cert, p.cert)
	f.write(t, f.key, p.key)
}

// servedCert dials addr trusting the CA and returns the certificate served.
func servedCert(t *testing.T, ca *testCA, addr string) []byte {
	t.Helper()
	d := tls.Dialer{Config: &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"}}
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].Raw
}

// TestServeTLS: with a certificate pair, serve answers https (HTTP/2, TLS
// 1.2 at least) on loopback to a client trusting the test CA: /healthz,
// and the event hook, which Okta (the fake, trusting the CA too)
// registers, verifies and delivers an order's event to over https; the
// URLs serve prints say https.
func TestServeTLS(t *testing.T) {
	ca := newTestCA(t)
	files := newTLSFiles(t)
	files.writePair(t, ca.issue(t, "serve one"))
	f := startFakes(t, 1, oktatest.WithHookClient(ca.client()))
	cfg := f.config(fulfillment.NewMemoryStore())
	cfg.TLSCertFile, cfg.TLSKeyFile = files.cert, files.key
	var out bytes.Buffer
	cfg.Stdout = &out
	r, ev := startWithEvents(t, cfg)
	if !strings.HasPrefix(r.base, "https://127.0.0.1:") {
		t.Fatalf("base URL %q, want https://127.0.0.1:…", r.base)
	}
	for _, want := range []string{"event hook: " + r.base + "/hooks/okta", "health: " + r.base + "/healthz"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	hc := ca.client()
	resp, err := hc.Get(r.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("GET /healthz over https: %s %s, TLS %+v", resp.Proto, resp.Status, resp.TLS)
	}
	// /metrics says when the served certificate expires.
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		mresp, err := hc.Get(r.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mf, err := parser.TextToMetricFamilies(mresp.Body)
		mresp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := float64(resp.TLS.PeerCertificates[0].NotAfter.Unix())
		if got := value(mf, "preenroll_tls_certificate_expiry_timestamp_seconds", nil); got != want {
			t.Errorf("preenroll_tls_certificate_expiry_timestamp_seconds = %v, want the served certificate's NotAfter %v", got, want)
		}
	}

	// Okta verified the hook over https at the start (Run fails
	// otherwise); an order's event reaches it.
	f.order(t, f.users[0])
	ev.wait(t, 1)
	if got := ev.outcomes(); !cmp.Equal(got, []fulfillment.EventOutcome{fulfillment.EventRecorded}) {
		t.Errorf("event outcomes %v, want one recorded", got)
	}
	type delivered struct {
		URL    string
		Status int
	}
	ds, err := f.okta.AwaitDeliveries(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []delivered
	for _, d := range ds {
		got = append(got, delivered{d.URL, d.Status})
	}
	if diff := cmp.Diff([]delivered{{r.base + "/hooks/okta", http.StatusOK}}, got); diff != "" {
		t.Errorf("Okta's deliveries (-want +got):\n%s", diff)
	}
	// A wrong Authorization header is answered 401 over https too.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.base+"/hooks/okta", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "wrong")
	if resp, err = hc.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("hook with a wrong secret: %s, want 401", resp.Status)
	}

	host := strings.TrimPrefix(r.base, "https://")
	// TLS 1.1 is refused.
	d := tls.Dialer{Config: &tls.Config{RootCAs: ca.pool, MaxVersion: tls.VersionTLS11}}
	if c, err := d.DialContext(t.Context(), "tcp", host); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// A client that does not trust the certificate fails the handshake.
	if _, err := http.Get(r.base + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET without the CA: %v, want a certificate error", err)
	}
	// Plain HTTP is not served (net/http answers it 400).
	if resp, err = http.Get("http://" + host + "/healthz"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP on the TLS port: %s, want 400", resp.Status)
	}
}

// outcomes returns the outcomes of the events handled so far, sorted.
func (e *events) outcomes() []fulfillment.EventOutcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Values(e.outs))
}

// TestServeTLSReload: serve reloads its certificate when the files change,
// looking at most every CertCheckInterval on its clock; a broken
// replacement (the certificate renewed before its key, a key removed)
// keeps the previous certificate served, warned about once per change and
// tried again at every check, until the files make a pair again.
func TestServeTLSReload(t *testing.T) {
	ca := newTestCA(t)
	files := newTLSFiles(t)
	first, second, third := ca.issue(t, "first"), ca.issue(t, "second"), ca.issue(t, "third")
	files.writePair(t, first)
	clock := testclock.New(time.Now()) // the certificates are valid for a day of wall time
	advance := func(d time.Duration) {
		if err := clock.Sleep(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	var logs syncio.Buffer
	cfg := Config{Listen: "127.0.0.1:0", DemoUsers: 0, SyncInterval: time.Hour, CatchUpInterval: -1, ShutdownTimeout: 10 * time.Second,
		Console: Console{Off: true}, TLSCertFile: files.cert, TLSKeyFile: files.key, tlsNow: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	r := start(t, cfg)
	host := strings.TrimPrefix(r.base, "https://")
	served := func() string {
		t.Helper()
		der := servedCert(t, ca, host)
		for name, p := range map[string]pair{"first": first, "second": second, "third": third} {
			if bytes.Equal(der, p.der) {
				return name
			}
		}
		return "unknown"
	}
	warnings := func() int {
		n := 0
		for line := range strings.Lines(logs.String()) {
			var rec struct{ Level, Msg, Error string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if rec.Level == "WARN" && strings.HasPrefix(rec.Msg, "serve: TLS certificate files changed but do not load") {
				n++
			}
		}
		return n
	}
	type state struct {
		Served   string
		Warnings int
	}
	check := func(step string, want state) {
		t.Helper()
		if diff := cmp.Diff(want, state{served(), warnings()}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step, diff)
		}
	}

	check("at start", state{"first", 0})
	files.writePair(t, second)
	check("renewed, no check due yet", state{"first", 0})
	advance(CertCheckInterval - time.Second)
	check("renewed, a second before the check", state{"first", 0})
	advance(time.Second)
	check("renewed, the check due", state{"second", 0})

	// The certificate is renewed before its key: a transient mismatch.
	files.write(t, files.cert, third.cert)
	advance(CertCheckInterval)
	check("certificate renewed, key not yet", state{"second", 1})
	advance(CertCheckInterval)
	check("same mismatch a minute later: not logged again", state{"second", 1})
	files.write(t, files.key, third.key)
	advance(CertCheckInterval)
	check("key renewed", state{"third", 1})

	// A key removed (a renewal under way), then a garbled one: each
	// change is warned about once, the last good pair served throughout.
	if err := os.Remove(files.key); err != nil {
		t.Fatal(err)
	}
	advance(CertCheckInterval)
	check("key removed", state{"third", 2})
	files.write(t, files.key, []byte("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"))
	advance(CertCheckInterval)
	check("key garbled", state{"third", 3})
	advance(CertCheckInterval)
	check("key garbled, checked again", state{"third", 3})
	files.writePair(t, first)
	advance(CertCheckInterval)
	check("a good pair again", state{"first", 3})

	for _, secret := range [][]byte{first.key, second.key, third.key} {
		if block, _ := pem.Decode(secret); strings.Contains(logs.String(), string(secret)) || strings.Contains(logs.String(), string(block.Bytes)) {
			t.Error("a private key was logged")
		}
	}
	if !strings.Contains(logs.String(), `"msg":"serve: TLS certificate reloaded"`) {
		t.Errorf("no reload logged:\n%s", logs.String())
	}
}

// TestCertReloaderCheckDoesNotBlock: while one handshake looks at the
// files (a slow or hung disk: here, the check's lock held), the others
// are served the current pair at once, and so is the metric; the next
// handshake after it loads the renewed pair.
func TestCertReloaderCheckDoesNotBlock(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	files := newTLSFiles(t)
	first, second := ca.issue(t, "first"), ca.issue(t, "second")
	files.writePair(t, first)
	clock := testclock.New(time.Now())
	r, err := newCertReloader(files.cert, files.key, clock.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	files.writePair(t, second)
	if err := clock.Sleep(context.Background(), CertCheckInterval); err != nil {
		t.Fatal(err)
	}
	type served struct{ Handshake, Current string }
	name := func(c *tls.Certificate) string {
		switch {
		case c == nil:
			return "none"
		case bytes.Equal(c.Certificate[0], first.der):
			return "first"
		case bytes.Equal(c.Certificate[0], second.der):
			return "second"
		}
		return "unknown"
	}
	look := func() served {
		got := make(chan served, 1)
		go func() {
			c, err := r.GetCertificate(nil)
			if err != nil {
				t.Error(err)
			}
			got <- served{name(c), name(r.current())}
		}()
		// A GetCertificate that waits for the check never returns here:
		// the test fails at go test's -timeout.
		return <-got
	}
	r.mu.Lock() // a check under way, stuck on the disk
	during := look()
	r.mu.Unlock()
	after := look()
	if diff := cmp.Diff([]served{{"first", "first"}, {"second", "second"}}, []served{during, after}); diff != "" {
		t.Errorf("served during a check, then after it (-want +got):\n%s", diff)
	}
}

// TestServeTLSConfig: the pair must be given whole and load, and the
// public URL be https: Run refuses to start (ErrConfig) naming the file
// (or the fields), never showing the key.
func TestServeTLSConfig(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	good, other := ca.issue(t, "good"), ca.issue(t, "other")
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, otherKey := file("good.crt", good.cert), file("good.key", good.key), file("other.key", other.key)
	garbled := file("garbled.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))
	empty, missing := file("empty", nil), filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name, cert, key string
		publicURL       string
		want            string
	}{
		{"cert only", cert, "", "", "serve: invalid configuration: TLSCertFile and TLSKeyFile: set both (serve answers https) or neither"},
		{"key only", "", key, "", "serve: invalid configuration: TLSCertFile and TLSKeyFile: set both (serve answers https) or neither"},
		{"missing certificate", missing, key, "", "serve: invalid configuration: serve: TLS certificate file " + missing + ": no such file or directory"},
		{"missing key", cert, missing, "", "serve: invalid configuration: serve: TLS key file " + missing + ": no such file or directory"},
		{"empty certificate", empty, key, "", "serve: invalid configuration: serve: TLS certificate file " + empty + ": empty"},
		{"key as certificate", key, key, "", "serve: invalid configuration: serve: TLS certificate file " + key + ": no PEM CERTIFICATE block"},
		{"garbled certificate", garbled, key, "", "serve: invalid configuration: serve: TLS certificate file " + garbled + ": not a certificate: x509: malformed certificate"},
		{"garbled certificate, certificate as key", garbled, cert, "", "serve: invalid configuration: serve: TLS certificate file " + garbled + ": not a certificate: x509: malformed certificate"},
		{"mismatched pair", cert, otherKey, "", "serve: invalid configuration: serve: TLS key file " + otherKey + ": tls: private key does not match public key (the certificate's: " + cert + ")"},
		{"certificate as key", cert, cert, "", "serve: invalid configuration: serve: TLS key file " + cert + `: tls: found a certificate rather than a key in the PEM for the private key (the certificate's: ` + cert + ")"},
		{"http public URL", cert, key, "http://keys.example.com:8443", `serve: invalid configuration: PublicURL "http://keys.example.com:8443" with TLSCertFile: serve answers https, so its public URL is https (an http one would register the event hook, and put the console's sign-in and cookies, on plain http)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Run(t.Context(), Config{Listen: "127.0.0.1:0", TLSCertFile: tc.cert, TLSKeyFile: tc.key, PublicURL: tc.publicURL, Logger: slog.New(slog.DiscardHandler)})
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Run: %v, want ErrConfig", err)
			}
			if err.Error() != tc.want {
				t.Errorf("Run: %v\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), string(other.key)) || strings.Contains(err.Error(), string(good.key)) {
				t.Error("the error shows a key")
			}
		})
	}
	if err := CheckTLSFiles(cert, key); err != nil {
		t.Errorf("CheckTLSFiles of a good pair: %v", err)
	}
	var fe *TLSFileError
	if err := CheckTLSFiles(cert, otherKey); !errors.As(err, &fe) || !fe.Key || fe.File != otherKey {
		t.Errorf("CheckTLSFiles of a mismatched pair: %#v, want a TLSFileError of the key file", err)
	}
}

// TestTLSPairLeaf: a loaded pair has its server certificate parsed (Leaf,
// which the reload's log lines and the expiry metric read), also when
// GODEBUG=x509keypairleaf=0 keeps tls.X509KeyPair from parsing it for us.
func TestTLSPairLeaf(t *testing.T) {
	ca := newTestCA(t)
	files := newTLSFiles(t)
	p := ca.issue(t, "leaf")
	files.writePair(t, p)
	for _, godebug := range []string{"", "x509keypairleaf=0"} {
		t.Run("GODEBUG="+godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", godebug)
			cert, err := loadTLSPair(files.cert, files.key)
			if err != nil {
				t.Fatal(err)
			}
			if cert.Leaf == nil || !bytes.Equal(cert.Leaf.Raw, p.der) || cert.Leaf.Subject.CommonName != "leaf" {
				t.Errorf("Leaf = %v, want the certificate issued", cert.Leaf)
			}
		})
	}
}

// TestDemoTLS: the demo answers https too: its fake Okta delivers to
// serve's hook over https (trusting exactly the certificate served, as the
// listening IP address is not among a real certificate's names), and the
// URLs it prints say https.
func TestDemoTLS(t *testing.T) {
	ca := newTestCA(t)
	files := newTLSFiles(t)
	files.writePair(t, ca.issue(t, "demo"))
	ev := newEvents()
	var out bytes.Buffer
	cfg := Config{Listen: "127.0.0.1:0", DemoUsers: 1, DemoDay: time.Hour, SyncInterval: time.Hour, ShutdownTimeout: 10 * time.Second,
		TLSCertFile: files.cert, TLSKeyFile: files.key, Stdout: &out, eventDone: ev.done,
		Logger: slog.New(slog.DiscardHandler)}
	r := start(t, cfg)
	if !strings.HasPrefix(r.base, "https://") {
		t.Fatalf("base URL %q, want https", r.base)
	}
	for _, want := range []string{"open " + r.base + "/status", "console: " + r.base + "/", "event hook: " + r.base + "/hooks/okta"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	// The demo's administrator orders the user's key: the event arrives
	// over https.
	ev.wait(t, 1)
	if got := ev.outcomes(); !cmp.Equal(got, []fulfillment.EventOutcome{fulfillment.EventRecorded}) {
		t.Errorf("event outcomes %v, want one recorded", got)
	}
	// The console's sign-in redirect is https.
	resp, err := ca.client().Get(r.base + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.Query().Get("redirect_uri"), r.base+"/auth/callback") {
		t.Errorf("console sign-in redirects to %q, want a redirect_uri under %s", resp.Header.Get("Location"), r.base)
	}
}

// logRecord is a JSON log line of serve's.
type logRecord struct {
	Level, Msg, Error, Hint string
	Suppressed              *int
}

// TestHTTPErrorLogPacesHandshakes: failed TLS handshakes are warned about
// at most once a minute (serve's TLS clock), each warning counting the
// failures since the previous one, logged at debug level meanwhile; a
// client refusing the certificate gets a hint; the HTTP server's other
// errors are warnings, never paced.
func TestHTTPErrorLogPacesHandshakes(t *testing.T) {
	clock := testclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	var logs syncio.Buffer
	h := newHTTPErrorLog(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), clock.Now)
	const (
		refused  = "http: TLS handshake error from 192.0.2.1:40000: remote error: tls: bad certificate"
		scanner  = "http: TLS handshake error from 192.0.2.2:40001: EOF"
		accept   = "http: Accept error: accept tcp [::]:8443: accept4: too many open files; retrying in 5ms"
		warnMsg  = "serve: TLS handshake failed (at most one warning a minute; the others at debug level)"
		debugMsg = "serve: TLS handshake failed"
	)
	hint := "the client refused the certificate: if it is one that must reach serve (Okta, a browser), " +
		"check that the certificate file holds the chain (the server's certificate, then the intermediates) and names the host the client asked for"
	n := func(i int) *int { return &i }
	steps := []struct {
		at   time.Duration // since the start
		line string
		want logRecord
	}{
		{0, refused, logRecord{Level: "WARN", Msg: warnMsg, Error: refused, Hint: hint, Suppressed: n(0)}},
		{time.Second, scanner, logRecord{Level: "DEBUG", Msg: debugMsg, Error: scanner}},
		{time.Second, accept, logRecord{Level: "WARN", Msg: "serve: HTTP server", Error: accept}},
		{time.Second, accept, logRecord{Level: "WARN", Msg: "serve: HTTP server", Error: accept}},
		{59 * time.Second, refused, logRecord{Level: "DEBUG", Msg: debugMsg, Error: refused, Hint: hint}},
		{time.Minute, scanner, logRecord{Level: "WARN", Msg: warnMsg, Error: scanner, Suppressed: n(2)}},
		{time.Minute + time.Second, refused, logRecord{Level: "DEBUG", Msg: debugMsg, Error: refused, Hint: hint}},
		{10 * time.Minute, scanner, logRecord{Level: "WARN", Msg: warnMsg, Error: scanner, Suppressed: n(1)}},
	}
	start := clock.Now()
	var want, got []logRecord
	for _, st := range steps {
		if err := clock.Sleep(t.Context(), start.Add(st.at).Sub(clock.Now())); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Write([]byte(st.line + "\n")); err != nil {
			t.Fatal(err)
		}
		want = append(want, st.want)
	}
	for line := range strings.Lines(logs.String()) {
		var rec logRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, rec)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
}

// TestServeTLSHandshakeRefusedWarned: a client that does not trust the
// certificate serve answers with fails the handshake, and serve warns
// (with the hint); the next failure within the minute is logged at debug
// level, the one after the minute is warned about again, counting it.
func TestServeTLSHandshakeRefusedWarned(t *testing.T) {
	ca := newTestCA(t)
	files := newTLSFiles(t)
	files.writePair(t, ca.issue(t, "serve"))
	clock := testclock.New(time.Now()) // the certificate is valid for a day of wall time
	records := make(chan logRecord, 100)
	cfg := Config{Listen: "127.0.0.1:0", DemoUsers: 0, SyncInterval: time.Hour, CatchUpInterval: -1, ShutdownTimeout: 10 * time.Second,
		Console: Console{Off: true}, TLSCertFile: files.cert, TLSKeyFile: files.key, tlsNow: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(handshakeRecords(records), &slog.HandlerOptions{Level: slog.LevelDebug}))}
	r := start(t, cfg)
	// next returns the next record about a failed handshake (serve logs
	// it after the client gave up).
	next := func() logRecord {
		t.Helper()
		select {
		case rec := <-records:
			return rec
		case <-time.After(30 * time.Second):
		}
		t.Fatal("no record of the failed handshake in 30 s")
		return logRecord{}
	}
	refuse := func() {
		t.Helper()
		// Without the test CA: the client refuses the certificate.
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		if _, err := hc.Get(r.base + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("GET without the CA: %v, want a certificate error", err)
		}
	}
	type seen struct {
		Level      string
		Refused    bool // the error is the client's alert about the certificate
		Hinted     bool
		Suppressed *int
	}
	look := func(rec logRecord) seen {
		return seen{rec.Level, strings.Contains(rec.Error, "remote error: tls: bad certificate"), rec.Hint != "", rec.Suppressed}
	}
	n := func(i int) *int { return &i }
	var got []seen
	refuse()
	got = append(got, look(next()))
	refuse()
	got = append(got, look(next()))
	if err := clock.Sleep(t.Context(), handshakeWarnEvery); err != nil {
		t.Fatal(err)
	}
	refuse()
	got = append(got, look(next()))
	want := []seen{{"WARN", true, true, n(0)}, {"DEBUG", true, true, nil}, {"WARN", true, true, n(1)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the failed handshakes logged (-want +got):\n%s", diff)
	}
}

// handshakeRecords decodes each JSON log line written to it and sends
// those about failed TLS handshakes on its channel, never blocking serve's
// logging (a record that does not fit is dropped, and the test waiting
// for it fails).
type handshakeRecords chan<- logRecord

func (w handshakeRecords) Write(p []byte) (int, error) {
	var rec logRecord
	if err := json.Unmarshal(p, &rec); err != nil {
		return 0, err
	}
	if strings.HasPrefix(rec.Msg, "serve: TLS handshake failed") {
		select {
		case w <- rec:
		default:
		}
	}
	return len(p), nil
}
