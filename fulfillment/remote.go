package fulfillment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// checkEnrollResponse returns what is wrong with Okta's enroll response, or
// "".
func checkEnrollResponse(resp okta.EnrollResponse, rpIDs int) string {
	if resp.PINRequestJWE == "" {
		return "pinRequestJwe is empty"
	}
	if len(resp.CredRequests) == 0 || len(resp.CredRequests) > rpIDs {
		return fmt.Sprintf("%d credential requests for %d RP IDs", len(resp.CredRequests), rpIDs)
	}
	seen := map[string]bool{}
	for i, cr := range resp.CredRequests {
		switch {
		case cr.AuthenticatorEnrollmentID == "":
			return fmt.Sprintf("credRequests[%d].authenticatorEnrollmentId is empty", i)
		case cr.CredRequestJWE == "":
			return fmt.Sprintf("credRequests[%d].credRequestJwe is empty", i)
		case seen[cr.AuthenticatorEnrollmentID]:
			return fmt.Sprintf("credRequests[%d].authenticatorEnrollmentId %q is repeated", i, cr.AuthenticatorEnrollmentID)
		}
		seen[cr.AuthenticatorEnrollmentID] = true
	}
	return ""
}

// oktaClockSkew is how far Okta's clock (an enrollment's created) may be
// from the Okta client's (an [EnrollCall]'s times), and how late Okta may
// process a call after the client stopped waiting for it.
const oktaClockSkew = time.Minute

// strays lists the user's enrollments at Okta that rec does not know and
// that are in fulfillment (FULFILLMENT_PENDING or FULFILLMENT_ERRORED), and
// sorts them by owner. ours are those an enroll call of this attempt whose
// outcome is unknown ([Record.EnrollCalls]) may have created: Okta created
// them while the call was in flight (from its sending to its return, or to
// the end of its lease if the process died during it, give or take
// oktaClockSkew). Every other one is foreign: another tool (the Okta
// Workflows flowpack, an administrator) created it, and the Service never
// deletes or replaces it. ACTIVE enrollments it does not know are neither:
// they are keys already delivered, not in fulfillment.
func (s *Service) strays(ctx context.Context, rec Record) (ours, foreign []okta.Enrollment, err error) {
	es, err := s.okta.ListEnrollments(ctx, rec.UserID)
	if err != nil {
		return nil, nil, unknown("list enrollments of "+rec.UserID, err)
	}
	known := map[string]bool{}
	for _, e := range rec.Enrollments {
		known[e.ID] = true
	}
	calls := s.enrollCalls(rec)
	for _, e := range es {
		if known[e.ID] || (e.Status != okta.StatusFulfillmentPending && e.Status != okta.StatusFulfillmentErrored) {
			continue
		}
		if slices.ContainsFunc(calls, func(c EnrollCall) bool { return s.made(c, e) }) {
			ours = append(ours, e)
		} else {
			foreign = append(foreign, e)
		}
	}
	return ours, foreign, nil
}

// enrollCalls returns rec's enroll calls whose outcome is unknown. A record
// at Enrolling with no call recorded (written by other means) has one,
// from the start of its intent's lease.
func (s *Service) enrollCalls(rec Record) []EnrollCall {
	if len(rec.EnrollCalls) == 0 && rec.Step == StepEnrolling && !rec.Lease.Until.IsZero() {
		return []EnrollCall{{Sent: rec.Lease.Until.Add(-s.lease)}}
	}
	return rec.EnrollCalls
}

// made reports whether call c may have made enrollment e: Okta created e
// while c was in flight.
func (s *Service) made(c EnrollCall, e okta.Enrollment) bool {
	end := c.Returned
	if end.IsZero() {
		end = c.Sent.Add(s.lease)
	}
	return !e.Created.IsZero() && !e.Created.Before(c.Sent.Add(-oktaClockSkew)) && !e.Created.After(end.Add(oktaClockSkew))
}

// deleteEnrollments deletes es at Okta (a 404 counts as done).
func (s *Service) deleteEnrollments(ctx context.Context, userID string, es []okta.Enrollment) error {
	for _, e := range es {
		if err := s.okta.DeleteEnrollment(ctx, userID, e.ID); err != nil && !errors.Is(err, okta.ErrNotFound) {
			return unknown("delete enrollment "+e.ID, err)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: enrollment deleted",
			slog.String("user", userID), slog.String("enrollment", e.ID), slog.String("oktaStatus", string(e.Status)))
	}
	return nil
}

// deleteOwned deletes at Okta every enrollment rec knows and every stray
// that is ours (see [Service.strays]), and returns the foreign ones, which
// it leaves alone.
func (s *Service) deleteOwned(ctx context.Context, rec Record) (foreign []okta.Enrollment, err error) {
	ours, foreign, err := s.strays(ctx, rec)
	if err != nil {
		return nil, err
	}
	for _, e := range rec.Enrollments {
		ours = append(ours, okta.Enrollment{ID: e.ID, Status: e.Status})
	}
	return foreign, s.deleteEnrollments(ctx, rec.UserID, ours)
}

// leftAlone notes the foreign enrollments a delete or retry did not touch.
func leftAlone(foreign []okta.Enrollment) string {
	ids := make([]string, len(foreign))
	for i, e := range foreign {
		ids[i] = e.ID
	}
	return "left enrollment " + strings.Join(ids, ", ") + " alone: this Service did not create it"
}

// managedElsewhere is the reason recorded for a user whose key another
// tool is fulfilling: foreign lists its enrollments.
func managedElsewhere(foreign []okta.Enrollment) string {
	ids := make([]string, len(foreign))
	for i, e := range foreign {
		ids[i] = fmt.Sprintf("%s (%s)", e.ID, e.Status)
	}
	return "managed elsewhere: Okta lists enrollment " + strings.Join(ids, ", ") + " of this user, which this Service did not create; " +
		"another tool (such as the Okta Workflows flowpack) is fulfilling the key, and the Service leaves it alone. " +
		"Delete this record, or delete that enrollment at Okta and Retry"
}

// allActive reports whether Okta lists every enrollment of rec ACTIVE:
// the activation happened.
func (s *Service) allActive(ctx context.Context, rec Record) (bool, error) {
	es, err := s.okta.ListEnrollments(ctx, rec.UserID)
	if err != nil {
		return false, unknown("list enrollments of "+rec.UserID, err)
	}
	status := map[string]okta.EnrollmentStatus{}
	for _, e := range es {
		status[e.ID] = e.Status
	}
	all := len(rec.Enrollments) > 0
	for _, e := range rec.Enrollments {
		all = all && status[e.ID] == okta.StatusActive
	}
	return all, nil
}

// cancelShipment cancels rec's shipment at Yubico if it exists and is still
// cancellable (state ≤ 9), and notes the outcome in rec.Reason when it
// cannot be cancelled.
func (s *Service) cancelShipment(ctx context.Context, rec *Record) error {
	if rec.ShipmentID == "" {
		return nil
	}
	sh, err := s.yubico.FPRShipment(ctx, rec.ShipmentID)
	if errors.Is(err, yubico.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fulfillment: read shipment %s of %q: %w", rec.ShipmentID, rec.UserID, err)
	}
	rec.ShipmentState = sh.State.ID
	if !sh.State.ID.Editable() {
		rec.Reason = fmt.Sprintf("Yubico shipment %s is past cancelling (state %d); its credentials are deleted", rec.ShipmentID, sh.State.ID)
		return nil
	}
	err = s.yubico.CancelFPRShipment(ctx, rec.ShipmentID)
	switch {
	case errors.Is(err, yubico.ErrNotFound):
	case errors.Is(err, yubico.ErrConflict):
		rec.Reason = fmt.Sprintf("Yubico shipment %s could no longer be cancelled; its credentials are deleted", rec.ShipmentID)
	case err != nil:
		return unknown("cancel shipment "+rec.ShipmentID, err)
	default:
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: shipment cancelled",
			slog.String("user", rec.UserID), slog.String("shipment", rec.ShipmentID))
	}
	return nil
}

// fprRequest builds the FIDO Pre-reg shipment request of rec: its first item,
// the recorded recipient and address, the PIN request and one credential
// request per enrollment, in the recorded order.
func fprRequest(rec Record) (yubico.FPRShipmentRequest, error) {
	if len(rec.Items) != 1 {
		return yubico.FPRShipmentRequest{}, fmt.Errorf("fulfillment: record of %q has %d items, want 1", rec.UserID, len(rec.Items))
	}
	it := rec.Items[0]
	product, err := parseProductID(it.ProductID)
	if err != nil {
		return yubico.FPRShipmentRequest{}, err
	}
	inventory, err := parseProductID(it.InventoryProductID)
	if err != nil {
		return yubico.FPRShipmentRequest{}, err
	}
	if rec.PINRequest == "" || len(rec.Enrollments) == 0 {
		return yubico.FPRShipmentRequest{}, fmt.Errorf("fulfillment: record of %q has no sealed requests to ship", rec.UserID)
	}
	creds := make([]string, len(rec.Enrollments))
	for i, e := range rec.Enrollments {
		if e.CredRequest == "" {
			return yubico.FPRShipmentRequest{}, fmt.Errorf("fulfillment: record of %q: enrollment %s has no credential request", rec.UserID, e.ID)
		}
		creds[i] = e.CredRequest
	}
	sh := rec.Shipping
	to := yubico.FPRRecipient{Company: sh.Company, Email: sh.RecipientEmail(), FirstName: sh.FirstName, LastName: sh.LastName, Telephone: sh.Phone}
	addr := yubico.Address{StreetLine1: sh.StreetLine1, StreetLine2: sh.StreetLine2, City: sh.City, Region: sh.Region,
		PostalCode: sh.PostalCode, CountryCode: sh.CountryCode}
	return yubico.NewFPRShipmentRequest(to, addr, product, inventory, it.CustomizationID, rec.PINRequest, creds), nil
}

// createFPRShipment creates a FIDO Pre-reg shipment. With
// Config.IdempotentShipments the intent's key goes out as the
// Idempotency-Key header (and the client may then retry the create itself);
// without it the create is sent exactly once.
func (s *Service) createFPRShipment(ctx context.Context, req yubico.FPRShipmentRequest, key string) (yubico.FPRShipment, error) {
	if s.idempotentShipments {
		req.IdempotencyKey = key
	}
	return s.yubico.CreateFPRShipment(ctx, req)
}

// findLostShipment learns the ID of a shipment whose create had an unknown
// outcome (the record holds the intent's key and body but no shipment ID),
// so that Delete can cancel it: with Config.IdempotentShipments, repeating
// the create with the same key inside Config.IdempotencyWindow returns the
// shipment Yubico made (or makes it now, to be cancelled at once).
// Without it, or past the window, nothing can be learnt safely: rec.Reason
// asks a person to look in the Yubico console.
func (s *Service) findLostShipment(ctx context.Context, rec *Record) error {
	key := rec.Keys[StepShipmentCreating]
	if rec.ShipmentID != "" || key == "" || rec.PINRequest == "" || rec.Shipping == (ShippingInfo{}) {
		return nil
	}
	if why := s.cannotResend(*rec, StepShipmentCreating); why != "" {
		rec.Reason += "; a shipment create left no shipment ID and " + why +
			": if the Yubico console has a shipment to " + rec.Shipping.RecipientEmail() + ", cancel it"
		return nil
	}
	req, err := fprRequest(*rec)
	if err != nil {
		return nil
	}
	sh, err := s.createFPRShipment(ctx, req, key)
	if err != nil {
		if definite(err) {
			return nil // Yubico refused the body: no shipment was made with it
		}
		return unknown("look up the shipment of "+rec.UserID, err)
	}
	rec.ShipmentID, rec.ShipmentState = sh.ID, sh.State.ID
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: shipment of an interrupted create found",
		slog.String("user", rec.UserID), slog.String("shipment", sh.ID))
	return nil
}

// pairResponses pairs Yubico's credential responses with the record's
// enrollments and says how ([Pairing]) and why. Each response is a compact
// JWE sealed to the response key of one enrollment; its protected header's
// kid is that key's ID (Okta's keyId).
//
//   - Every enrollment has a distinct keyId and every response's kid names
//     one: paired by kid, whatever their order.
//   - The keyIds are missing or shared: paired by the order of the
//     credential requests the Service sent ([Record.Enrollments]), which
//     Yubico keeps, as the Okta Workflows template pairs.
//   - Exactly one response's kid names no enrollment's key (or it has no
//     kid), and every other response sits at the position of the
//     enrollment its kid names: the unmatched response is paired by
//     request order with the one enrollment left.
//
// Anything else is an error and nothing is activated: a count mismatch,
// an empty or malformed response, two responses for one enrollment, more
// than one unmatched response (more than one enrollment could be theirs),
// or an unmatched response while the matched ones are out of request order
// (the order is then no evidence). Okta verifies each pair again: it
// decrypts a response only with the key of the enrollment it is paired
// with.
func pairResponses(enrollments []Enrollment, responses []string) ([]okta.CredResponse, Pairing, string, error) {
	if len(responses) != len(enrollments) {
		return nil, "", "", fmt.Errorf("fulfillment: Yubico returned %d credential responses for %d enrollments", len(responses), len(enrollments))
	}
	for i, r := range responses {
		if r == "" {
			return nil, "", "", fmt.Errorf("fulfillment: credential response %d is empty", i)
		}
	}
	byKey := map[string]int{}
	distinct := true
	for i, e := range enrollments {
		if _, dup := byKey[e.KeyID]; dup || e.KeyID == "" {
			distinct = false
		}
		byKey[e.KeyID] = i
	}
	inOrder := func() []okta.CredResponse {
		out := make([]okta.CredResponse, len(enrollments))
		for i, r := range responses {
			out[i] = okta.CredResponse{AuthenticatorEnrollmentID: enrollments[i].ID, CredResponseJWE: r}
		}
		return out
	}
	if !distinct {
		return inOrder(), PairedByRequestOrder, "Okta gave the enrollments no distinct keyId to pair by", nil
	}
	used := make([]bool, len(enrollments))
	var unmatched []int
	kids := make([]string, len(responses))
	out := make([]okta.CredResponse, len(enrollments))
	ordered := true
	for i, r := range responses {
		kid, err := jweKeyID(r)
		if err != nil && !errors.Is(err, errNoKid) {
			return nil, "", "", fmt.Errorf("fulfillment: credential response %d: %w", i, err)
		}
		kids[i] = kid
		j, ok := byKey[kid]
		if err != nil || !ok {
			unmatched = append(unmatched, i)
			continue
		}
		if used[j] {
			return nil, "", "", fmt.Errorf("fulfillment: credential responses for enrollment %s are repeated", enrollments[j].ID)
		}
		used[j], ordered = true, ordered && i == j
		out[j] = okta.CredResponse{AuthenticatorEnrollmentID: enrollments[j].ID, CredResponseJWE: r}
	}
	switch {
	case len(unmatched) == 0:
		return out, PairedByKeyID, "", nil
	case len(unmatched) > 1:
		return nil, "", "", fmt.Errorf("fulfillment: credential responses %v are sealed to keys that belong to none of the user's enrollments "+
			"(kids %s); more than one enrollment could be theirs, so none is activated", unmatched, quoteKids(kids, unmatched))
	case !ordered:
		return nil, "", "", fmt.Errorf("fulfillment: credential response %d is sealed to key %s, which belongs to none of the user's enrollments, "+
			"and the other responses are not in the order of the requests; none is activated", unmatched[0], quoteKids(kids, unmatched))
	}
	i := unmatched[0]
	out[i] = okta.CredResponse{AuthenticatorEnrollmentID: enrollments[i].ID, CredResponseJWE: responses[i]}
	return out, PairedByRequestOrder, fmt.Sprintf("credential response %d is sealed to key %s, which is no enrollment's keyId; "+
		"paired by request order with enrollment %s, the only one left", i, quoteKids(kids, unmatched), enrollments[i].ID), nil
}

// quoteKids lists the kids of the responses at idx, quoted and truncated;
// a missing kid is "(none)".
func quoteKids(kids []string, idx []int) string {
	q := make([]string, len(idx))
	for n, i := range idx {
		if kids[i] == "" {
			q[n] = "(none)"
			continue
		}
		q[n] = fmt.Sprintf("%q", truncateValue(kids[i]))
	}
	return strings.Join(q, ", ")
}

// errNoKid is jweKeyID's error for a well-formed header without a kid.
var errNoKid = errors.New("JWE header has no kid")

// maxJWEHeader bounds the protected header of a JWE read by jweKeyID.
const maxJWEHeader = 4 << 10

// jweKeyID returns the kid of a compact JWE's protected header, without
// decrypting anything.
func jweKeyID(jwe string) (string, error) {
	parts := strings.Split(jwe, ".")
	if len(parts) != 5 {
		return "", fmt.Errorf("not a compact JWE (%d parts, want 5)", len(parts))
	}
	if len(parts[0]) > maxJWEHeader {
		return "", fmt.Errorf("JWE header longer than %d bytes", maxJWEHeader)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", fmt.Errorf("JWE header is not base64url: %w", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("JWE header is not JSON: %w", err)
	}
	if h.Kid == "" {
		return "", errNoKid
	}
	return h.Kid, nil
}
