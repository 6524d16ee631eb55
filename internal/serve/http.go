package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/preenroll/preenroll/fulfillment"
)

// routes is serve's HTTP handler: the event hook, /healthz, /readyz,
// /metrics, a status page at /status, and the console at "/" (or, with the
// console off, the status page there too). The console's "/" is the least
// specific pattern, so the hook path and serve's own endpoints keep
// theirs. Every request gets a request ID (the X-Request-Id it came with
// if well-formed, else a new one), echoed in the response and put in the
// request's log lines (the console's included).
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(s.cfg.HookPath, countDeliveries(s.m, s.svc.QueuedEventHandler(s.queue.enqueue)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", s.index)
	if s.console != nil {
		mux.Handle("/", s.console)
	} else {
		mux.HandleFunc("GET /{$}", s.index)
	}
	return s.withRequestID(mux)
}

type requestIDKey struct{}

// withRequestID gives each request an ID and logs it.
func (s *server) withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !wellFormedID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		// Every response, serve's own and the event hook's included. The
		// console sets it too (a package other servers mount): Set keeps
		// one.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		h.ServeHTTP(sw, r)
		level := slog.LevelDebug
		if r.URL.Path == s.cfg.HookPath || sw.status >= 500 {
			level = slog.LevelInfo
		}
		s.log.LogAttrs(r.Context(), level, "serve: request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.String("took", time.Since(start).String()), slog.String("remote", r.RemoteAddr))
	})
}

// wellFormedID accepts 8-64 letters, digits, '-' and '_'.
func wellFormedID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// readiness is the body of /readyz.
type readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// ready checks that serve's event hook is registered (when serve
// registers it), the store (a read), that Okta (and Yubico, unless
// order-only) answered within the ready window, and that the last
// authenticated request to each did not have its credentials refused
// (401 or 403: a revoked or expired token, a missing scope).
func (s *server) ready(ctx context.Context) readiness {
	rd := readiness{Ready: true, Checks: map[string]string{}}
	fail := func(name, why string) { rd.Ready, rd.Checks[name] = false, why }
	select {
	case <-s.draining:
		fail("serve", "shutting down")
	default:
		rd.Checks["serve"] = "ok"
	}
	if s.hookPending.Load() {
		// Okta delivers nothing to a hook it has not verified yet.
		fail("hook", "registering the event hook at Okta")
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.store.List(sctx, fulfillment.Query{Limit: 1}); err != nil {
		fail("store", err.Error())
	} else {
		rd.Checks["store"] = "ok"
	}
	vendors := []string{vendorOkta}
	if s.yubico != nil {
		vendors = append(vendors, vendorYubico)
	}
	for _, v := range vendors {
		at := s.m.reachedAt(v)
		switch why := s.m.refusedCredentials(v); {
		case why != "":
			fail(v, why)
		case at.IsZero():
			fail(v, "no answer yet")
		case time.Since(at) > s.cfg.ReadyWindow:
			fail(v, fmt.Sprintf("no answer for %v", time.Since(at).Round(time.Second)))
		default:
			rd.Checks[v] = "ok"
		}
	}
	return rd
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	rd := s.ready(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if !rd.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(rd)
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>preenroll serve</title>{{if .Demo}}<meta http-equiv="refresh" content="2">{{end}}
<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}</style></head><body>
<h1>preenroll serve</h1>
<p>{{if .Console}}<a href="/">console</a> · {{end}}<a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a> · event hook at <code>{{.Hook}}</code></p>
{{if .Demo}}<h2>Demo org (fake time {{.Now}})</h2>
<p>In-process fakes of Okta and Yubico; one fake day passes every {{.Day}}. An administrator orders a key for each user in Okta;
Okta's event hook tells this service, which enrolls, ships, activates and sends the PIN; each user signs in with the key on arrival.</p>
<table><tr><th>user</th><th>status</th><th>step</th><th>shipment</th></tr>
{{range .Records}}<tr><td>{{.Login}}</td><td>{{.Status}}</td><td>{{.Step}}</td><td>{{.ShipmentState}}</td></tr>{{end}}
</table>{{end}}
</body></html>`))

// indexPolicy lets the status page have its one inline stylesheet and
// nothing else: no script, no image, no framing.
const indexPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// index shows the endpoints and, in the demo, every user's key.
func (s *server) index(w http.ResponseWriter, r *http.Request) {
	data := struct {
		Demo    bool
		Console bool
		Hook    string
		Now     string
		Day     time.Duration
		Records []fulfillment.Record
	}{Demo: s.demo != nil, Console: s.console != nil, Hook: s.cfg.HookPath, Day: s.cfg.DemoDay}
	if s.demo != nil {
		data.Now = s.demo.world.Now().Format("2006-01-02 15:04")
		recs, err := s.store.List(r.Context(), fulfillment.Query{Limit: 1000})
		if err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		data.Records = recs
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", indexPolicy)
	if err := indexPage.Execute(w, data); err != nil {
		s.log.Warn("serve: index page", "error", err.Error())
	}
}

// banner prints what to open.
func (s *server) banner(base string) {
	out := s.cfg.Stdout
	if s.demo != nil {
		fmt.Fprintf(out, "preenroll serve: demo org with %d users, one fake day every %v (no Okta org configured)\n", s.cfg.DemoUsers, s.cfg.DemoDay)
		fmt.Fprintf(out, "  open %s/status to watch the keys go from order to first sign-in\n", base)
		if s.console != nil {
			fmt.Fprintf(out, "  console: %s/ (sign in as %s: the fake org's sign-in page asks for the username only)\n", base, s.demo.admin)
		}
	} else {
		fmt.Fprintf(out, "preenroll serve: Okta org %s\n", s.okta.OrgURL())
		if s.console != nil {
			fmt.Fprintf(out, "  console: %s/ (members of the Okta group %s may act)\n", base, s.cfg.Console.AdminGroup)
		}
	}
	fmt.Fprintf(out, "  event hook: %s%s\n  health: %s/healthz  ready: %s/readyz  metrics: %s/metrics\n", base, s.cfg.HookPath, base, base, base)
}

// requestIDHandler adds the request ID of the context (if any) to every
// log record, so the Service's lines during a hook request carry it too.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("requestId", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
