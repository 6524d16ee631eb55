package yubicotest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// Timing configures the clock-driven lifecycle. The zero value of a field
// means its default.
type Timing struct {
	// ValidationInterval is how often address validation runs (15 min).
	ValidationInterval time.Duration
	// BatchHour and BatchMinute are the local time of the daily fulfillment
	// batch in BatchLocation (03:00). Set BatchAtMidnight for 00:00.
	BatchHour, BatchMinute int
	// BatchAtMidnight makes the batch run at 00:00 (a zero BatchHour alone
	// means the default).
	BatchAtMidnight bool
	// BatchLocation is the batch's time zone (America/Los_Angeles, or a fixed
	// UTC-8 zone if tzdata were missing).
	BatchLocation *time.Location
	// ShippingDelay is the time from the batch to 103 Shipped (24 h).
	ShippingDelay time.Duration
	// DeliveryDelay is the time from 103 Shipped to 104 Delivered (48 h).
	DeliveryDelay time.Duration
}

func (t Timing) withDefaults() Timing {
	if t.ValidationInterval <= 0 {
		t.ValidationInterval = 15 * time.Minute
	}
	if t.BatchHour == 0 && t.BatchMinute == 0 && !t.BatchAtMidnight {
		t.BatchHour = 3
	}
	if t.BatchLocation == nil {
		loc, err := time.LoadLocation("America/Los_Angeles")
		if err != nil {
			loc = time.FixedZone("PST", -8*3600)
		}
		t.BatchLocation = loc
	}
	if t.ShippingDelay <= 0 {
		t.ShippingDelay = 24 * time.Hour
	}
	if t.DeliveryDelay <= 0 {
		t.DeliveryDelay = 48 * time.Hour
	}
	return t
}

// Limits are the field limits the fake enforces, counted in UTF-8 bytes (the
// service appears to count encoded length; docs/yubico.md §Shipment request). The
// defaults are the newest published set. A zero field means its default.
type Limits struct {
	Recipient     int // recipient / recipient_company (20)
	FirstName     int // recipient_firstname (15)
	LastName      int // recipient_lastname (20)
	Email         int // recipient_email (80)
	Telephone     int // recipient_telephone (40)
	Street        int // street_line1 + street_line2 combined (120)
	City          int // city (60)
	Region        int // region (50)
	PostalCode    int // postal_code (20)
	MaxQuantity   int // total items per shipment (500)
	MaxCredential int // credential requests per FIDO Pre-reg shipment (10)
	// TelephoneOptional drops the requirement of recipient_telephone
	// (required by Yubico's current ServiceNow action).
	TelephoneOptional bool
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Recipient, 20)
	def(&l.FirstName, 15)
	def(&l.LastName, 20)
	def(&l.Email, 80)
	def(&l.Telephone, 40)
	def(&l.Street, 120)
	def(&l.City, 60)
	def(&l.Region, 50)
	def(&l.PostalCode, 20)
	def(&l.MaxQuantity, 500)
	def(&l.MaxCredential, 10)
	return l
}

// AddressRule decides whether an address is undeliverable; it returns a
// non-empty reason if so.
type AddressRule func(a yubico.Address) (reason string)

// NowhereRule is the default undeliverable rule: the address Yubico's own
// guide uses to reproduce state 7, "123 XYZ, Nowhere 11111" (matched
// case-insensitively on street_line1, city and postal_code).
func NowhereRule(a yubico.Address) string {
	if strings.EqualFold(strings.TrimSpace(a.StreetLine1), "123 XYZ") && strings.EqualFold(strings.TrimSpace(a.City), "Nowhere") &&
		strings.TrimSpace(a.PostalCode) == "11111" {
		return "Address is undeliverable or could not be understood"
	}
	return ""
}

// stripDotsAndSpaces removes dots and spaces ("P.O. Box" → "POBox"). It is
// built once, as the rule runs at every validation: building this Replacer
// costs about 4 µs and 6.7 KB, using it 70 ns (Go 1.26, measured
// 2026-12-06). A Replacer is safe for concurrent use.
var stripDotsAndSpaces = strings.NewReplacer(".", "", " ", "")

// POBoxOutsideUSRule marks PO boxes outside the US undeliverable ("delivery to
// the equivalent elsewhere in the world is unlikely to succeed").
func POBoxOutsideUSRule(a yubico.Address) string {
	if a.CountryCode == "US" {
		return ""
	}
	s := strings.ToUpper(stripDotsAndSpaces.Replace(a.StreetLine1 + a.StreetLine2))
	if strings.Contains(s, "POBOX") || strings.Contains(s, "POSTBOX") {
		return "PO boxes are not deliverable outside the US"
	}
	return ""
}

// Bucket seeds one inventory bucket of the organisation.
type Bucket struct {
	ProductID      int    // the bucket's ID, used as inventory_product_id
	Name           string // product_name
	Quantity       int
	InventoryType  int   // 1 plain stock (default), 3 subscription
	ProductTier    int   // product_tier
	ProductMapping []int // concrete products the bucket can be spent on; empty = ProductID only
	Subscription   bool  // is_subscription_product
	Virtual        bool  // is_virtual_product
}

// Country seeds one allowed destination.
type Country struct {
	Code string // ISO 3166-1 alpha-2
	Name string
}

type config struct {
	fakehttp.Settings // WithNow, WithRealTime, WithRand, WithHTTPFaultPlan
	tokens            []string
	orgID             string
	buckets           []Bucket
	countries         []Country
	products          []yubico.Product
	rules             []AddressRule
	denied            []string
	setup             // what the Server keeps as set
	serial            uint32
	cids              []string
	fprProducts       []int
}

// setup are the settings a Server keeps as its options set them (Start
// fills in defaults): config and Server embed it.
type setup struct {
	limits    Limits
	timing    Timing
	transport webauthn.Keyring
	signing   *webauthn.PrivateKey
	fidoCA    *simulator.CA
	pinLength int
	firmware  *simulator.Version
	idemTTL   time.Duration // how long idempotency keys are remembered
}

// Option configures a [Server].
type Option func(*config) error

// WithNow sets the fake clock's start time (default Monday 2 March 2026,
// 09:00 in Los Angeles, 17:00 UTC; or the wall clock's time with
// [WithRealTime]). The clock only moves forward.
func WithNow(t time.Time) Option { return setting(fakehttp.WithNow(t)) }

// WithRealTime makes the fake clock follow the wall clock, for tests that
// use clients they cannot give a clock to: address validation, the daily
// batch, shipping and delivery then happen as real time passes (each
// transition runs when the fake is next asked, in time order, as
// [Server.Advance] does). It starts at the wall clock's time unless
// [WithNow] says otherwise; [Server.Advance] and [Server.SetNow] still move
// it forward on top.
func WithRealTime() Option { return setting(fakehttp.WithRealTime()) }

// WithRand sets the source of the fake's randomness: IDs, tokens, keys, PINs
// and the simulated keys' seeds (default crypto/rand). A seeded reader such
// as math/rand/v2's ChaCha8 makes runs repeatable (go-jose still draws
// ephemeral keys from crypto/rand, so ciphertexts differ).
func WithRand(r io.Reader) Option { return setting(fakehttp.WithRand(r)) }

// WithRequestLogLimit keeps only the most recent n entries of the request
// log ([Server.RequestLog]; [Server.RequestLogDropped] counts the others),
// for long runs whose log would otherwise hold every request. The default
// keeps every entry; n < 1 is refused.
func WithRequestLogLimit(n int) Option { return setting(fakehttp.WithRequestLogLimit(n)) }

// setting makes a setting both fakes share an Option.
func setting(set fakehttp.Setting) Option { return fakehttp.Adapt[*config]("yubicotest", set) }

// check makes the option op that sets a field with set, or fails with
// problem (see fakehttp.Checked).
func check(op string, problem error, set func(*config)) Option {
	return fakehttp.Checked("yubicotest: "+op, problem, set)
}

// WithToken adds an API token the fake accepts (default: one random token,
// see [Server.Token]). The first token given is the one [Server.Client] uses.
func WithToken(token string) Option {
	return check("WithToken", fakehttp.Invalid(token == "" || strings.ContainsAny(token, " \t\r\n"), "empty token or token with whitespace"),
		func(c *config) { c.tokens = append(c.tokens, token) })
}

// WithOrganization sets the organisation ID (default generated).
func WithOrganization(id string) Option {
	return check("WithOrganization", fakehttp.Invalid(id == "", "empty ID"),
		func(c *config) { c.orgID = id })
}

// WithInventory replaces the default inventory buckets (100 each of products
// 1, 29, 54 and 55, and a subscription bucket 106 mapping to 1 and 29).
func WithInventory(buckets ...Bucket) Option {
	return func(c *config) error {
		seen := map[int]bool{}
		for _, b := range buckets {
			if b.ProductID <= 0 || b.Quantity < 0 || seen[b.ProductID] {
				return fmt.Errorf("yubicotest: WithInventory: bucket %d: invalid or duplicate ID, or negative quantity", b.ProductID)
			}
			seen[b.ProductID] = true
		}
		c.buckets = append([]Bucket(nil), buckets...)
		return nil
	}
}

// WithCountries replaces the allowed destinations (default US, CA, GB, IE,
// DE, FR, NL, SE, NO, DK, FI).
func WithCountries(cs ...Country) Option {
	return func(c *config) error {
		for _, k := range cs {
			if !isAlpha2(k.Code) {
				return fmt.Errorf("yubicotest: WithCountries: %q is not an ISO 3166-1 alpha-2 code", k.Code)
			}
		}
		c.countries = append([]Country(nil), cs...)
		return nil
	}
}

// WithProducts replaces the product catalogue (default: the product IDs of
// docs/yubico.md §Products and inventory).
func WithProducts(ps ...yubico.Product) Option {
	return func(c *config) error {
		c.products = append([]yubico.Product(nil), ps...)
		return nil
	}
}

// WithAddressRules replaces the undeliverable-address rules (default
// [NowhereRule] and [POBoxOutsideUSRule]). A nil rule is an error.
func WithAddressRules(rules ...AddressRule) Option {
	return func(c *config) error {
		for i, r := range rules {
			if r == nil {
				return fmt.Errorf("yubicotest: WithAddressRules: rule %d is nil", i)
			}
		}
		c.rules = append([]AddressRule(nil), rules...)
		return nil
	}
}

// WithDeniedParties sets names on the denied-party list: a shipment whose
// recipient (company) or "first last" name equals one, case-insensitively,
// goes to state 9 at address validation.
func WithDeniedParties(names ...string) Option {
	return func(c *config) error {
		for _, n := range names {
			if normName(n) == "" {
				return errors.New("yubicotest: WithDeniedParties: empty name")
			}
		}
		c.denied = append(c.denied, names...)
		return nil
	}
}

// WithLimits sets the field limits (zero fields keep their defaults).
func WithLimits(l Limits) Option {
	return func(c *config) error { c.limits = l; return nil }
}

// WithIdempotencyTTL sets how long the fake remembers an idempotency key,
// in its own clock's time, from the create that first used it (default
// [IdempotencyTTL]). Lengthen it for a test whose fake clock jumps days
// while the client's does not (clients that cannot be given the fake's
// clock): a create retried a few wall-clock seconds later would otherwise
// find its key forgotten and make a second shipment.
func WithIdempotencyTTL(d time.Duration) Option {
	return check("WithIdempotencyTTL", fakehttp.Invalid(d <= 0, "%v is not positive", d),
		func(c *config) { c.idemTTL = d })
}

// WithTiming sets the lifecycle timing (zero fields keep their defaults).
func WithTiming(t Timing) Option {
	return func(c *config) error { c.timing = t; return nil }
}

// WithTransportKeys sets Yubico's transport keyring (use "enc"), published
// at /.well-known/yubico-transport-keys.jwks (default: one generated key).
func WithTransportKeys(keys webauthn.Keyring) Option {
	return func(c *config) error {
		if len(keys) == 0 {
			return errors.New("yubicotest: WithTransportKeys: empty keyring")
		}
		for _, k := range keys {
			if k == nil || k.Use() != webauthn.UseEncryption {
				return errors.New("yubicotest: WithTransportKeys: every key must be a non-nil \"enc\" key")
			}
		}
		c.transport = append(webauthn.Keyring(nil), keys...)
		return nil
	}
}

// WithSigningKey sets Yubico's signing key (use "sig"), published at
// /.well-known/yubico-sign.jwks (default: a generated key).
func WithSigningKey(k *webauthn.PrivateKey) Option {
	return check("WithSigningKey", fakehttp.Invalid(k == nil || k.Use() != webauthn.UseSigning, "want a non-nil \"sig\" key"),
		func(c *config) { c.signing = k })
}

// WithFIDOCA sets the attestation CA of the keys the factory programs
// (default simulator.DefaultFIDOCA()).
func WithFIDOCA(ca *simulator.CA) Option {
	return check("WithFIDOCA", fakehttp.Invalid(ca == nil, "nil CA"),
		func(c *config) { c.fidoCA = ca })
}

// WithPINLength sets the length of the random PINs (digits, 4 to 63; default 8).
func WithPINLength(n int) Option {
	return check("WithPINLength", fakehttp.Invalid(n < 4 || n > 63, "%d is outside 4..63", n),
		func(c *config) { c.pinLength = n })
}

// WithSerialStart sets the serial number of the first programmed key; later
// keys count up from it (default 31000001).
func WithSerialStart(serial uint32) Option {
	return check("WithSerialStart", fakehttp.Invalid(serial == 0, "zero serial"),
		func(c *config) { c.serial = serial })
}

// WithFirmware sets the firmware of programmed keys (default the simulator's).
func WithFirmware(v simulator.Version) Option {
	return func(c *config) error { c.firmware = &v; return nil }
}

// WithCustomizationIDs restricts the accepted customization_id values of
// FIDO Pre-reg shipments (default: any non-empty ID).
func WithCustomizationIDs(ids ...string) Option {
	return func(c *config) error { c.cids = append(c.cids, ids...); return nil }
}

// WithFPRProducts sets the product IDs that FIDO Pre-reg shipments may order
// (default 1, 29, 54 and 55: YubiKey 5 NFC, 5C NFC and their FIPS versions,
// the models Yubico supports for FIDO Pre-reg). Each must also be a model of
// package simulator.
func WithFPRProducts(ids ...int) Option {
	return func(c *config) error {
		for _, id := range ids {
			if _, ok := simulator.ModelByProductID(id); !ok {
				return fmt.Errorf("yubicotest: WithFPRProducts: product %d is not a simulator model", id)
			}
		}
		c.fprProducts = append([]int(nil), ids...)
		return nil
	}
}
