package oktatest

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/preenroll/preenroll/internal/fakehttp"
)

// Scopes a route needs ("" = public, no token).
const (
	scopeUsersRead    = "okta.users.read"
	scopeUsersManage  = "okta.users.manage"
	scopeGroupsRead   = "okta.groups.read"
	scopeGroupsManage = "okta.groups.manage"
)

type route struct {
	method  string
	pattern []string // segments; "{name}" captures
	scope   string
	handle  func(*Server, *exchange)
}

const prereg = "/webauthn-registration/api/v1"

var routes = []route{
	newRoute("GET", "/.well-known/openid-configuration", "", (*Server).handleOpenIDConfig),
	newRoute("POST", "/oauth2/v1/token", "", (*Server).handleToken),
	newRoute("GET", AuthorizePath, "", (*Server).handleAuthorize),
	newRoute("POST", SignInPath, "", (*Server).handleSignIn),
	newRoute("GET", KeysPath, "", (*Server).handleKeys),
	newRoute("GET", UserinfoPath, "", (*Server).handleUserinfo),
	newRoute("POST", UserinfoPath, "", (*Server).handleUserinfo),
	newRoute("GET", LogoutPath, "", (*Server).handleLogout),
	newRoute("POST", LogoutPath, "", (*Server).handleLogout),
	newRoute("POST", "/api/v1/users", scopeUsersManage, (*Server).handleCreateUser),
	newRoute("GET", "/api/v1/users/{id}", scopeUsersRead, (*Server).handleGetUser),
	newRoute("POST", "/api/v1/users/{id}", scopeUsersManage, (*Server).handleUpdateUser),
	newRoute("GET", "/api/v1/users", scopeUsersRead, (*Server).handleListUsers),
	newRoute("DELETE", "/api/v1/users/{id}", scopeUsersManage, (*Server).handleDeleteUser),
	newRoute("POST", "/api/v1/users/{id}/lifecycle/activate", scopeUsersManage, (*Server).handleActivateUser),
	newRoute("POST", "/api/v1/users/{id}/lifecycle/reactivate", scopeUsersManage, (*Server).handleReactivateUser),
	newRoute("POST", "/api/v1/users/{id}/lifecycle/deactivate", scopeUsersManage, userMoveHandler("deactivate")),
	newRoute("POST", "/api/v1/users/{id}/lifecycle/suspend", scopeUsersManage, userMoveHandler("suspend")),
	newRoute("POST", "/api/v1/users/{id}/lifecycle/unsuspend", scopeUsersManage, userMoveHandler("unsuspend")),
	newRoute("POST", "/api/v1/users/{id}/lifecycle/unlock", scopeUsersManage, userMoveHandler("unlock")),
	newRoute("POST", "/api/v1/users/{id}/lifecycle/reset_factors", scopeUsersManage, userMoveHandler("reset_factors")),
	newRoute("POST", "/api/v1/groups", scopeGroupsManage, (*Server).handleCreateGroup),
	newRoute("GET", "/api/v1/groups", scopeGroupsRead, (*Server).handleListGroups),
	newRoute("GET", "/api/v1/groups/{gid}", scopeGroupsRead, (*Server).handleGetGroup),
	newRoute("PUT", "/api/v1/groups/{gid}/users/{uid}", scopeGroupsManage, (*Server).handleAddToGroup),
	newRoute("DELETE", "/api/v1/groups/{gid}/users/{uid}", scopeGroupsManage, (*Server).handleRemoveFromGroup),
	newRoute("GET", "/api/v1/groups/{gid}/users", scopeGroupsRead, (*Server).handleListMembers),
	newRoute("POST", prereg+"/initiate-fulfillment-request", scopeUsersManage, (*Server).handleInitiate),
	newRoute("POST", prereg+"/enroll", scopeUsersManage, (*Server).handleEnroll),
	newRoute("POST", prereg+"/activate", scopeUsersManage, (*Server).handleActivate),
	newRoute("POST", prereg+"/send-pin", scopeUsersManage, (*Server).handleSendPIN),
	newRoute("GET", prereg+"/users/{uid}/enrollments", scopeUsersRead, (*Server).handleListEnrollments),
	newRoute("DELETE", prereg+"/users/{uid}/enrollments/{eid}", scopeUsersManage, (*Server).handleDeleteEnrollment),
	newRoute("POST", prereg+"/users/{uid}/enrollments/{eid}/mark-error", scopeUsersManage, (*Server).handleMarkError),
	newRoute("GET", "/api/v1/eventHooks", scopeEventHooksRead, (*Server).handleListHooks),
	newRoute("POST", "/api/v1/eventHooks", scopeEventHooksManage, (*Server).handleCreateHook),
	newRoute("GET", "/api/v1/eventHooks/{id}", scopeEventHooksRead, (*Server).handleGetHook),
	newRoute("PUT", "/api/v1/eventHooks/{id}", scopeEventHooksManage, (*Server).handleReplaceHook),
	newRoute("DELETE", "/api/v1/eventHooks/{id}", scopeEventHooksManage, (*Server).handleDeleteHook),
	newRoute("POST", "/api/v1/eventHooks/{id}/lifecycle/activate", scopeEventHooksManage, (*Server).handleActivateHook),
	newRoute("POST", "/api/v1/eventHooks/{id}/lifecycle/deactivate", scopeEventHooksManage, (*Server).handleDeactivateHook),
	newRoute("POST", "/api/v1/eventHooks/{id}/lifecycle/verify", scopeEventHooksManage, (*Server).handleVerifyHook),
	newRoute("GET", "/api/v1/logs", scopeLogsRead, (*Server).handleListLogs),
	newRoute("POST", "/api/v1/authn", "", (*Server).handleAuthn),
	newRoute("POST", "/api/v1/authn/factors/{fid}/verify", "", (*Server).handleVerifyFactor),
}

// faultRoutes are the routes for checking a fault rule's or plan's path
// (see fakehttp.NewFaults).
func faultRoutes() []fakehttp.Route {
	out := make([]fakehttp.Route, len(routes))
	for i, rt := range routes {
		out[i] = fakehttp.Route{Method: rt.method, Pattern: "/" + strings.Join(rt.pattern, "/")}
	}
	return out
}

func newRoute(method, pattern, scope string, h func(*Server, *exchange)) route {
	return route{method: method, pattern: strings.Split(strings.Trim(pattern, "/"), "/"), scope: scope, handle: h}
}

// match finds the route for a request. pathKnown reports whether some route
// has the path (for 405 versus 404).
func match(r *http.Request) (rt *route, params map[string]string, pathKnown bool) {
	segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, s := range segs { // unescaped in place
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, nil, false
		}
		segs[i] = u
	}
	for i := range routes {
		p := routes[i].pattern
		if len(p) != len(segs) {
			continue
		}
		ok := true
		for j, seg := range p {
			if strings.HasPrefix(seg, "{") {
				ok = segs[j] != ""
			} else {
				ok = seg == segs[j]
			}
			if !ok {
				break
			}
		}
		if !ok {
			continue
		}
		pathKnown = true
		if routes[i].method == r.Method {
			// The captures, made only for the route that matched (most
			// routes are tried and rejected on every request).
			ps := map[string]string{}
			for j, seg := range p {
				if strings.HasPrefix(seg, "{") {
					ps[strings.Trim(seg, "{}")] = segs[j]
				}
			}
			return &routes[i], ps, true
		}
	}
	return nil, nil, pathKnown
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	fault := s.faults.Take(r)
	x := &exchange{w: w, r: r, id: s.randomID("req", 22), dropResponse: fault.DropResponse}
	x.entry = Request{
		Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, RequestID: x.id,
		RetryFor: r.Header.Get("X-Okta-Retry-For"), RetryCount: r.Header.Get("X-Okta-Retry-Count"),
	}
	if fault.Planned != 0 {
		x.entry.HTTPFault = fault.Planned
		x.detail("fault plan: %s", fault.Planned)
	}
	defer s.finish(x)
	x.setHeader("Date", now.Format(http.TimeFormat))
	x.setHeader("X-Okta-Request-Id", x.id)

	// A slow Okta that the client gives up on handles nothing. net/http
	// notices a closed connection (and cancels r.Context) only once the
	// request body has been read to its end, so the body is read first:
	// otherwise a POST abandoned during the latency was handled after the
	// client left, stamped with a fake clock that other clients' waits
	// had moved on meanwhile.
	if fault.Latency > 0 && r.Body != nil && r.Body != http.NoBody {
		b, err := fakehttp.ReadBody(r, maxRequestBody)
		if err != nil {
			x.detail("client went away before the added latency: %v", err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	if fault.Latency > 0 && !fakehttp.Wait(r.Context(), fault.Latency) {
		x.detail("client went away during added latency")
		return
	}
	if fault.Drop {
		x.detail("connection dropped by fault injection")
		x.dropRequest = true
		return
	}

	rt, params, pathKnown := match(r)
	if rt == nil {
		if pathKnown {
			s.fail(x, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
			return
		}
		if s.t != nil {
			s.t.Errorf("oktatest: unhandled request %s %s", r.Method, r.URL.Path)
		}
		x.detail("no such route")
		s.fail(x, http.StatusNotFound, "E0000008", "The requested path was not found")
		return
	}
	x.params = params

	if fault.Status != 0 {
		x.detail("fault injection")
		s.writeFault(x, fault.Status, fault.RetryAfter)
		return
	}

	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if r.Header.Get("Content-Length") == "" && len(r.TransferEncoding) == 0 {
			s.lengthRequired(x)
			return
		}
	}
	body, err := fakehttp.ReadBody(r, maxRequestBody)
	if err != nil {
		x.detail("read body: %v", err)
		s.fail(x, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
		return
	}
	if len(body) > maxRequestBody {
		x.detail("body larger than %d bytes", maxRequestBody)
		s.fail(x, http.StatusRequestEntityTooLarge, "E0000003", "The request body was not well-formed.")
		return
	}
	if (r.Method == http.MethodPost || r.Method == http.MethodPut) && len(body) == 0 && len(r.TransferEncoding) > 0 {
		s.lengthRequired(x)
		return
	}
	x.body = body

	if rt.scope != "" && !s.authorize(x, rt.scope) {
		return
	}
	if !s.rateLimit(x, now) {
		return
	}
	rt.handle(s, x)
	if !x.wrote {
		// A handler bug: fail loudly.
		if s.t != nil {
			s.t.Errorf("oktatest: handler for %s %s wrote no response", r.Method, r.URL.Path)
		}
		s.failStatus(x, http.StatusInternalServerError)
	}
}

// lengthRequired answers a body-less POST/PUT without Content-Length as
// Okta's edge does ("include a Content-Length: 0 header"). The exact body
// of Okta's 411 is not documented; this one is plain text.
func (s *Server) lengthRequired(x *exchange) {
	x.detail("POST/PUT without Content-Length or body")
	x.setHeader("Content-Type", "text/plain; charset=utf-8")
	x.status, x.out, x.wrote = http.StatusLengthRequired, []byte("411 Length Required\n"), true
	x.entry.Status = http.StatusLengthRequired
}

func (s *Server) record(x *exchange) {
	s.log.Add(x.entry)
}

// authorize checks the Authorization header: "SSWS <token>" or
// "Bearer <token>" with a known token (401 E0000011 otherwise) holding the
// route's scope (403 E0000006 otherwise).
func (s *Server) authorize(x *exchange, scope string) bool {
	if ok, handled := s.authorizeOAuth(x, scope); handled {
		return ok
	}
	h := x.r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || (scheme != "SSWS" && scheme != "Bearer") || tok == "" {
		x.detail("missing or malformed Authorization header")
		s.failStatus(x, http.StatusUnauthorized)
		return false
	}
	s.mu.Lock()
	scopes, known := s.tokens[tok]
	s.mu.Unlock()
	if !known {
		x.detail("unknown token")
		s.failStatus(x, http.StatusUnauthorized)
		return false
	}
	if scopes != nil && !hasScope(scopes, scope) {
		x.detail("token lacks scope %s", scope)
		s.failStatus(x, http.StatusForbidden)
		return false
	}
	return true
}

func hasScope(have []string, need string) bool {
	for _, h := range have {
		if h == need {
			return true
		}
		// manage implies read
		if strings.TrimSuffix(h, ".manage") == strings.TrimSuffix(need, ".read") && strings.HasSuffix(h, ".manage") {
			return true
		}
	}
	return false
}
