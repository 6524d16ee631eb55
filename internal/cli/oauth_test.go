package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// testStart is when the in-process runs' clock starts (see invocation.run);
// the fake org's clock starts there too, so client assertions and DPoP
// proofs are fresh to it.
var testStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// serviceKey is a service app's key pair: the private key in a file (PEM or
// JWK) and the secret bits that must never be printed.
type serviceKey struct {
	file    string
	public  jose.JSONWebKey
	secrets []string // the PEM body and the JWK's "d"
}

// newServiceKey makes a P-256 key and writes it as PEM (PKCS #8) or, with
// asJWK, as a private JWK.
func newServiceKey(t *testing.T, asJWK bool) serviceKey {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	k := serviceKey{
		public:  jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "preenroll-1", Algorithm: "ES256", Use: "sig"},
		secrets: []string{base64.StdEncoding.EncodeToString(der)[:40], base64.RawURLEncoding.EncodeToString(d)},
	}
	var content []byte
	if asJWK {
		content, err = jose.JSONWebKey{Key: ec, KeyID: "preenroll-1", Algorithm: "ES256", Use: "sig"}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
	} else {
		content = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	k.file = writeFile(t, "service-app.key", string(content))
	return k
}

// printed reports the first secret of k found in out.
func (k serviceKey) printedIn(out string) string {
	for _, s := range append(k.secrets, "PRIVATE KEY") {
		if strings.Contains(out, s) {
			return s
		}
	}
	return jwtShape.FindString(out)
}

// jwtShape matches any JWT (assertion, DPoP proof, access token): a JSON
// header in base64url ("eyJ…") and a payload, dot-separated. A bare "eyJ"
// also turns up in the random request IDs the output names (Okta's
// "req" + 22 letters and digits), which are no secret.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.`)

// newOAuthOrg starts a fake org on the runs' clock whose SSWS token is
// revoked, so only OAuth can succeed, with a service app registered.
func newOAuthOrg(t *testing.T, clientID string, key serviceKey, dpop bool) org {
	t.Helper()
	o := newOrg(t, oktatest.WithNow(testStart))
	o.srv.RevokeToken(o.srv.Token())
	if err := o.srv.AddServiceApp(oktatest.ServiceApp{
		ClientID: clientID, Keys: []jose.JSONWebKey{key.public}, Scopes: oauthScopes("status"), DPoP: dpop,
	}); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOAuthServiceApp runs order and status end to end as an OAuth 2.0
// service app with DPoP: the fake issues a DPoP-bound token (after its
// nonce challenge) and serves every API call with it; the SSWS token is
// revoked, so no call went another way.
func TestOAuthServiceApp(t *testing.T) {
	t.Parallel()
	for _, asJWK := range []bool{false, true} {
		name := map[bool]string{false: "PEM", true: "JWK"}[asJWK]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := newServiceKey(t, asJWK)
			o := newOAuthOrg(t, "0oaPreenroll", key, true)
			u := o.addUser(t, "jan@example.com")
			env := map[string]string{
				"PREENROLL_OKTA_ORG": o.srv.URL(), "PREENROLL_RP_ID": testRPID, "PREENROLL_OKTA_CLIENT_ID": "0oaPreenroll", "PREENROLL_OKTA_PRIVATE_KEY_FILE": key.file,
			}
			r := invocation{env: env}.run(t, "order", "-user", "jan@example.com", "-customization", "RXJN83", "-v")
			if r.code != ExitOK || !strings.Contains(r.stdout, "ordered a YubiKey for jan@example.com ("+u.ID+")") {
				t.Fatalf("order: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if s := key.printedIn(r.stdout + r.stderr); s != "" {
				t.Errorf("order -v printed %q", s)
			}
			r = invocation{env: env}.run(t, "status", "jan@example.com", "-v")
			if r.code != ExitOK || !strings.Contains(r.stdout, "jan@example.com") {
				t.Fatalf("status: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if s := key.printedIn(r.stdout + r.stderr); s != "" {
				t.Errorf("status -v printed %q", s)
			}

			// One token per run (each run is a new process's client), each
			// after the token endpoint's DPoP nonce challenge.
			if got, want := o.srv.TokenCounts("0oaPreenroll"), (oktatest.TokenCounts{Issued: 2, Refused: 2, NonceChallenges: 2}); got != want {
				t.Errorf("token counts = %+v, want %+v", got, want)
			}
			var tokens, api int
			for _, e := range o.srv.RequestLog() {
				switch {
				case e.Path == okta.TokenPath && e.Status == 200:
					tokens++
				case e.Path != okta.TokenPath:
					api++
					if e.Status >= 400 {
						t.Errorf("%s %s: HTTP %d %s %s", e.Method, e.Path, e.Status, e.ErrorCode, e.Detail)
					}
				}
			}
			if tokens != 2 || api < 3 {
				t.Errorf("request log: %d tokens issued, %d API calls", tokens, api)
			}
		})
	}
}

// TestOAuthDPoPSetting: -okta-dpop decides whether the token request
// carries a DPoP proof; the fake refuses a DPoP app's token request without
// one, and the command says what to change.
func TestOAuthDPoPSetting(t *testing.T) {
	t.Parallel()
	key := newServiceKey(t, false)
	dpopApp := newOAuthOrg(t, "0oaDPoP", key, true)
	dpopApp.addUser(t, "jan@example.com")
	r := runCLI(t, "status", "jan@example.com", "-rp-id", testRPID, "-okta-org", dpopApp.srv.URL(), "-okta-client-id", "0oaDPoP",
		"-okta-private-key-file", key.file, "-okta-dpop=false")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "HTTP 400 invalid_dpop_proof") || !strings.Contains(r.stderr, "leave -okta-dpop on") {
		t.Errorf("DPoP app, -okta-dpop=false: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if n := dpopApp.srv.TokenCounts("0oaDPoP"); n.Issued != 0 || n.Refused != 1 {
		t.Errorf("token counts = %+v", n)
	}

	// An app without DPoP, configured so from the environment: bearer tokens.
	bearerApp := newOAuthOrg(t, "0oaBearer", key, false)
	bearerApp.addUser(t, "jan@example.com")
	r = invocation{env: map[string]string{"PREENROLL_OKTA_DPOP": "false"}}.run(t, "status", "jan@example.com",
		"-rp-id", testRPID, "-okta-org", bearerApp.srv.URL(), "-okta-client-id", "0oaBearer", "-okta-private-key-file", key.file)
	if n := bearerApp.srv.TokenCounts("0oaBearer"); r.code != ExitOK || n != (oktatest.TokenCounts{Issued: 1}) {
		t.Errorf("bearer app: exit %d, token counts %+v, stderr:\n%s", r.code, n, r.stderr)
	}
}

// TestOAuthClockSkew: Okta refuses a DPoP proof dated more than five
// minutes from its own clock (docs/okta.md, DPoP); the refusal says to
// check this host's clock, not only -okta-dpop, which is right here.
func TestOAuthClockSkew(t *testing.T) {
	t.Parallel()
	key := newServiceKey(t, false)
	o := newOrg(t, oktatest.WithNow(testStart.Add(time.Hour))) // this host is an hour behind Okta
	o.srv.RevokeToken(o.srv.Token())
	if err := o.srv.AddServiceApp(oktatest.ServiceApp{
		ClientID: "0oaSkew", Keys: []jose.JSONWebKey{key.public}, Scopes: oauthScopes("status"), DPoP: true,
	}); err != nil {
		t.Fatal(err)
	}
	o.addUser(t, "jan@example.com")
	r := runCLI(t, "status", "jan@example.com", "-rp-id", testRPID, "-okta-org", o.srv.URL(), "-okta-client-id", "0oaSkew", "-okta-private-key-file", key.file)
	for _, want := range []string{"HTTP 400 invalid_dpop_proof", "check that this host's clock is right (NTP)"} {
		if r.code != ExitFailed || !strings.Contains(r.stderr, want) {
			t.Errorf("clock an hour behind Okta's: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
}

// TestOAuthWrongKey: a key Okta does not have for the app is refused with
// what to check, exit 1, and the key is not printed; a batch orders nobody
// and says why instead of calling every row bad.
func TestOAuthWrongKey(t *testing.T) {
	t.Parallel()
	registered, wrong := newServiceKey(t, false), newServiceKey(t, false)
	o := newOAuthOrg(t, "0oaPreenroll", registered, true)
	o.addUser(t, "jan@example.com")
	o.addUser(t, "kim@example.com")
	auth := []string{"-rp-id", testRPID, "-okta-org", o.srv.URL(), "-okta-client-id", "0oaPreenroll", "-okta-private-key-file", wrong.file}

	r := runCLI(t, append([]string{"status", "jan@example.com", "-v"}, auth...)...)
	const want = "Okta refused the service app's token request: HTTP 401 invalid_client: The client_assertion signature is invalid. " +
		"(check -okta-client-id, and that the public key of -okta-private-key-file is registered with the app) (Okta request ID "
	if r.code != ExitFailed || !strings.Contains(r.stderr, want) {
		t.Errorf("status: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if s := wrong.printedIn(r.stdout + r.stderr); s != "" {
		t.Errorf("status printed %q", s)
	}

	csv := writeFile(t, "users.csv", "login\njan@example.com\nkim@example.com\n")
	r = runCLI(t, append([]string{"batch", "-csv", csv, "-customization", "RXJN83"}, auth...)...)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "line 2 jan@example.com: failed: Okta refused the service app's token request: HTTP 401 invalid_client") ||
		!strings.Contains(r.stderr, "line 3 kim@example.com: failed: not checked: Okta refused the credentials (see line 2)") ||
		!strings.Contains(r.stderr, "preenroll batch: Okta refused the credentials; nobody was ordered") || strings.Contains(r.stderr, ": invalid: ") {
		t.Errorf("batch: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if s := wrong.printedIn(r.stdout + r.stderr); s != "" {
		t.Errorf("batch printed %q", s)
	}
	if n := len(o.srv.Events()); n != 0 {
		t.Errorf("%d orders with a refused key", n)
	}
}

// TestOAuthSettingsChecked: how the commands authenticate is checked with
// the other settings, every problem at once, exit 2, nothing sent; a key
// file is named in errors but its content never printed.
func TestOAuthSettingsChecked(t *testing.T) {
	t.Parallel()
	key := newServiceKey(t, false)
	token := writeFile(t, "okta.token", "00token-secret-value\n")
	// Key files that do not parse; their content must not be printed.
	garbled := writeFile(t, "garbled.pem", "-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n")
	notKey := writeFile(t, "not-a-key.txt", "hunter2-is-my-password\n")
	pubJWK, err := key.public.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	public := writeFile(t, "public.jwk", string(pubJWK))
	const org = "https://example.okta.com"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"neither", []string{"-okta-org", org},
			[]string{"-okta-token-file (PREENROLL_OKTA_TOKEN_FILE), or -okta-client-id (PREENROLL_OKTA_CLIENT_ID) with -okta-private-key-file (PREENROLL_OKTA_PRIVATE_KEY_FILE) for an OAuth service app, is required with -okta-org"}},
		{"both", []string{"-okta-org", org, "-okta-token-file", token, "-okta-client-id", "0oa1", "-okta-private-key-file", key.file},
			[]string{"-okta-token-file and -okta-client-id/-okta-private-key-file are both set: authenticate with an API token or as an OAuth service app, not both"}},
		{"client id without key", []string{"-okta-org", org, "-okta-client-id", "0oa1"},
			[]string{"-okta-client-id (PREENROLL_OKTA_CLIENT_ID) needs -okta-private-key-file (PREENROLL_OKTA_PRIVATE_KEY_FILE): the service app's private key"}},
		{"key without client id", []string{"-okta-org", org, "-okta-private-key-file", key.file},
			[]string{"-okta-private-key-file (PREENROLL_OKTA_PRIVATE_KEY_FILE) needs -okta-client-id (PREENROLL_OKTA_CLIENT_ID): the service app's client ID"}},
		{"garbled PEM", []string{"-okta-org", org, "-okta-client-id", "0oa1", "-okta-private-key-file", garbled},
			[]string{`-okta-private-key-file: ` + garbled + `: not a usable private key: PEM block "PRIVATE KEY" does not hold a valid key`}},
		{"not a key", []string{"-okta-org", org, "-okta-client-id", "0oa1", "-okta-private-key-file", notKey},
			[]string{"-okta-private-key-file: " + notKey + ": not a usable private key: neither a PEM private key nor a JWK"}},
		{"public JWK", []string{"-okta-org", org, "-okta-client-id", "0oa1", "-okta-private-key-file", public},
			[]string{"-okta-private-key-file: " + public + ": not a usable private key: the JWK holds a public key; the private key is needed"}},
		{"bad client ID and scope", []string{"-okta-org", org, "-okta-client-id", "0oa 1", "-okta-scopes", `okta.users.read,okta"x`, "-okta-private-key-file", key.file},
			[]string{
				`-okta-client-id "0oa 1": a client ID has no spaces, control or non-ASCII characters`,
				`-okta-scopes "okta.users.read,okta\"x": "okta\"x" is not a scope`,
			}},
		{"empty scopes", []string{"-okta-org", org, "-okta-client-id", "0oa1", "-okta-scopes", " , ", "-okta-private-key-file", key.file},
			[]string{`-okta-scopes " , ": want at least one scope, like okta.users.manage`}},
		{"fakes", []string{"-okta-client-id", "0oa1", "-okta-private-key-file", key.file},
			[]string{
				"-okta-client-id needs -okta-org (without one, the commands run on in-process fakes)",
				"-okta-private-key-file needs -okta-org (without one, the commands run on in-process fakes)",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, append([]string{"status", "jan@example.com"}, tc.args...)...)
			var got []string
			for _, l := range lines(r.stderr) {
				if !strings.HasPrefix(l, "preenroll status: ") && !strings.HasPrefix(l, "(preenroll help") {
					got = append(got, strings.TrimPrefix(l, "  "))
				} else if rest, ok := strings.CutPrefix(l, "preenroll status: "); ok && !strings.Contains(rest, "problems with the settings") {
					got = append(got, rest)
				}
			}
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d", r.code, ExitUsage)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			for _, s := range append(key.secrets, "U0VDUkVU", "hunter2", "00token-secret-value") {
				if strings.Contains(r.stdout+r.stderr, s) {
					t.Errorf("printed %q", s)
				}
			}
		})
	}
}

// TestOAuthConfigPrecedence: the OAuth settings come from a flag, else
// PREENROLL_*, else the config file, else the default, which for
// -okta-scopes is what the command needs.
func TestOAuthConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "preenroll.json", `{"okta-client-id": "0oaFile", "okta-private-key-file": "/file/key.pem", "okta-scopes": ["okta.users.read", "okta.groups.read"], "okta-dpop": false}`)
	type got struct {
		ClientID, KeyFile string
		Scopes            []string
		DPoP              bool
	}
	for _, tc := range []struct {
		name string
		cmd  string
		env  map[string]string
		args []string
		want got
	}{
		{"defaults", "status", nil, nil,
			got{Scopes: []string{"okta.users.manage", "okta.users.read", "okta.groups.read"}, DPoP: true}},
		{"file", "sync", map[string]string{"PREENROLL_CONFIG": file}, nil,
			got{"0oaFile", "/file/key.pem", []string{"okta.users.read", "okta.groups.read"}, false}},
		{"env over file", "sync", map[string]string{"PREENROLL_CONFIG": file, "PREENROLL_OKTA_CLIENT_ID": "0oaEnv",
			"PREENROLL_OKTA_PRIVATE_KEY_FILE": "/env/key.pem", "PREENROLL_OKTA_SCOPES": "okta.users.manage", "PREENROLL_OKTA_DPOP": "true"}, nil,
			got{"0oaEnv", "/env/key.pem", []string{"okta.users.manage"}, true}},
		{"flag over env", "sync", map[string]string{"PREENROLL_CONFIG": file, "PREENROLL_OKTA_CLIENT_ID": "0oaEnv", "PREENROLL_OKTA_DPOP": "true"},
			[]string{"-okta-client-id", "0oaFlag", "-okta-private-key-file", "/flag/key.pem", "-okta-scopes", "okta.users.manage,okta.eventHooks.read", "-okta-dpop=false"},
			got{"0oaFlag", "/flag/key.pem", []string{"okta.users.manage", "okta.eventHooks.read"}, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLoader(tc.cmd, io.Discard)
			if err := l.fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, problems := l.resolve(func(k string) string { return tc.env[k] })
			if len(problems) > 0 {
				t.Fatalf("problems: %q", problems)
			}
			if diff := cmp.Diff(tc.want, got{cfg.OktaClientID, cfg.OktaPrivateKeyFile, cfg.OktaScopes, cfg.OktaDPoP}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestOAuthScopesByCommand: serve also registers its event hook, so it
// asks for okta.eventHooks.manage by default; the others do not.
func TestOAuthScopesByCommand(t *testing.T) {
	t.Parallel()
	s := lookupSetting("okta-scopes")
	for cmd, want := range map[string]string{
		"order": "okta.users.manage,okta.users.read,okta.groups.read",
		"sync":  "okta.users.manage,okta.users.read,okta.groups.read",
		"serve": "okta.users.manage,okta.users.read,okta.groups.read,okta.eventHooks.manage",
	} {
		if got := s.defaultOf(cmd); got != want {
			t.Errorf("default -okta-scopes of %s = %q, want %q", cmd, got, want)
		}
	}
}
