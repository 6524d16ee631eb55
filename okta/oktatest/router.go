package oktatest

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/oktarate"
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
	newRoute("POST", "/api/v1/authn", "", (*Server).handleAuthn),
	newRoute("POST", "/api/v1/authn/factors/{fid}/verify", "", (*Server).handleVerifyFactor),
}

func newRoute(method, pattern, scope string, h func(*Server, *exchange)) route {
	return route{method: method, pattern: strings.Split(strings.Trim(pattern, "/"), "/"), scope: scope, handle: h}
}

// match finds the route for a request. pathKnown reports whether some route
// has the path (for 405 versus 404).
func match(r *http.Request) (rt *route, params map[string]string, pathKnown bool) {
	raw := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
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
		ps := map[string]string{}
		ok := true
		for j, seg := range p {
			if strings.HasPrefix(seg, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				ps[strings.Trim(seg, "{}")] = segs[j]
			} else if seg != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathKnown = true
		if routes[i].method == r.Method {
			return &routes[i], ps, true
		}
	}
	return nil, nil, pathKnown
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.now
	latency := s.latency
	fault := s.takeFaultLocked(r)
	var planned FaultKind
	if fault == (Fault{}) {
		fault, planned, _ = s.planFaultLocked(r.Method, r.URL.Path)
	}
	s.mu.Unlock()
	x := &exchange{w: w, r: r, id: "req" + s.randomID(22), dropResponse: fault.DropResponse}
	x.entry = Request{
		Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, RequestID: x.id,
		RetryFor: r.Header.Get("X-Okta-Retry-For"), RetryCount: r.Header.Get("X-Okta-Retry-Count"),
	}
	if planned != 0 {
		x.entry.Fault = planned
		x.detail("fault plan: %s", planned)
	}
	defer s.finish(x)
	w.Header().Set("Date", now.Format(http.TimeFormat))
	w.Header().Set("X-Okta-Request-Id", x.id)

	if latency += fault.Latency; latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			x.detail("client went away during added latency")
			return
		}
	}
	if fault.Drop {
		x.detail("connection dropped by fault injection")
		dropConnection(w)
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
		s.writeFault(x, fault.Status)
		return
	}

	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if r.Header.Get("Content-Length") == "" && len(r.TransferEncoding) == 0 {
			s.lengthRequired(x)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
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
		s.fail(x, http.StatusInternalServerError, "E0000009", "Internal Server Error")
	}
}

// lengthRequired answers a body-less POST/PUT without Content-Length as
// Okta's edge does ("include a Content-Length: 0 header"). The exact body
// of Okta's 411 is not documented; this one is plain text.
func (s *Server) lengthRequired(x *exchange) {
	x.detail("POST/PUT without Content-Length or body")
	x.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	x.status, x.out, x.wrote = http.StatusLengthRequired, []byte("411 Length Required\n"), true
	x.entry.Status = http.StatusLengthRequired
}

// dropConnection closes the client's connection without a response.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2 or no hijacker: abort the stream
}

func (s *Server) record(x *exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, x.entry)
}

// takeFaultLocked consumes one matching fault, merging into a zero Fault
// if none matches.
func (s *Server) takeFaultLocked(r *http.Request) Fault {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			out := *f
			f.Count--
			if f.Count <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			return out
		}
	}
	return Fault{}
}

func (s *Server) writeFault(x *exchange, status int) {
	switch status {
	case http.StatusTooManyRequests:
		now := s.Now()
		x.w.Header().Set("X-Rate-Limit-Limit", "0")
		x.w.Header().Set("X-Rate-Limit-Remaining", "0")
		x.w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(s.window).Unix(), 10))
		s.fail(x, status, "E0000047", "API call exceeded rate limit due to too many requests.")
	case http.StatusInternalServerError:
		s.fail(x, status, "E0000009", "Internal Server Error")
	case http.StatusServiceUnavailable:
		s.fail(x, status, "E0000010", "Service is in read only mode")
	case http.StatusUnauthorized:
		s.fail(x, status, "E0000011", "Invalid token provided")
	case http.StatusForbidden:
		s.fail(x, status, "E0000006", "You do not have permission to perform the requested action")
	case http.StatusNotFound:
		s.fail(x, status, "E0000007", "Not found: Resource not found")
	case http.StatusBadRequest:
		s.fail(x, status, "E0000001", "Api validation failed: injected fault")
	default:
		s.fail(x, status, "E0000009", http.StatusText(status))
	}
}

// authorize checks the Authorization header: "SSWS <token>" or
// "Bearer <token>" with a known token (401 E0000011 otherwise) holding the
// route's scope (403 E0000006 otherwise).
func (s *Server) authorize(x *exchange, scope string) bool {
	h := x.r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || (scheme != "SSWS" && scheme != "Bearer") || tok == "" {
		x.detail("missing or malformed Authorization header")
		s.fail(x, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return false
	}
	s.mu.Lock()
	scopes, known := s.tokens[tok]
	s.mu.Unlock()
	if !known {
		x.detail("unknown token")
		s.fail(x, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return false
	}
	if scopes != nil && !hasScope(scopes, scope) {
		x.detail("token lacks scope %s", scope)
		s.fail(x, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
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

// bucketOf returns the rate-limit bucket of a request and its limit (0: not
// limited): a WithRateLimit prefix if one matches, else Okta's bucket from
// the table in internal/oktarate, with its WithBucketLimit override.
func (s *Server) bucketOf(method, path string) (key string, limit int) {
	for _, l := range s.limits {
		if strings.HasPrefix(path, l.prefix) {
			return "prefix " + l.prefix, l.n
		}
	}
	if !s.table {
		return "", 0
	}
	b, ok := oktarate.Classify(method, path)
	if !ok {
		return "", 0
	}
	if n, ok := s.bucketLimits[b.Name]; ok {
		return b.Name, n
	}
	return b.Name, b.Limit
}

// rateLimit counts the request in its bucket, sets the X-Rate-Limit-*
// headers and answers 429 E0000047 once the bucket is exhausted.
func (s *Server) rateLimit(x *exchange, now time.Time) bool {
	path := x.r.URL.Path
	if strings.HasPrefix(path, "/.well-known/") {
		return true
	}
	key, n := s.bucketOf(x.r.Method, path)
	if n <= 0 {
		return true
	}
	s.mu.Lock()
	b := s.buckets[key]
	if b == nil || !now.Before(b.start.Add(s.window)) {
		b = &bucketState{start: now}
		s.buckets[key] = b
	}
	allowed := b.count < n
	if allowed {
		b.count++
	}
	remaining := n - b.count
	reset := b.start.Add(s.window)
	s.mu.Unlock()
	h := x.w.Header()
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(n))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	if !allowed {
		x.detail("rate limit of bucket %s exhausted", key)
		s.fail(x, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		return false
	}
	return true
}
