package yubicotest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/yubico"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// faultRoutes are the routes route and routeConsole serve, for checking a
// fault rule's or plan's path (see fakehttp.NewFaults). A route added to
// either goes here too (TestFaultRoutesAreServed checks the other way).
var faultRoutes = []fakehttp.Route{
	{Method: http.MethodPost, Pattern: "/v1/shipments_exact"},
	{Method: http.MethodGet, Pattern: "/v1/shipments_exact"},
	{Method: http.MethodGet, Pattern: "/v1/shipments_exact/search-description"},
	{Method: http.MethodGet, Pattern: "/v1/shipments_exact/{id}"},
	{Method: http.MethodPut, Pattern: "/v1/shipments_exact/{id}"},
	{Method: http.MethodDelete, Pattern: "/v1/shipments_exact/{id}"},
	{Method: http.MethodPost, Pattern: "/v1/fpr/shipments"},
	{Method: http.MethodGet, Pattern: "/v1/fpr/shipments/{id}"},
	{Method: http.MethodDelete, Pattern: "/v1/fpr/shipments/{id}"},
	{Method: http.MethodGet, Pattern: "/v1/inventory"},
	{Method: http.MethodGet, Pattern: "/v1/shippablekeys"},
	{Method: http.MethodGet, Pattern: "/v1/products"},
	{Method: http.MethodGet, Pattern: "/v1/products/{id}"},
	{Method: http.MethodGet, Pattern: "/v1/countries"},
	{Method: http.MethodGet, Pattern: "/v1/countries/csv"},
	{Method: http.MethodPost, Pattern: "/v1/validate-address"},
	{Method: http.MethodGet, Pattern: yubico.TransportKeysPath},
	{Method: http.MethodGet, Pattern: yubico.SigningKeysPath},
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	m := r.Method
	switch {
	case p == "/v1/shipments_exact" && m == http.MethodPost:
		s.createExact(w, r)
	case p == "/v1/shipments_exact" && m == http.MethodGet:
		s.listExact(w, r)
	case p == "/v1/shipments_exact/search-description" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, searchDescription)
	case len(seg) == 3 && seg[0] == "v1" && seg[1] == "shipments_exact" && seg[2] != "":
		switch m {
		case http.MethodGet:
			s.getShipment(w, seg[2], false)
		case http.MethodPut:
			s.updateExact(w, r, seg[2])
		case http.MethodDelete:
			s.deleteShipment(w, seg[2], false)
		default:
			s.unknownRoute(w, r)
		}
	case p == "/v1/fpr/shipments" && m == http.MethodPost:
		s.createFPR(w, r)
	case len(seg) == 4 && seg[0] == "v1" && seg[1] == "fpr" && seg[2] == "shipments" && seg[3] != "":
		switch m {
		case http.MethodGet:
			s.getShipment(w, seg[3], true)
		case http.MethodDelete:
			s.deleteShipment(w, seg[3], true)
		default:
			s.unknownRoute(w, r)
		}
	case p == "/v1/inventory" && m == http.MethodGet:
		s.listInventory(w, r, false)
	case p == "/v1/shippablekeys" && m == http.MethodGet:
		s.listInventory(w, r, true)
	case p == "/v1/products" && m == http.MethodGet:
		s.listProducts(w, r)
	case len(seg) == 3 && seg[0] == "v1" && seg[1] == "products" && m == http.MethodGet:
		s.getProduct(w, seg[2])
	case p == "/v1/countries" && m == http.MethodGet:
		s.listCountries(w, r)
	case p == "/v1/countries/csv" && m == http.MethodGet:
		s.countriesCSV(w)
	case p == "/v1/validate-address" && m == http.MethodPost:
		s.validateAddress(w, r)
	default:
		s.unknownRoute(w, r)
	}
}

// routeConsole serves the console host: Yubico publishes its JWKS there
// (https://console.yubico.com/.well-known/yubico-transport-keys.jwks and
// .../yubico-sign.jwks), not on the API host.
func (s *Server) routeConsole(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == yubico.TransportKeysPath && r.Method == http.MethodGet:
		writeBody(w, http.StatusOK, s.transportJWKS)
	case r.URL.Path == yubico.SigningKeysPath && r.Method == http.MethodGet:
		writeBody(w, http.StatusOK, s.signingJWKS)
	default:
		s.unknownRoute(w, r)
	}
}

var searchDescription = map[string]any{
	"searchable_fields": []string{"shipment_id", "shipment_state_id", "recipient", "recipient_email",
		"recipient_lastname", "country_code_2", "postal_code", "city", "shipment_type"},
	"sortable_fields":   []string{"shipment_request_date"},
	"filterable_fields": []string{"shipment_state_id", "country_code_2", "shipment_type"},
	"operation_types":   []string{"eq", "ne", "lt", "gt", "contains"},
}

// errorBody is the fake's error body (Yubico's own format is not public).
type errorBody struct {
	ErrorCode string               `json:"error_code"`
	Message   string               `json:"message"`
	Details   []yubico.ErrorDetail `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := encodeJSON(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = encodeJSON(errorBody{ErrorCode: "internal", Message: "yubicotest: encode response: " + err.Error()})
	}
	writeBody(w, status, b)
}

// encodeJSON is v's JSON and a newline, the body writeJSON sends.
func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// writeBody sends the JSON body b (from encodeJSON), which it does not
// modify. With its length, a body over net/http's 2 KiB buffer (a shipped
// FIDO Pre-reg shipment's product data, a page of a list) goes out in one
// piece instead of chunked, and the client reads it into one buffer of the
// announced size.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	// Both values in one allocation; the keys are canonical.
	h, vals := w.Header(), []string{"application/json", strconv.Itoa(len(b))}
	h["Content-Type"], h["Content-Length"] = vals[:1:1], vals[1:2:2]
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string, details ...yubico.ErrorDetail) {
	writeJSON(w, status, errorBody{ErrorCode: code, Message: msg, Details: details})
}

// unknownRoute answers a request the fake has no route for with 404
// unknown_route, and fails the test of a server made by NewServer: a client
// calling a route the fake does not model is a bug to see, not to hide.
func (s *Server) unknownRoute(w http.ResponseWriter, r *http.Request) {
	if s.t != nil {
		s.t.Errorf("yubicotest: unhandled request %s %s", r.Method, clip(r.URL.Path))
	}
	writeError(w, http.StatusNotFound, "unknown_route",
		fmt.Sprintf("yubicotest: no route for %s %s", r.Method, clip(r.URL.Path)))
}

func invalidID(w http.ResponseWriter, id string) {
	writeError(w, http.StatusBadRequest, yubico.CodeInvalidShipmentID,
		fmt.Sprintf("%q is not a valid shipment", clip(id)))
}

func validationFailed(w http.ResponseWriter, details []yubico.ErrorDetail) {
	writeError(w, http.StatusBadRequest, yubico.CodeValidationFailed, "invalid shipment request", details...)
}

// decodeBody reads a JSON object into v, reporting type errors with the
// field's name. Unknown members are ignored, as the service does.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := fakehttp.ReadBody(r, maxBody)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "could not read the request body")
		return false
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body exceeds %d bytes", maxBody))
		return false
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		validationFailed(w, []yubico.ErrorDetail{{Description: "request body must be a JSON object"}})
		return false
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			validationFailed(w, []yubico.ErrorDetail{{Field: te.Field, Description: "must be a JSON " + jsonKind(te.Type.Kind().String())}})
			return false
		}
		validationFailed(w, []yubico.ErrorDetail{{Description: "request body is not valid JSON"}})
		return false
	}
	return true
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "slice", k == "array":
		return "array"
	case k == "struct", k == "map":
		return "object"
	case k == "bool":
		return "boolean"
	}
	return k
}

// createShipment is the path both creates share: the Idempotency-Key
// header, the JSON body, a replay for a remembered key, prepare (outside
// s.mu), validation, then a new shipment that fill completes and view
// renders, recorded only once it is whole.
//
// prepare does the work on the request that needs none of the fake's
// mutable state, opening FIDO Pre-reg JWEs above all (about half a
// millisecond of ECDH-ES and AES-GCM each), so that concurrent creates do
// it in parallel; it returns the fill to run under s.mu and a discard
// (nil: none) that releases what a create that makes no shipment did not
// use. The idempotency key is checked under s.mu before prepare (a
// retried create is answered without opening anything) and again after,
// with the shipment's creation in the same critical section: two
// concurrent creates with one key make one shipment. Both checks judge the
// key as of the request's arrival (see replayLocked).
func createShipment[R any](s *Server, w http.ResponseWriter, r *http.Request, route string, fpr bool,
	check func(R) []yubico.ErrorDetail, prepare func(R) (fill func(*shipment) error, discard func()), view func(*shipment) any) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req R
	if !decodeBody(w, r, &req) {
		return
	}
	hash, ok := fingerprint(w, req)
	if !ok {
		return
	}
	if key != "" {
		s.mu.Lock()
		replayed := s.replayLocked(w, key, route, hash, s.arrivalLocked(r), view)
		s.mu.Unlock()
		if replayed {
			return
		}
	}
	fill, discard := prepare(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	committed := false
	defer func() {
		if !committed && discard != nil {
			discard()
		}
	}()
	if key != "" && s.replayLocked(w, key, route, hash, s.arrivalLocked(r), view) {
		return
	}
	if d := check(req); len(d) > 0 {
		validationFailed(w, d)
		return
	}
	sh, err := s.newShipmentLocked(r, fpr)
	if err == nil {
		err = fill(sh)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	s.recordLocked(sh)
	committed = true
	s.committedLocked(w, key, route, hash, sh.id, view(sh))
}

// createExact is POST /v1/shipments_exact.
func (s *Server) createExact(w http.ResponseWriter, r *http.Request) {
	createShipment(s, w, r, "/v1/shipments_exact", false, s.checkExactLocked,
		func(req yubico.ShipmentRequest) (func(*shipment) error, func()) {
			return func(sh *shipment) (err error) {
				sh.req = req
				sh.items, err = s.itemsLocked(sh.id, req.Items)
				return err
			}, nil
		},
		func(sh *shipment) any { return s.exactViewLocked(sh) })
}

func (s *Server) itemsLocked(shipmentID string, items []yubico.ItemRequest) ([]yubico.ShipmentItem, error) {
	var out []yubico.ShipmentItem
	for _, it := range items {
		id, err := s.newIDLocked()
		if err != nil {
			return nil, err
		}
		p, _ := s.productLocked(it.ProductID)
		b := s.bucketLocked(it.InventoryProductID)
		out = append(out, yubico.ShipmentItem{
			ShipmentProductID: id, ShipmentID: shipmentID, ProductID: it.ProductID,
			InventoryProductID: it.InventoryProductID, ProductName: p.Name, ProductSKU: p.SKU, ProductCode: p.Code,
			ProductTier: b.ProductTier, InventoryType: b.InventoryType, Quantity: it.Quantity,
		})
	}
	return out, nil
}

// newShipmentLocked makes a shipment with a new ID, not yet recorded: a
// create that fails after this (no randomness left for its items' IDs)
// leaves nothing behind.
func (s *Server) newShipmentLocked(r *http.Request, fpr bool) (*shipment, error) {
	id, err := s.newIDLocked()
	if err != nil {
		return nil, err
	}
	return &shipment{id: id, fpr: fpr, userID: s.tokens[bearer(r)], state: yubico.StateAwaitingValidation, created: s.now, pendingSince: s.now}, nil
}

// recordLocked records a whole new shipment, which takes the next injected
// shipment fault, if any.
func (s *Server) recordLocked(sh *shipment) {
	if len(s.nextFaults) > 0 {
		sh.fault, s.nextFaults = s.nextFaults[0], s.nextFaults[1:]
	}
	s.shipments[sh.id] = sh
	s.order.add(sh)
	s.scheduleLocked(sh)
}

// shipmentLocked returns shipment id, or answers 400 invalid_shipment_id
// and returns nil when there is none (or, with fprOnly, when it is not a
// FIDO Pre-reg shipment).
func (s *Server) shipmentLocked(w http.ResponseWriter, id string, fprOnly bool) *shipment {
	sh, ok := s.shipments[id]
	if !ok || (fprOnly && !sh.fpr) {
		invalidID(w, id)
		return nil
	}
	return sh
}

// getShipment is GET /v1/shipments_exact/{id} (fpr false) and GET
// /v1/fpr/shipments/{id} (fpr true: FIDO Pre-reg shipments only, in their
// view).
func (s *Server) getShipment(w http.ResponseWriter, id string, fpr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shipmentLocked(w, id, fpr)
	switch {
	case sh == nil:
	case fpr:
		writeJSON(w, http.StatusOK, s.fprViewLocked(sh))
	default:
		writeJSON(w, http.StatusOK, s.exactViewLocked(sh))
	}
}

func (s *Server) updateExact(w http.ResponseWriter, r *http.Request, id string) {
	var req yubico.ShipmentRequest
	if !decodeBody(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shipmentLocked(w, id, false)
	if sh == nil {
		return
	}
	if sh.fpr {
		writeError(w, http.StatusBadRequest, "fpr_shipment", fmt.Sprintf("shipment %q is a FIDO Pre-reg shipment; its products cannot be changed through /shipments_exact", id))
		return
	}
	if !sh.state.Editable() {
		notEditable(w, sh)
		return
	}
	if d := s.checkExactLocked(req); len(d) > 0 {
		validationFailed(w, d)
		return
	}
	items, err := s.itemsLocked(sh.id, req.Items)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	sh.req, sh.items = req, items
	// An edited shipment is validated again (this also clears 7, 8 and 9).
	sh.validated, sh.pendingSince = false, s.now
	sh.setState(yubico.StateAwaitingValidation, "Shipment updated")
	s.scheduleLocked(sh)
	writeJSON(w, http.StatusOK, s.exactViewLocked(sh))
}

func notEditable(w http.ResponseWriter, sh *shipment) {
	writeError(w, http.StatusConflict, yubico.CodeShipmentNotEditable,
		fmt.Sprintf("shipment %q is in state %d (%s) and can no longer be changed or cancelled; only states 9 and below can", sh.id, int(sh.state), sh.state))
}

func (s *Server) deleteShipment(w http.ResponseWriter, id string, fprRoute bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shipmentLocked(w, id, fprRoute)
	if sh == nil {
		return
	}
	if !sh.state.Editable() {
		notEditable(w, sh)
		return
	}
	sh.factory.purge()
	sh.factory = nil
	delete(s.shipments, id)
	s.order.remove(sh)
	s.unscheduleLocked(sh)
	w.WriteHeader(http.StatusNoContent)
}

// createFPR is POST /v1/fpr/shipments. Its requests are opened before
// s.mu is taken, at the fake's time then, if the request has the shape
// validation wants (one item with one customization and at most
// Limits.MaxCredential credential requests: a request of another shape,
// which validation refuses, costs no crypto); under s.mu they are opened
// again only if the clock has moved since so far that the outcome could
// differ (see opened.sameAt).
func (s *Server) createFPR(w http.ResponseWriter, r *http.Request) {
	createShipment(s, w, r, "/v1/fpr/shipments", true, s.checkFPRLocked,
		func(req yubico.FPRShipmentRequest) (func(*shipment) error, func()) {
			var op *opened
			if len(req.Items) == 1 && len(req.Items[0].Customizations) == 1 &&
				len(req.Items[0].Customizations[0].CredentialRequests) <= s.limits.MaxCredential {
				c := req.Items[0].Customizations[0]
				op = s.openFactoryInput(c.PINRequest, c.CredentialRequests, s.lifecycleNow())
			}
			fill := func(sh *shipment) error {
				it := req.Items[0]
				c := it.Customizations[0]
				sh.cid = it.CustomizationID
				// The rest of the request is kept once, as an exact
				// shipment's request (fprViewLocked renders it back).
				rc := req.Recipient
				sh.req = yubico.ShipmentRequest{DeliveryType: req.DeliveryType, Recipient: rc.Company, RecipientEmail: rc.Email,
					RecipientFirstName: rc.FirstName, RecipientLastName: rc.LastName, RecipientTelephone: rc.Telephone,
					Address: req.MailingAddress, Items: []yubico.ItemRequest{{ProductID: it.ProductID, InventoryProductID: it.InventoryProductID, Quantity: it.Quantity}}}
				items, err := s.itemsLocked(sh.id, sh.req.Items)
				if err != nil {
					return err
				}
				sh.items = items
				// The encrypted customization is kept opened until
				// programming.
				sh.factory = s.factoryInputLocked(op, c.PINRequest, c.CredentialRequests)
				op = nil // the shipment has it now
				return nil
			}
			return fill, func() { op.purge() }
		},
		func(sh *shipment) any { return s.fprViewLocked(sh) })
}

// page reads limit and offset; limit is capped at 100, the service's cap.
func page(w http.ResponseWriter, r *http.Request) (limit, offset int, ok bool) {
	q := r.URL.Query()
	limit, offset = yubico.MaxPageSize, 0
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &limit}, {"offset", &offset}} {
		name, dst := p.name, p.dst
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (name == "limit" && n == 0) {
				validationFailed(w, []yubico.ErrorDetail{{Field: name, Description: fmt.Sprintf("%q is not a valid %s", clip(v), name)}})
				return 0, 0, false
			}
			*dst = n
		}
	}
	return min(limit, yubico.MaxPageSize), offset, true
}

func window[T any](all []T, limit, offset int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(offset+limit, len(all))]
}

// listExact is GET /v1/shipments_exact. A page costs O(limit) without a
// filter; with one, a pass over the shipments' scalar fields (no copies of
// their messages or items) counts the matches, and only the page's
// shipments are rendered.
func (s *Server) listExact(w http.ResponseWriter, r *http.Request) {
	limit, offset, ok := page(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	match, err := matcher(q.Get("search"), q.Get("search_field"), q.Get("advanced_search") == "true")
	if err != nil {
		validationFailed(w, []yubico.ErrorDetail{{Field: "search", Description: err.Error()}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	got, total := s.order.page(offset, limit), s.order.len()
	if match != nil {
		got, total = s.filterLocked(match, limit, offset)
	}
	writePageOf(w, "shipments", fakehttp.Map(got, s.exactViewLocked), total)
}

// filterLocked returns the shipments match selects, in creation order, that
// limit and offset page, and how many match in all.
func (s *Server) filterLocked(match func(*yubico.Shipment) bool, limit, offset int) (got []*shipment, total int) {
	var v yubico.Shipment
	for sh := range s.order.all() {
		v = s.exactFieldsLocked(sh)
		if !match(&v) {
			continue
		}
		if total >= offset && len(got) < limit {
			got = append(got, sh)
		}
		total++
	}
	return got, total
}

// searchFields maps search_field names to a shipment's value.
var searchFields = map[string]func(*yubico.Shipment) string{
	"shipment_id":        func(s *yubico.Shipment) string { return s.ID },
	"shipment_state_id":  func(s *yubico.Shipment) string { return strconv.Itoa(int(s.State)) },
	"recipient":          func(s *yubico.Shipment) string { return s.Recipient },
	"recipient_email":    func(s *yubico.Shipment) string { return s.RecipientEmail },
	"recipient_lastname": func(s *yubico.Shipment) string { return s.RecipientLastName },
	"country_code_2":     func(s *yubico.Shipment) string { return s.CountryCode },
	"postal_code":        func(s *yubico.Shipment) string { return s.PostalCode },
	"city":               func(s *yubico.Shipment) string { return s.City },
	"shipment_type":      func(s *yubico.Shipment) string { return s.Type },
}

// matcher builds the filter of a list request, nil when there is none:
// simple search compares search_field to search (case-insensitively);
// advanced search parses "field::op::value" with op eq, ne, lt, gt
// (numeric) or contains. The filter reads only the fields
// [Server.exactFieldsLocked] fills.
func matcher(search, field string, advanced bool) (func(*yubico.Shipment) bool, error) {
	if search == "" && field == "" {
		return nil, nil
	}
	op := "eq"
	if advanced {
		parts := strings.SplitN(search, "::", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("advanced search %q: want field_name::operation_type::value", clip(search))
		}
		field, op, search = parts[0], parts[1], parts[2]
	}
	get, ok := searchFields[field]
	if !ok {
		return nil, fmt.Errorf("search_field %q is not searchable", clip(field))
	}
	switch op {
	case "eq":
		return func(s *yubico.Shipment) bool { return strings.EqualFold(get(s), search) }, nil
	case "ne":
		return func(s *yubico.Shipment) bool { return !strings.EqualFold(get(s), search) }, nil
	case "contains":
		lower := strings.ToLower(search)
		return func(s *yubico.Shipment) bool { return strings.Contains(strings.ToLower(get(s)), lower) }, nil
	case "lt", "gt":
		want, err := strconv.Atoi(search)
		if err != nil {
			return nil, fmt.Errorf("operation %s needs a number, got %q", op, clip(search))
		}
		return func(s *yubico.Shipment) bool {
			n, err := strconv.Atoi(get(s))
			return err == nil && (op == "lt" && n < want || op == "gt" && n > want)
		}, nil
	}
	return nil, fmt.Errorf("operation_type %q is not supported", clip(op))
}

func (s *Server) listInventory(w http.ResponseWriter, r *http.Request, shippable bool) {
	key := "organization_product_inventory"
	if shippable {
		key = "shippable_keys"
	}
	listCatalog(s, w, r, key, func() []yubico.InventoryItem {
		var all []yubico.InventoryItem
		for i, b := range s.buckets {
			// /shippablekeys lists zero-quantity products too, except plain
			// stock (inventory_type 1) with nothing left.
			if shippable && b.InventoryType == 1 && b.Quantity == 0 {
				continue
			}
			all = append(all, yubico.InventoryItem{
				ID: fmt.Sprintf("%.18s%04d", s.orgID, i), OrganizationID: s.orgID, ProductID: b.ProductID,
				ProductName: b.Name, Quantity: b.Quantity, InventoryType: b.InventoryType, ProductTier: b.ProductTier,
				IsSubscription: b.Subscription, IsVirtual: b.Virtual, ProductMapping: append([]int{}, b.ProductMapping...),
			})
		}
		return all
	})
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) {
	listCatalog(s, w, r, "products", func() []yubico.Product { return s.products })
}

func (s *Server) listCountries(w http.ResponseWriter, r *http.Request) {
	listCatalog(s, w, r, "countries", func() []yubico.Country {
		return fakehttp.Map(s.countries, func(c Country) yubico.Country { return yubico.Country{Code: c.Code, Name: c.Name} })
	})
}

// listCatalog answers GET of a paged list: the items, read under s.mu.
func listCatalog[T any](s *Server, w http.ResponseWriter, r *http.Request, key string, items func() []T) {
	limit, offset, ok := page(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writePage(w, key, items(), limit, offset)
}

// writePage answers the page of all that limit and offset select:
// {"count", "total_count", key: the page}.
func writePage[T any](w http.ResponseWriter, key string, all []T, limit, offset int) {
	writePageOf(w, key, window(all, limit, offset), len(all))
}

// writePageOf answers a page, got, of total records: {"count", "total_count",
// key: got}, an empty page as [].
func writePageOf[T any](w http.ResponseWriter, key string, got []T, total int) {
	if got == nil {
		got = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(got), "total_count": total, key: got})
}

func (s *Server) getProduct(w http.ResponseWriter, raw string) {
	id, err := strconv.Atoi(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.productLocked(id)
	if err != nil || !ok {
		writeError(w, http.StatusBadRequest, "invalid_product_id", fmt.Sprintf("%q is not a valid product", clip(raw)))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) countriesCSV(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	cw := csv.NewWriter(&b) // RFC 4180 quoting ("" inside quotes), not Go's %q
	cw.Write([]string{"country_code_2", "country_name"})
	for _, c := range s.countries {
		cw.Write([]string{c.Code, c.Name})
	}
	cw.Flush() // a strings.Builder cannot fail
	w.Header().Set("Content-Type", "text/csv")
	io.WriteString(w, b.String())
}

func (s *Server) validateAddress(w http.ResponseWriter, r *http.Request) {
	var a yubico.Address
	if !decodeBody(w, r, &a) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var v validation
	s.checkAddressLocked(&v, "", a)
	if len(v.details) > 0 {
		validationFailed(w, v.details)
		return
	}
	if reason := s.undeliverableLocked(a); reason != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "undeliverable",
			"details": []map[string]string{{"description": reason}}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "deliverable"})
}

func (s *Server) undeliverableLocked(a yubico.Address) string {
	for _, rule := range s.rules {
		if reason := rule(a); reason != "" {
			return reason
		}
	}
	return ""
}
