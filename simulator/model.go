package simulator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Model is a YubiKey model. The zero value is not a model; [New] uses
// [YubiKey5NFC] when none is given.
type Model int

// The models the simulator knows, with Yubico's product IDs from the
// YubiEnterprise Delivery API (docs/yubico.md §Products and inventory).
const (
	YubiKey5NFC      Model = iota + 1 // product 1, USB-A keychain with NFC
	YubiKey5Nano                      // product 2
	YubiKey5C                         // product 3
	YubiKey5CNano                     // product 4
	YubiKey5Ci                        // product 5, USB-C and Lightning
	SecurityKeyNFC                    // product 7, FIDO only
	YubiKey5CNFC                      // product 29
	YubiKey5NFCFIPS                   // product 54
	YubiKey5CNFCFIPS                  // product 55
	YubiKey5CiFIPS                    // product 56
	YubiKey5NanoFIPS                  // product 57
)

// FormFactor is the form factor byte the management applet reports
// (yubikit's FORM_FACTOR).
type FormFactor byte

// Form factors as ykman names them.
const (
	FormFactorUSBAKeychain  FormFactor = 0x01
	FormFactorUSBANano      FormFactor = 0x02
	FormFactorUSBCKeychain  FormFactor = 0x03
	FormFactorUSBCNano      FormFactor = 0x04
	FormFactorUSBCLightning FormFactor = 0x05
)

// The applications a model supports, as far as the simulator hosts them
// (see [Capability]): a YubiKey 5 also has OTP, OATH and OpenPGP, which
// the simulator does not implement and so does not advertise.
const (
	capsYubiKey5 = CapU2F | CapPIV | CapFIDO2
	capsSecurity = CapU2F | CapFIDO2
)

type modelInfo struct {
	name       string // Yubico's product name
	productID  int
	formFactor FormFactor
	usbCaps    Capability
	nfcCaps    Capability // 0: no NFC
	fips       bool
	// yubicoAAGUID is an AAGUID genuine keys of this series report with
	// firmware 5.7 (docs/yubico.md §AAGUIDs; which 5.7.x release reports
	// which of a series' 5.7 values is not published).
	yubicoAAGUID uuid.UUID
}

var models = map[Model]modelInfo{
	YubiKey5NFC:      {"YubiKey 5 NFC", 1, FormFactorUSBAKeychain, capsYubiKey5, capsYubiKey5, false, uuid.MustParse("a25342c0-3cdc-4414-8e46-f4807fca511c")},
	YubiKey5Nano:     {"YubiKey 5 Nano", 2, FormFactorUSBANano, capsYubiKey5, 0, false, uuid.MustParse("19083c3d-8383-4b18-bc03-8f1c9ab2fd1b")},
	YubiKey5C:        {"YubiKey 5C", 3, FormFactorUSBCKeychain, capsYubiKey5, 0, false, uuid.MustParse("19083c3d-8383-4b18-bc03-8f1c9ab2fd1b")},
	YubiKey5CNano:    {"YubiKey 5C Nano", 4, FormFactorUSBCNano, capsYubiKey5, 0, false, uuid.MustParse("19083c3d-8383-4b18-bc03-8f1c9ab2fd1b")},
	YubiKey5Ci:       {"YubiKey 5Ci", 5, FormFactorUSBCLightning, capsYubiKey5, 0, false, uuid.MustParse("a02167b9-ae71-4ac7-9a07-06432ebb6f1c")},
	SecurityKeyNFC:   {"Security Key NFC by Yubico", 7, FormFactorUSBAKeychain, capsSecurity, capsSecurity, false, uuid.MustParse("e77e3c64-05e3-428b-8824-0cbeb04b829d")},
	YubiKey5CNFC:     {"YubiKey 5C NFC", 29, FormFactorUSBCKeychain, capsYubiKey5, capsYubiKey5, false, uuid.MustParse("a25342c0-3cdc-4414-8e46-f4807fca511c")},
	YubiKey5NFCFIPS:  {"YubiKey 5 NFC FIPS", 54, FormFactorUSBAKeychain, capsYubiKey5, capsYubiKey5, true, uuid.MustParse("fcc0118f-cd45-435b-8da1-9782b2da0715")},
	YubiKey5CNFCFIPS: {"YubiKey 5C NFC FIPS", 55, FormFactorUSBCKeychain, capsYubiKey5, capsYubiKey5, true, uuid.MustParse("fcc0118f-cd45-435b-8da1-9782b2da0715")},
	YubiKey5CiFIPS:   {"YubiKey 5Ci FIPS", 56, FormFactorUSBCLightning, capsYubiKey5, 0, true, uuid.MustParse("7b96457d-e3cd-432b-9ceb-c9fdd7ef7432")},
	YubiKey5NanoFIPS: {"YubiKey 5 Nano FIPS", 57, FormFactorUSBANano, capsYubiKey5, 0, true, uuid.MustParse("57f7de54-c807-4eab-b1c6-1c9be7984e92")},
}

// aaguidNamespace seeds the simulator's own AAGUIDs (name-based UUIDs,
// RFC 9562 version 5).
var aaguidNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/preenroll/preenroll/simulator"))

func (m Model) info() (modelInfo, bool) {
	mi, ok := models[m]
	return mi, ok
}

// String returns Yubico's product name, e.g. "YubiKey 5 NFC".
func (m Model) String() string {
	if mi, ok := m.info(); ok {
		return mi.name
	}
	return fmt.Sprintf("Model(%d)", int(m))
}

// ProductID returns Yubico's product ID (YubiEnterprise "product_id"), or 0
// for an unknown model.
func (m Model) ProductID() int {
	mi, _ := m.info()
	return mi.productID
}

// FormFactor returns the form factor the management applet reports.
func (m Model) FormFactor() FormFactor {
	mi, _ := m.info()
	return mi.formFactor
}

// NFC reports whether the model has an NFC interface.
func (m Model) NFC() bool {
	mi, _ := m.info()
	return mi.nfcCaps != 0
}

// FIPS reports whether the model belongs to a FIPS series.
func (m Model) FIPS() bool {
	mi, _ := m.info()
	return mi.fips
}

// AAGUID returns the AAGUID a simulated key of this model reports.
//
// It is deliberately NOT Yubico's AAGUID (see [Model.YubicoAAGUID]): a
// simulated key signs its attestation under a simulated CA, and a relying
// party that trusts Yubico's real metadata must never mistake it for a
// genuine YubiKey, nor should a test that trusts the simulated CA pass
// because it happens to allow Yubico's real AAGUIDs. The value is a
// name-based UUID derived from Yubico's AAGUID, so models that share an
// AAGUID in reality (one per series, e.g. 5 NFC and 5C NFC) share one here.
// Use [WithAAGUID] for a key that claims another AAGUID.
func (m Model) AAGUID() uuid.UUID {
	mi, ok := m.info()
	if !ok {
		return uuid.Nil
	}
	return uuid.NewSHA1(aaguidNamespace, mi.yubicoAAGUID[:])
}

// YubicoAAGUID returns the AAGUID genuine keys of this model's series
// report with firmware 5.7 (docs/yubico.md §AAGUIDs), for tests that want
// a simulated key to claim a real model.
func (m Model) YubicoAAGUID() uuid.UUID {
	mi, _ := m.info()
	return mi.yubicoAAGUID
}

// Models returns every known model in product ID order.
func Models() []Model {
	out := make([]Model, 0, len(models))
	for m := YubiKey5NFC; m <= YubiKey5NanoFIPS; m++ {
		out = append(out, m)
	}
	return out
}

// ModelByProductID returns the model with Yubico's product ID id.
func ModelByProductID(id int) (Model, bool) {
	for m, mi := range models {
		if mi.productID == id {
			return m, true
		}
	}
	return 0, false
}

// ModelByName returns the model named name, case-insensitively, with words
// separated by spaces, hyphens or underscores: "YubiKey 5 NFC",
// "yubikey-5-nfc" and "YUBIKEY_5_NFC" all name [YubiKey5NFC].
func ModelByName(name string) (Model, bool) {
	want := normalizeName(name)
	if want == "" {
		return 0, false
	}
	for m, mi := range models {
		if normalizeName(mi.name) == want {
			return m, true
		}
	}
	return 0, false
}

func normalizeName(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_'
	})
	return strings.Join(f, " ")
}

// Version is a firmware version.
type Version struct{ Major, Minor, Patch uint8 }

// String returns the version as "5.7.1".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// ParseVersion parses a firmware version written as ykman prints it,
// "5.4.3": three decimal numbers from 0 to 255 separated by dots.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("simulator: version %q: want major.minor.patch, e.g. 5.4.3", s)
	}
	var out [3]uint8
	for i, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return Version{}, fmt.Errorf("simulator: version %q: %q is not a number from 0 to 255", s, p)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > 255 {
			return Version{}, fmt.Errorf("simulator: version %q: %q is not a number from 0 to 255", s, p)
		}
		out[i] = uint8(n)
	}
	return Version{out[0], out[1], out[2]}, nil
}

// defaultFirmware is the firmware of a key made without [WithFirmware].
var defaultFirmware = Version{5, 7, 1}

// defaultFIPSFirmware is the default for FIPS models: 5.7.4 is the FIPS
// 140-3 validated release (docs/yubico.md §Firmware and models).
var defaultFIPSFirmware = Version{5, 7, 4}
