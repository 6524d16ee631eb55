package yubicotest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// shipment is the fake's record of one shipment of either kind. It is laid
// out to fit the runtime's 576-byte size class with its 8-byte malloc
// header (a fake with 100,000 shipments holds one each; 640 bytes with a
// word more): slot and the flags share one word, and the programmed key is
// held by its Programming.
type shipment struct {
	id        string
	seq       uint64 // creation order
	gen       uint64 // the generation of its valid schedule entry (see schedule)
	slot      int32  // index in Server.order's slots; -1 once removed (a fake never holds 2^31)
	fpr       bool
	validated bool
	sent      bool // passed the fulfillment batch
	userID    string
	state     yubico.ShipmentState
	messages  []string
	created   time.Time
	// pendingSince is when the shipment last entered 3 unvalidated (create,
	// edit); it is validated at the first tick after it.
	pendingSince time.Time
	validatedAt  time.Time
	fault        ShipmentFault

	// shipments_exact fields (fpr shipments fill the common ones)
	req   yubico.ShipmentRequest
	items []yubico.ShipmentItem

	// fpr fields
	cid     string        // the customization ID (req holds the rest of the request)
	factory *factoryInput // purged after programming

	shipAt, deliverAt time.Time
	delivered         time.Time
	tracking          string
	programmed        *Programming
}

// Programming describes the key the factory programmed for a FIDO Pre-reg
// shipment.
type Programming struct {
	Serial   uint32          // the key's serial number
	Firmware string          // e.g. "5.7.1"
	Model    simulator.Model // the simulated model
	UserID   string          // the Okta user of the requests
	// EnrollmentIDs pairs each credential response (same order as the
	// requests and responses) with the enrollment ID from its decrypted
	// request.
	EnrollmentIDs []string
	// RPIDs are the relying-party IDs of the credentials, in the same order.
	RPIDs []string
	// Purged reports that the PIN and the encrypted requests (with their
	// challenges) are no longer held by the fake.
	Purged bool

	pinResponse   string
	credResponses []string
	key           *simulator.Key // the programmed key (Server.Parcel)
}

// factoryInput is what the factory needs of a FIDO Pre-reg shipment's
// customization: its PIN and credential requests, opened when the shipment
// is created, in compact form (see keptCred). A shipment of 100,000 in a
// long test run then holds a few hundred bytes of requests instead of their
// compact JWEs (about 1.3 KB each, P-384 epk and all). A request that does
// not open is not refused at
// create: err keeps why, and the factory fails the shipment with it at the
// batch, where the requests used to be opened. The input is purged (its
// challenges zeroed) when the factory is done with the shipment.
type factoryInput struct {
	pin   keptPIN
	creds []keptCred // of pin's user
	err   error
}

// opened is a customization's requests opened at the fake's time at:
// before s.mu is taken, by a create, which then takes them with
// [Server.factoryInputLocked].
type opened struct {
	in *factoryInput
	at time.Time
	// expires are the expiry times of the credential requests that
	// decrypted and decoded, in order; expired reports that in.err is a
	// request's expiry at at (its message names at).
	expires []time.Time
	expired bool
}

// openFactoryInput opens a customization's requests with the transport
// keyring (immutable after Start: no lock needed), checking expiry at at
// (the factory checks it again at the batch).
func (s *Server) openFactoryInput(pinJWE string, credJWEs []string, at time.Time) *opened {
	op := &opened{at: at}
	pin, err := webauthn.OpenPINRequest(s.transport, pinJWE)
	if err != nil {
		op.in = &factoryInput{err: fmt.Errorf("open fido_pin_request: %w", err)}
		return op
	}
	kp, err := keepPIN(pin)
	if err != nil {
		op.in = &factoryInput{err: fmt.Errorf("open fido_pin_request: %w", err)}
		return op
	}
	in := &factoryInput{pin: kp, creds: make([]keptCred, len(credJWEs))}
	for i, jwe := range credJWEs {
		c, err := webauthn.OpenCredentialRequest(s.transport, jwe, at)
		switch {
		case errors.Is(err, webauthn.ErrExpired):
			op.expired = true
		case err == nil:
			op.expires = append(op.expires, c.ExpiresAt)
		}
		if err == nil && c.UserID != pin.UserID {
			err = fmt.Errorf("fido_credential_requests[%d] is for user %q, the PIN request for %q", i, c.UserID, pin.UserID)
		} else if err != nil {
			err = fmt.Errorf("open fido_credential_requests[%d]: %w", i, err)
		}
		if err == nil {
			in.creds[i], err = keepCred(c) // zeroes c's challenge
			if err != nil {
				err = fmt.Errorf("open fido_credential_requests[%d]: %w", i, err)
			}
		} else {
			clear(c.Challenge)
		}
		if err != nil {
			in.purge()
			op.in = &factoryInput{err: err}
			return op
		}
	}
	op.in = in
	return op
}

// sameAt reports whether opening the requests at now, not before the time
// they were opened at, would give what it gave: the same time, or no
// expiry in the outcome and none of the requests opened expired by now.
// (Decryption, decoding and the user check do not depend on the time.)
func (op *opened) sameAt(now time.Time) bool {
	if now.Equal(op.at) {
		return true
	}
	if op.expired {
		return false
	}
	for _, e := range op.expires {
		if now.After(e) {
			return false
		}
	}
	return true
}

// factoryInputLocked returns the input op opened if opening the requests at
// the fake's time would give the same, or else (the clock moved past an
// expiry meanwhile; or op is nil) opens them now, under s.mu, as a create
// always did before.
func (s *Server) factoryInputLocked(op *opened, pinJWE string, credJWEs []string) *factoryInput {
	if op != nil && op.sameAt(s.now) {
		return op.in
	}
	op.purge()
	return s.openFactoryInput(pinJWE, credJWEs, s.now).in
}

// purge purges the opened input; op may be nil.
func (op *opened) purge() {
	if op != nil {
		op.in.purge()
	}
}

// purge zeroes the challenges of the opened requests.
func (in *factoryInput) purge() {
	if in == nil {
		return
	}
	for i := range in.creds {
		clear(in.creds[i].challenge)
	}
	in.creds = nil
}

func (sh *shipment) setState(st yubico.ShipmentState, msg string) {
	sh.state = st
	if msg != "" {
		sh.messages = append(sh.messages, msg)
	}
}

// exactViewLocked renders any shipment as a /shipments_exact resource.
func (s *Server) exactViewLocked(sh *shipment) yubico.Shipment {
	out := s.exactFieldsLocked(sh)
	out.StateCode = fmt.Sprint(int(sh.state))
	out.Messages = append(yubico.Messages{}, sh.messages...)
	out.Items = append([]yubico.ShipmentItem(nil), sh.items...)
	return out
}

// exactFieldsLocked renders the fields of sh's /shipments_exact resource
// that need no allocation, which are all a list filter compares (see
// searchFields); [Server.exactViewLocked] adds the state code, the messages
// and the items.
func (s *Server) exactFieldsLocked(sh *shipment) yubico.Shipment {
	r := &sh.req
	out := yubico.Shipment{
		ID:                      sh.id,
		OrganizationID:          s.orgID,
		UserID:                  sh.userID,
		State:                   sh.state,
		StateMessage:            sh.state.String(),
		Type:                    "Automated",
		ChannelPartnerID:        r.ChannelPartnerID,
		DeliveryType:            r.DeliveryType,
		Recipient:               r.Recipient,
		RecipientEmail:          r.RecipientEmail,
		RecipientFirstName:      r.RecipientFirstName,
		RecipientLastName:       r.RecipientLastName,
		RecipientTelephone:      r.RecipientTelephone,
		Address:                 r.Address,
		AddressValidationBypass: r.AddressValidationBypass,
		IsSentToFulfillment:     sh.sent,
		IsShipped:               sh.state == yubico.StateShipped || sh.state == yubico.StateDelivered || sh.state == yubico.StateLost || sh.state == yubico.StateDeliveryException,
		IsDelivered:             sh.state == yubico.StateDelivered,
		TrackingLink:            sh.tracking,
		RequestDate:             sh.created.UTC(),
	}
	if !sh.delivered.IsZero() {
		out.DeliveredDate = sh.delivered.UTC()
	}
	if sh.fpr {
		out.Type = "AUTO FIDO PRE-REG"
	}
	return out
}

// fprViewLocked renders a FIDO Pre-reg shipment for GET /v1/fpr/shipments/{id}.
func (s *Server) fprViewLocked(sh *shipment) yubico.FPRShipment {
	r := sh.req
	it := r.Items[0]
	item := yubico.FPRShipmentItem{
		ProductID:          it.ProductID,
		InventoryProductID: it.InventoryProductID,
		Quantity:           it.Quantity,
		CustomizationID:    sh.cid,
	}
	if sh.state.ResponsesReady() && sh.programmed != nil {
		p := sh.programmed
		item.ProductData = []yubico.ProductData{{
			SerialNumber:        fmt.Sprint(p.Serial),
			FirmwareVersion:     p.Firmware,
			PINResponse:         p.pinResponse,
			CredentialResponses: append([]string(nil), p.credResponses...),
		}}
	}
	return yubico.FPRShipment{
		ID:           sh.id,
		State:        yubico.FPRState{ID: sh.state, Message: sh.state.String()},
		DeliveryType: r.DeliveryType,
		Recipient: yubico.FPRRecipient{Company: r.Recipient, Email: r.RecipientEmail, FirstName: r.RecipientFirstName,
			LastName: r.RecipientLastName, Telephone: r.RecipientTelephone},
		MailingAddress: r.Address,
		TrackingLink:   sh.tracking,
		Items:          []yubico.FPRShipmentItem{item},
	}
}

// validation collects field problems.
type validation struct {
	details []yubico.ErrorDetail
}

func (v *validation) add(field, format string, args ...any) {
	v.details = append(v.details, yubico.ErrorDetail{Field: field, Description: fmt.Sprintf(format, args...)})
}

func (v *validation) required(field, value string) bool {
	if strings.TrimSpace(value) == "" {
		v.add(field, "required")
		return false
	}
	return true
}

func (v *validation) maxBytes(field, value string, n int) {
	if len(value) > n {
		v.add(field, "is %d bytes, longer than the limit of %d bytes", len(value), n)
	}
}

func (v *validation) text(field, value string) {
	if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\uFFFD' }) {
		v.add(field, "contains control characters or invalid UTF-8")
	}
}

// checkAddressLocked validates an address; prefix names the enclosing object.
func (s *Server) checkAddressLocked(v *validation, prefix string, a yubico.Address) {
	l := s.limits
	f := func(name string) string { return prefix + name }
	for _, fv := range [][2]string{{"street_line1", a.StreetLine1}, {"street_line2", a.StreetLine2},
		{"street_line3", a.StreetLine3}, {"city", a.City}, {"region", a.Region}, {"postal_code", a.PostalCode}} {
		v.text(f(fv[0]), fv[1])
	}
	if v.required(f("country_code_2"), a.CountryCode) {
		switch {
		case !isAlpha2(a.CountryCode):
			v.add(f("country_code_2"), "%q is not an ISO 3166-1 alpha-2 code", clip(a.CountryCode))
		case !s.countryAllowedLocked(a.CountryCode):
			v.add(f("country_code_2"), "%q is not a country this organization may ship to", a.CountryCode)
		}
	}
	v.required(f("street_line1"), a.StreetLine1)
	if n := len(a.StreetLine1) + len(a.StreetLine2); n > l.Street {
		v.add(f("street_line1"), "street_line1 and street_line2 together are %d bytes, longer than the limit of %d bytes", n, l.Street)
	}
	v.maxBytes(f("street_line3"), a.StreetLine3, l.Street)
	if v.required(f("city"), a.City) {
		v.maxBytes(f("city"), a.City, l.City)
	}
	if v.required(f("postal_code"), a.PostalCode) {
		v.maxBytes(f("postal_code"), a.PostalCode, l.PostalCode)
	}
	if a.CountryCode == "US" || a.CountryCode == "CA" {
		if v.required(f("region"), a.Region) && !isAlpha2(a.Region) {
			v.add(f("region"), "%q is not a two-letter USPS region code (required for US and CA)", clip(a.Region))
		}
	} else {
		v.maxBytes(f("region"), a.Region, l.Region)
	}
}

func (s *Server) checkRecipientLocked(v *validation, prefix, companyField string, company, email, first, last, phone string) {
	l := s.limits
	if v.required(prefix+companyField, company) {
		v.maxBytes(prefix+companyField, company, l.Recipient)
	}
	v.text(prefix+companyField, company)
	v.maxBytes(prefix+"recipient_firstname", first, l.FirstName)
	v.text(prefix+"recipient_firstname", first)
	v.maxBytes(prefix+"recipient_lastname", last, l.LastName)
	v.text(prefix+"recipient_lastname", last)
	if email != "" {
		v.maxBytes(prefix+"recipient_email", email, l.Email)
		if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
			v.add(prefix+"recipient_email", "%q is not an email address", clip(email))
		}
	}
	if l.TelephoneOptional && phone == "" {
		return
	}
	if v.required(prefix+"recipient_telephone", phone) {
		v.maxBytes(prefix+"recipient_telephone", phone, l.Telephone)
		v.text(prefix+"recipient_telephone", phone)
	}
}

func checkDeliveryType(v *validation, d yubico.DeliveryType) {
	if d != 0 && d != yubico.DeliveryNormal && d != yubico.DeliveryExpedited {
		v.add("delivery_type", "%d is not 1 (normal) or 2 (expedited)", int(d))
	}
}

// checkItemLocked validates one product line against the catalogue and the
// organisation's buckets.
func (s *Server) checkItemLocked(v *validation, field string, productID, inventoryID, qty int) {
	known := false
	if productID <= 0 {
		v.add(field+".product_id", "required")
	} else if _, known = s.productLocked(productID); !known {
		v.add(field+".product_id", "%d is not a known product", productID)
	}
	if inventoryID <= 0 {
		v.add(field+".inventory_product_id", "required")
	} else if b := s.bucketLocked(inventoryID); b == nil {
		v.add(field+".inventory_product_id", "%d is not an inventory bucket of this organization", inventoryID)
	} else if known && !bucketCovers(b, productID) {
		v.add(field+".product_id", "product %d does not map to inventory bucket %d", productID, inventoryID)
	}
	if qty < 1 {
		v.add(field+".quantity", "must be at least 1")
	}
}

func bucketCovers(b *Bucket, productID int) bool {
	if b.ProductID == productID {
		return true
	}
	for _, p := range b.ProductMapping {
		if p == productID {
			return true
		}
	}
	return false
}

func (s *Server) checkExactLocked(r yubico.ShipmentRequest) []yubico.ErrorDetail {
	var v validation
	if r.ChannelPartnerID < 0 {
		v.add("channelpartner_id", "must not be negative")
	}
	checkDeliveryType(&v, r.DeliveryType)
	s.checkRecipientLocked(&v, "", "recipient", r.Recipient, r.RecipientEmail, r.RecipientFirstName, r.RecipientLastName, r.RecipientTelephone)
	s.checkAddressLocked(&v, "", r.Address)
	if len(r.Items) == 0 {
		v.add("shipment_items", "at least one item is required")
	}
	total := 0
	for i, it := range r.Items {
		f := fmt.Sprintf("shipment_items[%d]", i)
		s.checkItemLocked(&v, f, it.ProductID, it.InventoryProductID, it.Quantity)
		if it.Quantity > 0 {
			total += it.Quantity
		}
	}
	if total > s.limits.MaxQuantity {
		v.add("shipment_items", "%d items in total, more than the limit of %d per shipment", total, s.limits.MaxQuantity)
	}
	return v.details
}

func (s *Server) checkFPRLocked(r yubico.FPRShipmentRequest) []yubico.ErrorDetail {
	var v validation
	checkDeliveryType(&v, r.DeliveryType)
	rc := r.Recipient
	s.checkRecipientLocked(&v, "recipient.", "recipient_company", rc.Company, rc.Email, rc.FirstName, rc.LastName, rc.Telephone)
	s.checkAddressLocked(&v, "mailing_address.", r.MailingAddress)
	if len(r.Items) != 1 {
		v.add("shipment_items", "exactly one item is required for a FIDO Pre-reg shipment, got %d", len(r.Items))
		return v.details
	}
	it := r.Items[0]
	const f = "shipment_items[0]"
	s.checkItemLocked(&v, f, it.ProductID, it.InventoryProductID, it.Quantity)
	if it.Quantity != 1 {
		v.add(f+".product_quantity", "must be 1: one YubiKey per FIDO Pre-reg shipment")
	}
	if it.ProductID > 0 {
		if _, ok := simulator.ModelByProductID(it.ProductID); !ok || !s.fprProducts[it.ProductID] {
			v.add(f+".product_id", "product %d cannot be ordered with FIDO Pre-reg", it.ProductID)
		}
	}
	if v.required(f+".customization_id", it.CustomizationID) {
		v.maxBytes(f+".customization_id", it.CustomizationID, 100)
		if s.cids != nil && !s.cids[it.CustomizationID] {
			v.add(f+".customization_id", "%q is not a customization of this organization", clip(it.CustomizationID))
		}
	}
	if len(it.Customizations) != 1 {
		v.add(f+".product_customizations", "exactly one customization is required, got %d", len(it.Customizations))
		return v.details
	}
	c := it.Customizations[0]
	cf := f + ".product_customizations[0]"
	if v.required(cf+".fido_pin_request", c.PINRequest) {
		checkJWE(&v, cf+".fido_pin_request", c.PINRequest)
	}
	switch n := len(c.CredentialRequests); {
	case n == 0:
		v.add(cf+".fido_credential_requests", "at least one credential request is required")
	case n > s.limits.MaxCredential:
		v.add(cf+".fido_credential_requests", "%d credential requests, more than the limit of %d", n, s.limits.MaxCredential)
	}
	for i, cr := range c.CredentialRequests {
		ff := fmt.Sprintf("%s.fido_credential_requests[%d]", cf, i)
		if v.required(ff, cr) {
			checkJWE(&v, ff, cr)
		}
	}
	return v.details
}

// checkJWE checks that s looks like a compact JWE whose header names alg,
// enc and kid; whether it decrypts is found out at programming time.
func checkJWE(v *validation, field, s string) {
	if len(s) > 64<<10 {
		v.add(field, "longer than 64 KiB")
		return
	}
	parts := strings.Split(s, ".")
	if len(parts) != 5 {
		v.add(field, "is not a compact JWE (want 5 dot-separated parts, got %d)", len(parts))
		return
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		v.add(field, "JWE header is not base64url")
		return
	}
	var h struct {
		Alg string `json:"alg"`
		Enc string `json:"enc"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil || h.Alg == "" || h.Enc == "" || h.Kid == "" {
		v.add(field, "JWE header must be JSON naming alg, enc and kid")
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
