package okta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

const hookSecret = "Basic aG9vazpzM2NyM3Q=" // the shared secret of the tests' hooks

// echoEndpoint is an event hook endpoint that answers Okta's verification
// when the request carries hookSecret, and 401 otherwise.
func echoEndpoint(t *testing.T) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != hookSecret {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet {
			_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
		}
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/okta/events"
}

func newHook(name, uri string, types ...string) okta.EventHook {
	if len(types) == 0 {
		types = []string{okta.EventTypePreregisterInitiate}
	}
	return okta.EventHook{
		Name:   name,
		Events: okta.EventSubscriptions{Items: types},
		Channel: okta.EventHookChannel{Config: okta.EventHookChannelConfig{
			URI:        uri,
			Headers:    []okta.EventHookHeader{{Key: "X-Tenant", Value: "acme"}},
			AuthScheme: &okta.EventHookAuthScheme{Key: "Authorization", Value: hookSecret},
		}},
	}
}

func fakeClient(t *testing.T, srv *oktatest.Server, opts ...okta.Option) *okta.Client {
	t.Helper()
	c, err := srv.Client(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newHookOrg returns a fake org, a client of it and the URI of an endpoint
// that passes Okta's verification.
func newHookOrg(t *testing.T) (*oktatest.Server, *okta.Client, string) {
	t.Helper()
	srv := oktatest.NewServer(t)
	return srv, fakeClient(t, srv), echoEndpoint(t)
}

// TestEventHookOperations walks one hook through every operation of the
// Event Hooks API against the fake and checks what each returns.
func TestEventHookOperations(t *testing.T) {
	t.Parallel()
	srv, c, uri := newHookOrg(t)
	ctx := t.Context()

	created, err := c.CreateEventHook(ctx, newHook("preenroll", uri))
	if err != nil {
		t.Fatalf("CreateEventHook: %v", err)
	}
	want := okta.EventHook{
		ID: created.ID, Name: "preenroll", Status: okta.EventHookActive, VerificationStatus: okta.EventHookUnverified,
		Events: okta.EventSubscriptions{Type: "EVENT_TYPE", Items: []string{okta.EventTypePreregisterInitiate}},
		Channel: okta.EventHookChannel{Type: "HTTP", Version: "1.0.0", Config: okta.EventHookChannelConfig{
			URI: uri, Headers: []okta.EventHookHeader{{Key: "X-Tenant", Value: "acme"}}, Method: "POST",
			// Okta returns the header name lower-cased and never the value.
			AuthScheme: &okta.EventHookAuthScheme{Type: "HEADER", Key: "authorization"},
		}},
		Created: srv.Now(), LastUpdated: srv.Now(), CreatedBy: created.CreatedBy,
	}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created hook (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(created.ID, "who") || created.CreatedBy == "" {
		t.Errorf("id %q, createdBy %q", created.ID, created.CreatedBy)
	}

	steps := []struct {
		name string
		call func() (okta.EventHook, error)
		edit func(*okta.EventHook) // the change to want
	}{
		{"get", func() (okta.EventHook, error) { return c.GetEventHook(ctx, created.ID) }, nil},
		{"list", func() (okta.EventHook, error) {
			hs, err := c.ListEventHooks(ctx)
			if len(hs) != 1 {
				return okta.EventHook{}, fmt.Errorf("listed %d hooks, want 1 (err %v)", len(hs), err)
			}
			return hs[0], err
		}, nil},
		{"verify", func() (okta.EventHook, error) { return c.VerifyEventHook(ctx, created.ID) },
			func(h *okta.EventHook) { h.VerificationStatus = okta.EventHookVerified }},
		{"replace name keeps verification", func() (okta.EventHook, error) {
			h := newHook("preenroll (prod)", uri)
			h.Description = "orders YubiKeys"
			h.Channel.Config.AuthScheme.Value = "" // keep the stored secret
			return c.ReplaceEventHook(ctx, created.ID, h)
		}, func(h *okta.EventHook) { h.Name, h.Description = "preenroll (prod)", "orders YubiKeys" }},
		{"replace channel needs verification", func() (okta.EventHook, error) {
			h := newHook("preenroll (prod)", uri+"/v2")
			h.Description = "orders YubiKeys"
			return c.ReplaceEventHook(ctx, created.ID, h)
		}, func(h *okta.EventHook) {
			h.Channel.Config.URI, h.VerificationStatus = uri+"/v2", okta.EventHookUnverified
		}},
		{"verify again", func() (okta.EventHook, error) { return c.VerifyEventHook(ctx, created.ID) },
			func(h *okta.EventHook) { h.VerificationStatus = okta.EventHookVerified }},
		{"deactivate", func() (okta.EventHook, error) { return c.DeactivateEventHook(ctx, created.ID) },
			func(h *okta.EventHook) { h.Status = okta.EventHookInactive }},
		{"activate", func() (okta.EventHook, error) { return c.ActivateEventHook(ctx, created.ID) },
			func(h *okta.EventHook) { h.Status = okta.EventHookActive }},
		{"deactivate before delete", func() (okta.EventHook, error) { return c.DeactivateEventHook(ctx, created.ID) },
			func(h *okta.EventHook) { h.Status = okta.EventHookInactive }},
	}
	for _, s := range steps {
		got, err := s.call()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.edit != nil {
			s.edit(&want)
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(okta.EventHook{}, "LastUpdated")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	if err := c.DeleteEventHook(ctx, created.ID); err != nil {
		t.Fatalf("DeleteEventHook: %v", err)
	}
	if _, err := c.GetEventHook(ctx, created.ID); !errors.Is(err, okta.ErrNotFound) {
		t.Errorf("GetEventHook after delete = %v, want ErrNotFound", err)
	}
	if hs, err := c.ListEventHooks(ctx); err != nil || len(hs) != 0 {
		t.Errorf("ListEventHooks after delete = %d hooks, %v", len(hs), err)
	}
	// The secret never left in a response or a log entry.
	for _, r := range srv.RequestLog() {
		if strings.Contains(fmt.Sprintf("%+v", r), hookSecret) {
			t.Errorf("request log entry shows the secret: %+v", r)
		}
	}
}

// TestEventHookErrors: every operation's failures, refused by the client
// before sending (ErrInvalidArgument, naming the field) or by the fake.
func TestEventHookErrors(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	srv.AddToken("read-only", "okta.eventHooks.read")
	c := fakeClient(t, srv)
	ctx := t.Context()
	uri := echoEndpoint(t)
	active, err := c.CreateEventHook(ctx, newHook("active", uri))
	if err != nil {
		t.Fatal(err)
	}
	readOnly, err := okta.NewClient(srv.URL(), "read-only")
	if err != nil {
		t.Fatal(err)
	}
	unanswered := newHook("unanswered", uri)
	unanswered.Channel.Config.AuthScheme.Value = "Basic wrong"
	bad, err := c.CreateEventHook(ctx, unanswered)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*okta.EventHook)) okta.EventHook {
		h := newHook("x", uri)
		f(&h)
		return h
	}
	create := func(h okta.EventHook) func() error {
		return func() error { _, err := c.CreateEventHook(ctx, h); return err }
	}
	tests := []struct {
		name string
		call func() error
		want error
		text string // in the error message
	}{
		{"empty name", create(edit(func(h *okta.EventHook) { h.Name = " " })), okta.ErrInvalidArgument, "name is empty"},
		{"long name", create(edit(func(h *okta.EventHook) { h.Name = strings.Repeat("n", 256) })), okta.ErrInvalidArgument, "name has 256 characters"},
		{"no event types", create(edit(func(h *okta.EventHook) { h.Events.Items = nil })), okta.ErrInvalidArgument, "events.items is empty"},
		{"301 event types", create(edit(func(h *okta.EventHook) { h.Events.Items = make([]string, 301) })), okta.ErrInvalidArgument, "more than 300"},
		{"blank event type", create(edit(func(h *okta.EventHook) { h.Events.Items = []string{"a b"} })), okta.ErrInvalidArgument, "events.items[0]"},
		{"wrong events type", create(edit(func(h *okta.EventHook) { h.Events.Type = "ALL" })), okta.ErrInvalidArgument, "events.type"},
		{"filter not JSON", create(edit(func(h *okta.EventHook) { h.Events.Filter = []byte("{") })), okta.ErrInvalidArgument, "events.filter"},
		{"wrong channel type", create(edit(func(h *okta.EventHook) { h.Channel.Type = "SMTP" })), okta.ErrInvalidArgument, "channel.type"},
		{"wrong channel version", create(edit(func(h *okta.EventHook) { h.Channel.Version = "2.0.0" })), okta.ErrInvalidArgument, "channel.version"},
		{"no URI", create(edit(func(h *okta.EventHook) { h.Channel.Config.URI = "" })), okta.ErrInvalidArgument, "channel.config.uri is empty"},
		{"http URI", create(edit(func(h *okta.EventHook) { h.Channel.Config.URI = "http://hooks.example.com/x" })), okta.ErrInvalidArgument, "plain http"},
		{"relative URI", create(edit(func(h *okta.EventHook) { h.Channel.Config.URI = "/hook" })), okta.ErrInvalidArgument, "not an absolute https URL"},
		{"URI with space", create(edit(func(h *okta.EventHook) { h.Channel.Config.URI = "https://a.example/ x" })), okta.ErrInvalidArgument, "whitespace"},
		{"long URI", create(edit(func(h *okta.EventHook) { h.Channel.Config.URI = "https://a.example/" + strings.Repeat("x", 1010) })), okta.ErrInvalidArgument, "more than 1024"},
		{"bad header name", create(edit(func(h *okta.EventHook) { h.Channel.Config.Headers[0].Key = "X Tenant" })), okta.ErrInvalidArgument, "headers[0].key"},
		{"header value newline", create(edit(func(h *okta.EventHook) { h.Channel.Config.Headers[0].Value = "a\r\nb" })), okta.ErrInvalidArgument, "headers[0].value"},
		{"auth without value", create(edit(func(h *okta.EventHook) { h.Channel.Config.AuthScheme.Value = "" })), okta.ErrInvalidArgument, "authScheme.value is empty"},
		{"auth value newline", create(edit(func(h *okta.EventHook) { h.Channel.Config.AuthScheme.Value = "Basic x\nInjected: 1" })), okta.ErrInvalidArgument, "authScheme.value contains a control character"},
		{"auth bad key", create(edit(func(h *okta.EventHook) { h.Channel.Config.AuthScheme.Key = "" })), okta.ErrInvalidArgument, "authScheme.key"},
		{"auth bad type", create(edit(func(h *okta.EventHook) { h.Channel.Config.AuthScheme.Type = "BASIC" })), okta.ErrInvalidArgument, "authScheme.type"},
		{"reserved header", create(edit(func(h *okta.EventHook) { h.Channel.Config.Headers[0].Key = "Accept" })), okta.ErrValidation, "reserved header"},
		{"header equals auth header", create(edit(func(h *okta.EventHook) { h.Channel.Config.Headers[0].Key = "authorization" })), okta.ErrValidation, "reserved header"},
		{"read-only token creates", func() error { _, err := readOnly.CreateEventHook(ctx, newHook("x", uri)); return err }, okta.ErrForbidden, "403"},
		{"read-only token lists", func() error { _, err := readOnly.ListEventHooks(ctx); return err }, nil, ""},
		{"get unknown", func() error { _, err := c.GetEventHook(ctx, "whoUnknown"); return err }, okta.ErrNotFound, "404"},
		{"get bad id", func() error { _, err := c.GetEventHook(ctx, "a/b"); return err }, okta.ErrInvalidArgument, "path separator"},
		{"replace unknown", func() error { _, err := c.ReplaceEventHook(ctx, "whoUnknown", newHook("x", uri)); return err }, okta.ErrNotFound, "404"},
		{"replace invalid", func() error {
			_, err := c.ReplaceEventHook(ctx, active.ID, edit(func(h *okta.EventHook) { h.Name = "" }))
			return err
		}, okta.ErrInvalidArgument, "name is empty"},
		{"replace new auth header without value", func() error {
			_, err := c.ReplaceEventHook(ctx, active.ID, edit(func(h *okta.EventHook) {
				h.Channel.Config.AuthScheme = &okta.EventHookAuthScheme{Key: "X-Secret"}
			}))
			return err
		}, okta.ErrValidation, "authScheme.value"},
		{"delete unknown", func() error { return c.DeleteEventHook(ctx, "whoUnknown") }, okta.ErrNotFound, "404"},
		{"delete active", func() error { return c.DeleteEventHook(ctx, active.ID) }, okta.ErrForbidden, "E0000038"},
		{"delete empty id", func() error { return c.DeleteEventHook(ctx, "") }, okta.ErrInvalidArgument, "id is empty"},
		{"activate unknown", func() error { _, err := c.ActivateEventHook(ctx, "whoUnknown"); return err }, okta.ErrNotFound, "404"},
		{"deactivate unknown", func() error { _, err := c.DeactivateEventHook(ctx, "whoUnknown"); return err }, okta.ErrNotFound, "404"},
		{"verify unknown", func() error { _, err := c.VerifyEventHook(ctx, "whoUnknown"); return err }, okta.ErrNotFound, "404"},
		{"verify fails", func() error { _, err := c.VerifyEventHook(ctx, bad.ID); return err }, okta.ErrValidation, "answered HTTP 401"},
		{"ensure invalid", func() error { _, err := c.EnsureEventHook(ctx, okta.EventHook{Name: "x"}); return err }, okta.ErrInvalidArgument, "events.items"},
	}
	for _, tt := range tests {
		err := tt.call()
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: %v, want success", tt.name, err)
		case tt.want != nil && (!errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text)):
			t.Errorf("%s: %v, want %v containing %q", tt.name, err, tt.want, tt.text)
		}
		if err != nil && (strings.Contains(err.Error(), hookSecret) || strings.Contains(err.Error(), "Injected")) {
			t.Errorf("%s: error shows the secret: %v", tt.name, err)
		}
	}
	if h, err := c.GetEventHook(ctx, active.ID); err != nil || h.Status != okta.EventHookActive {
		t.Errorf("the ACTIVE hook after a refused delete = %+v, %v", h, err)
	}
	// The failed verification's cause says why, and the hook stays unverified.
	_, err = c.VerifyEventHook(ctx, bad.ID)
	var apiErr *okta.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || len(apiErr.Causes) != 1 {
		t.Fatalf("VerifyEventHook = %v, want a 400 APIError with one cause", err)
	}
	if h, _ := c.GetEventHook(ctx, bad.ID); h.VerificationStatus != okta.EventHookUnverified {
		t.Errorf("after a failed verification the hook is %s", h.VerificationStatus)
	}
}

// TestEventHookActiveLimit: Okta allows 25 active hooks per org; the 26th
// create or activate is refused until one is deactivated.
func TestEventHookActiveLimit(t *testing.T) {
	t.Parallel()
	_, c, uri := newHookOrg(t)
	ctx := t.Context()
	ids := make([]string, okta.MaxActiveEventHooks)
	for i := range ids {
		h, err := c.CreateEventHook(ctx, newHook(fmt.Sprintf("hook %d", i), uri))
		if err != nil {
			t.Fatalf("hook %d: %v", i, err)
		}
		ids[i] = h.ID
	}
	if _, err := c.CreateEventHook(ctx, newHook("one too many", uri)); !errors.Is(err, okta.ErrValidation) || !strings.Contains(err.Error(), "25") {
		t.Fatalf("26th active hook = %v, want ErrValidation naming the limit", err)
	}
	if _, err := c.DeactivateEventHook(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	extra, err := c.CreateEventHook(ctx, newHook("replacement", uri))
	if err != nil {
		t.Fatalf("create after a deactivation: %v", err)
	}
	if _, err := c.ActivateEventHook(ctx, ids[0]); !errors.Is(err, okta.ErrValidation) {
		t.Errorf("activating a 26th hook = %v, want ErrValidation", err)
	}
	if _, err := c.DeactivateEventHook(ctx, extra.ID); err != nil {
		t.Fatal(err)
	}
	if h, err := c.ActivateEventHook(ctx, ids[0]); err != nil || h.Status != okta.EventHookActive {
		t.Errorf("activate with room = %s, %v", h.Status, err)
	}
}

// TestEventHookSecretRedacted: the write-only secret never shows in fmt
// output, JSON or slog, yet reaches Okta.
func TestEventHookSecretRedacted(t *testing.T) {
	t.Parallel()
	h := newHook("preenroll", "https://hooks.example.com/okta")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("hook", "hook", h, "auth", h.Channel.Config.AuthScheme)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v", h, h, h), fmt.Sprintf("%v %+v %#v %q %x", *h.Channel.Config.AuthScheme,
			*h.Channel.Config.AuthScheme, *h.Channel.Config.AuthScheme, h.Channel.Config.AuthScheme.Value, h.Channel.Config.AuthScheme.Value),
		string(js), logs.String(),
	} {
		if strings.Contains(out, hookSecret) || strings.Contains(out, fmt.Sprintf("%x", hookSecret)) {
			t.Errorf("secret shown in %s", out)
		}
	}
	if !strings.Contains(string(js), `"value":"[REDACTED]"`) || !strings.Contains(logs.String(), `"authHeader":"Authorization"`) {
		t.Errorf("JSON %s, log %s", js, logs.String())
	}
	// Decoding Okta's answer (no value) gives an empty secret.
	var back okta.EventHook
	if err := json.Unmarshal([]byte(`{"channel":{"config":{"authScheme":{"type":"HEADER","key":"authorization"}}}}`), &back); err != nil {
		t.Fatal(err)
	}
	if a := back.Channel.Config.AuthScheme; a == nil || a.Key != "authorization" || a.Value != "" {
		t.Errorf("decoded auth scheme %+v", a)
	}
}

// TestEnsureEventHook: EnsureEventHook from each starting state ends with
// one ACTIVE, VERIFIED hook as wanted, making only the calls it needs.
func TestEnsureEventHook(t *testing.T) {
	t.Parallel()
	// priorHook is a hook in the org before Ensure runs: named name, at the
	// endpoint's URI plus path, for types (default the preregistration
	// event); ensured (ACTIVE, VERIFIED) or only created; then deactivated.
	type priorHook struct {
		name, path          string
		types               []string
		ensured, deactivate bool
	}
	tests := []struct {
		name  string
		prior []priorHook // the org before
		types []string    // the wanted hook's event types, if not the default
		calls []string    // the Event Hooks API calls Ensure makes
	}{
		{name: "none yet", calls: []string{"GET", "POST", "GET", "POST verify"}},
		{name: "already there and verified: the secret is sent again", prior: []priorHook{{name: "preenroll", ensured: true}}, calls: []string{"GET", "PUT"}},
		{
			name:  "other event types",
			prior: []priorHook{{name: "preenroll", types: []string{"user.lifecycle.create"}, ensured: true}},
			types: []string{"user.lifecycle.create", okta.EventTypePreregisterInitiate},
			calls: []string{"GET", "PUT"},
		},
		{
			name:  "moved to another URI",
			prior: []priorHook{{name: "preenroll", path: "/old", ensured: true}},
			calls: []string{"GET", "PUT", "POST verify"},
		},
		{name: "renamed, same URI", prior: []priorHook{{name: "old name", ensured: true}}, calls: []string{"GET", "PUT"}},
		{
			name:  "deactivated",
			prior: []priorHook{{name: "preenroll", ensured: true, deactivate: true}},
			calls: []string{"GET", "PUT", "POST activate"},
		},
		{
			name:  "duplicates from an earlier concurrent start",
			prior: []priorHook{{name: "preenroll"}, {name: "preenroll"}, {name: "preenroll"}},
			calls: []string{"GET", "PUT", "POST verify", "POST deactivate", "DELETE", "POST deactivate", "DELETE"},
		},
		{
			name:  "another service's hook is left alone",
			prior: []priorHook{{name: "siem", path: "/siem", types: []string{"user.session.start"}}},
			calls: []string{"GET", "POST", "GET", "POST verify"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, uri := newHookOrg(t)
			for _, p := range tt.prior {
				create := c.CreateEventHook
				if p.ensured {
					create = c.EnsureEventHook
				}
				h, err := create(t.Context(), newHook(p.name, uri+p.path, p.types...))
				if err == nil && p.deactivate {
					_, err = c.DeactivateEventHook(t.Context(), h.ID)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			want := newHook("preenroll", uri, tt.types...)
			others := otherHooks(t, c, want.Name, uri)
			before := len(srv.RequestLog())
			got, err := c.EnsureEventHook(t.Context(), want)
			if err != nil {
				t.Fatalf("EnsureEventHook: %v", err)
			}
			if diff := cmp.Diff(tt.calls, hookCalls(srv.RequestLog()[before:])); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if got.Name != want.Name || got.Channel.Config.URI != uri || got.Status != okta.EventHookActive ||
				got.VerificationStatus != okta.EventHookVerified || !cmp.Equal(got.Events.Items, want.Events.Items) {
				t.Errorf("EnsureEventHook = %+v", got)
			}
			hooks, err := c.ListEventHooks(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var ours []string
			for _, h := range hooks {
				if h.Name == want.Name || h.Channel.Config.URI == uri {
					ours = append(ours, h.ID)
				}
			}
			if diff := cmp.Diff([]string{got.ID}, ours); diff != "" {
				t.Errorf("the service's hooks after Ensure (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(others, otherHooks(t, c, want.Name, uri)); diff != "" {
				t.Errorf("other hooks changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestEnsureEventHookConcurrent: instances starting at once leave exactly
// one hook, ACTIVE and VERIFIED, and none of them fails.
func TestEnsureEventHookConcurrent(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	uri := echoEndpoint(t)
	const instances = 4
	var wg sync.WaitGroup
	errs := make([]error, instances)
	for i := range instances {
		c := fakeClient(t, srv)
		wg.Go(func() { _, errs[i] = c.EnsureEventHook(t.Context(), newHook("preenroll", uri)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	hooks, err := fakeClient(t, srv).ListEventHooks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].Status != okta.EventHookActive || hooks[0].VerificationStatus != okta.EventHookVerified {
		t.Errorf("hooks after %d concurrent Ensures: %+v", instances, hooks)
	}
}

// otherHooks lists the hooks that are not the service's.
func otherHooks(t *testing.T, c *okta.Client, name, uri string) []okta.EventHook {
	t.Helper()
	hooks, err := c.ListEventHooks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []okta.EventHook
	for _, h := range hooks {
		if h.Name != name && h.Channel.Config.URI != uri {
			out = append(out, h)
		}
	}
	return out
}

// hookCalls summarizes Event Hooks API requests: the method, and the
// lifecycle action of a POST to one hook.
func hookCalls(log []oktatest.Request) []string {
	var out []string
	for _, r := range log {
		if !strings.HasPrefix(r.Path, "/api/v1/eventHooks") {
			continue
		}
		call := r.Method
		if _, action, ok := strings.Cut(r.Path, "/lifecycle/"); ok {
			call += " " + action
		}
		out = append(out, call)
	}
	return out
}

// TestEventHookHeaderValueRedacted: a custom header's value never shows in
// fmt output, JSON or slog, yet decodes from Okta's answer as it is.
func TestEventHookHeaderValueRedacted(t *testing.T) {
	t.Parallel()
	const value = "header-value-5e1f0c"
	h := newHook("preenroll", "https://hooks.example.com/okta")
	h.Channel.Config.Headers = []okta.EventHookHeader{{Key: "X-Tenant", Value: value}}
	hd := h.Channel.Config.Headers[0]
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("hook", "hook", h, "header", hd, "config", h.Channel.Config)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("hook", "hook", h, "header", hd, "config", h.Channel.Config)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v", h, h, h), fmt.Sprintf("%v %+v %#v %s %q %x", hd, hd, hd, hd.Value, hd.Value, hd.Value),
		string(js), jsonLog.String(), textLog.String(),
	} {
		if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
			t.Errorf("header value shown in %s", out)
		}
	}
	if !strings.Contains(string(js), `{"key":"X-Tenant","value":"[REDACTED]"}`) {
		t.Errorf("JSON %s", js)
	}
	var back okta.EventHookHeader
	if err := json.Unmarshal([]byte(`{"key":"X-Tenant","value":"acme"}`), &back); err != nil {
		t.Fatal(err)
	}
	if back.Key != "X-Tenant" || back.Value.Reveal() != "acme" {
		t.Errorf("decoded header %q: %q", back.Key, back.Value.Reveal())
	}
}

// TestEnsureEventHookVerifyRestarts: after a refused verification
// EnsureEventHook starts over without replacing the hook again (a
// concurrent instance's replacement is what fails a verification under
// way), at most 3 times: an endpoint that refuses the first verification
// ends verified; one that refuses them all fails after 4.
func TestEnsureEventHookVerifyRestarts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		refuse     int // verification requests the endpoint refuses first (Okta tries each verification twice)
		wantErr    bool
		wantCalls  map[string]int
		wantVerify int
	}{
		{name: "refused once", refuse: 2, wantCalls: map[string]int{"PUT": 1, "verify": 2}, wantVerify: 3},
		{name: "refused always", refuse: 100, wantErr: true, wantCalls: map[string]int{"PUT": 1, "verify": 4}, wantVerify: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := oktatest.NewServer(t)
			var mu sync.Mutex
			verifications := 0
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				verifications++
				refuse := verifications <= tc.refuse
				mu.Unlock()
				if refuse {
					http.Error(w, "not now", http.StatusServiceUnavailable)
					return
				}
				_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
			}))
			t.Cleanup(hs.Close)
			c := fakeClient(t, srv)
			want := newHook("preenroll", hs.URL+"/okta/events")
			// A hook exists (an earlier start): Ensure replaces it for its
			// secret, then verifies it.
			created, err := c.CreateEventHook(t.Context(), want)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ActivateEventHook(t.Context(), created.ID); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			verifications = 0
			mu.Unlock()
			h, err := c.EnsureEventHook(t.Context(), want)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("EnsureEventHook error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, okta.ErrValidation) {
				t.Errorf("error = %v, want ErrValidation", err)
			}
			if !tc.wantErr && h.VerificationStatus != okta.EventHookVerified {
				t.Errorf("hook = %+v, want VERIFIED", h)
			}
			calls := map[string]int{}
			for _, r := range srv.RequestLog() {
				switch {
				case r.Method == "PUT" && strings.HasPrefix(r.Path, "/api/v1/eventHooks/"):
					calls["PUT"]++
				case strings.HasSuffix(r.Path, "/lifecycle/verify"):
					calls["verify"]++
				}
			}
			if diff := cmp.Diff(tc.wantCalls, calls); diff != "" {
				t.Errorf("calls to Okta (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if verifications != tc.wantVerify {
				t.Errorf("the endpoint was asked %d times, want %d", verifications, tc.wantVerify)
			}
		})
	}
}
