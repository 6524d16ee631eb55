//go:build pcsc

// Command pivcheck is what an administrator runs on a YubiKey that has just
// arrived: it opens the key through PC/SC, shows its model, serial number
// and firmware, proves with PIV attestation that the key in slot 9a was
// generated on a genuine key (the chain must end in the roots you trust),
// and reports whether a FIDO2 PIN is set and must be changed.
//
// It needs cgo, libpcsclite and the build tag pcsc:
//
//	CGO_ENABLED=1 go run -tags pcsc ./examples/pivcheck -roots yubico-piv-ca-1.pem
//
// Flags:
//
//	-reader NAME        PC/SC reader (substring; default: the first reader
//	                    whose name contains "yubikey", any case)
//	-roots FILE         PEM file of trusted PIV attestation roots; default
//	                    Yubico's PIV root built into piv-go. For a simulated
//	                    key, pass the simulator's root.
//	-generate           when slot 9a is empty, generate a P-256 key there
//	                    (needs the management key; changes the key)
//	-management-key HEX management key for -generate (default: the factory
//	                    default)
//
// It exits 0 when attestation verifies, 1 when a check fails or the key
// cannot be read, 2 for a bad command line.
//
// The FIDO2 check talks CTAP2 over the smart-card interface (NFCCTAP_MSG),
// which a YubiKey offers over NFC; over USB a real key offers FIDO2 only over
// HID, and pivcheck then reports the PIN state as unknown.
package main

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-piv/piv-go/v2/piv"

	"github.com/preenroll/preenroll/internal/pcsctest/scard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	reader   string
	roots    *x509.CertPool
	nRoots   int
	generate bool
	mgmtKey  []byte
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("pivcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reader := fs.String("reader", "", "PC/SC reader `name` (substring)")
	rootsFile := fs.String("roots", "", "PEM `file` of trusted PIV attestation roots (default: Yubico's)")
	generate := fs.Bool("generate", false, "generate a P-256 key in slot 9a when it is empty")
	mgmtHex := fs.String("management-key", "", "management key in `hex` for -generate (default: factory default)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := config{reader: *reader, generate: *generate, mgmtKey: piv.DefaultManagementKey}
	if *mgmtHex != "" {
		key, err := hex.DecodeString(*mgmtHex)
		if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
			// The key itself stays out of the message.
			return config{}, errors.New("-management-key: want 16, 24 or 32 bytes in hex")
		}
		cfg.mgmtKey = key
	}
	if *rootsFile != "" {
		pool, n, err := loadRoots(*rootsFile)
		if err != nil {
			return config{}, fmt.Errorf("-roots: %w", err)
		}
		cfg.roots, cfg.nRoots = pool, n
	}
	return cfg, nil
}

func loadRoots(path string) (*x509.CertPool, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	pool := x509.NewCertPool()
	n := 0
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, n, nil
}

// run checks one key. See the package comment for the exit codes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pivcheck: %v\n", err)
		return 2
	}
	if err := ctx.Err(); err != nil {
		fmt.Fprintf(stderr, "pivcheck: %v\n", err)
		return 1
	}
	reader, err := findReader(cfg.reader)
	if err != nil {
		fmt.Fprintf(stderr, "pivcheck: %v\n", err)
		return 1
	}
	report := func(label, format string, a ...any) {
		fmt.Fprintf(stdout, "%-12s %s\n", label+":", fmt.Sprintf(format, a...))
	}
	report("reader", "%s", reader)

	// Management and FIDO go over a shared raw connection first; piv-go
	// then holds the card exclusively.
	dev, devErr := readDevice(reader)
	if devErr != nil {
		report("model", "unknown (%v)", devErr)
	} else {
		report("model", "%s", dev.model())
	}

	yk, err := piv.Open(reader)
	if err != nil {
		fmt.Fprintf(stderr, "pivcheck: open %q: %v\n", reader, err)
		return 1
	}
	defer yk.Close()
	v := yk.Version()
	serial, err := yk.Serial()
	if err != nil {
		fmt.Fprintf(stderr, "pivcheck: serial: %v\n", err)
		return 1
	}
	report("serial", "%d", serial)
	report("firmware", "%d.%d.%d", v.Major, v.Minor, v.Patch)

	ok := true
	att, err := attest9a(yk, cfg, report)
	switch {
	case err != nil:
		report("attestation", "NOT verified: %v", err)
		ok = false
	case att.Serial != serial:
		report("attestation", "NOT verified: attested serial %d differs from the key's %d", att.Serial, serial)
		ok = false
	default:
		report("attestation", "verified against %s: serial %d, firmware %d.%d.%d, %s, PIN policy %s, touch policy %s",
			rootsName(cfg), att.Serial, att.Version.Major, att.Version.Minor, att.Version.Patch,
			formFactorName(byte(att.Formfactor)), policyName(pinPolicies, att.PINPolicy), policyName(touchPolicies, att.TouchPolicy))
	}

	if devErr == nil {
		report("fido2 PIN", "%s", dev.fido)
	} else {
		report("fido2 PIN", "unknown")
	}
	if !ok {
		report("result", "FAILED")
		return 1
	}
	report("result", "OK")
	return 0
}

func rootsName(cfg config) string {
	if cfg.roots == nil {
		return "Yubico's PIV roots"
	}
	return fmt.Sprintf("%d given root(s)", cfg.nRoots)
}

func findReader(want string) (string, error) {
	cards, err := piv.Cards()
	if err != nil {
		return "", fmt.Errorf("list readers: %w", err)
	}
	for _, c := range cards {
		if want != "" && strings.Contains(c, want) ||
			want == "" && strings.Contains(strings.ToLower(c), "yubikey") {
			return c, nil
		}
	}
	if want == "" {
		return "", fmt.Errorf("no reader named like a YubiKey among %q (use -reader)", cards)
	}
	return "", fmt.Errorf("no reader matching %q among %q", want, cards)
}

// attest9a attests the key in slot 9a, generating one first with -generate,
// and verifies the chain slot certificate → F9 certificate → roots.
func attest9a(yk *piv.YubiKey, cfg config, report func(string, string, ...any)) (*piv.Attestation, error) {
	slotCert, err := yk.Attest(piv.SlotAuthentication)
	if errors.Is(err, piv.ErrNotFound) {
		if !cfg.generate {
			return nil, errors.New("slot 9a holds no key (run with -generate to create one)")
		}
		opts := piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}
		if _, err := yk.GenerateKey(cfg.mgmtKey, piv.SlotAuthentication, opts); err != nil {
			return nil, fmt.Errorf("generate a key in 9a: %w", err)
		}
		report("slot 9a", "generated a P-256 key")
		slotCert, err = yk.Attest(piv.SlotAuthentication)
	}
	if err != nil {
		return nil, fmt.Errorf("attest 9a: %w", err)
	}
	attCert, err := yk.AttestationCertificate()
	if err != nil {
		return nil, fmt.Errorf("read the attestation certificate (F9): %w", err)
	}
	if cfg.roots == nil {
		return piv.Verify(attCert, slotCert)
	}
	return (&piv.Verifier{Roots: cfg.roots}).Verify(attCert, slotCert)
}

// device is what the management and FIDO applications say.
type device struct {
	version    [3]byte
	formFactor byte
	usbCaps    uint16
	nfcCaps    uint16
	fido       string
}

// Management application (yubikit management.py).
var (
	aidManagement = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	aidFIDO       = []byte{0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01}
)

const (
	formFactorFIPS = 0x80
	formFactorSKY  = 0x40
	capFIDO2       = 0x0200
	capPIV         = 0x0010
)

func readDevice(reader string) (*device, error) {
	card, err := scard.Connect(reader)
	if err != nil {
		return nil, err
	}
	defer card.Close()
	if _, err := transmit(card, selectAPDU(aidManagement)); err != nil {
		return nil, fmt.Errorf("select management: %w", err)
	}
	cfg, err := transmit(card, []byte{0x00, 0x1D, 0x00, 0x00, 0x00})
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	d, err := parseDeviceInfo(cfg)
	if err != nil {
		return nil, err
	}
	d.fido = fidoPINState(card)
	return d, nil
}

func selectAPDU(aid []byte) []byte {
	return append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, aid...)
}

// transmit sends apdu, follows 61xx with GET RESPONSE, and returns the data
// of a 9000 answer.
func transmit(card *scard.Card, apdu []byte) ([]byte, error) {
	var data []byte
	for {
		resp, err := card.Transmit(apdu)
		if err != nil {
			return nil, err
		}
		if len(resp) < 2 {
			return nil, fmt.Errorf("short response % X", resp)
		}
		sw1, sw2 := resp[len(resp)-2], resp[len(resp)-1]
		data = append(data, resp[:len(resp)-2]...)
		switch {
		case sw1 == 0x90 && sw2 == 0x00:
			return data, nil
		case sw1 == 0x61:
			apdu = []byte{0x00, 0xC0, 0x00, 0x00, sw2}
		default:
			return nil, fmt.Errorf("status %02X%02X", sw1, sw2)
		}
	}
}

// parseDeviceInfo reads READ CONFIG's TLVs: 01 USB capabilities, 04 form
// factor, 05 firmware, 0D NFC capabilities.
func parseDeviceInfo(b []byte) (*device, error) {
	if len(b) == 0 || int(b[0]) != len(b)-1 {
		return nil, errors.New("read config: bad length")
	}
	d := &device{}
	for rest := b[1:]; len(rest) > 0; {
		if len(rest) < 2 || int(rest[1]) > len(rest)-2 {
			return nil, errors.New("read config: truncated TLV")
		}
		tag, val := rest[0], rest[2:2+int(rest[1])]
		rest = rest[2+int(rest[1]):]
		switch {
		case tag == 0x01 && len(val) == 2:
			d.usbCaps = binary.BigEndian.Uint16(val)
		case tag == 0x04 && len(val) == 1:
			d.formFactor = val[0]
		case tag == 0x05 && len(val) == 3:
			copy(d.version[:], val)
		case tag == 0x0D && len(val) == 2:
			d.nfcCaps = binary.BigEndian.Uint16(val)
		}
	}
	return d, nil
}

// model names the key the way Yubico's product names go: series, form
// factor, NFC, FIPS.
func (d *device) model() string {
	if d.formFactor&formFactorSKY != 0 || d.usbCaps&capPIV == 0 && d.usbCaps&capFIDO2 != 0 {
		if d.nfcCaps != 0 {
			return "Security Key NFC by Yubico"
		}
		return "Security Key by Yubico"
	}
	name := fmt.Sprintf("YubiKey %d", d.version[0])
	switch d.formFactor & 0x0F {
	case 0x02:
		name += " Nano"
	case 0x03:
		name += "C"
	case 0x04:
		name += "C Nano"
	case 0x05:
		name += "Ci"
	}
	if d.nfcCaps != 0 {
		name += " NFC"
	}
	if d.formFactor&formFactorFIPS != 0 {
		name += " FIPS"
	}
	return name
}

// fidoPINState asks the FIDO application (CTAP2 over NFCCTAP_MSG) whether a
// PIN is set, how many tries are left and whether it must be changed.
func fidoPINState(card *scard.Card) string {
	if _, err := transmit(card, selectAPDU(aidFIDO)); err != nil {
		return fmt.Sprintf("unknown (no FIDO over the smart-card interface: %v)", err)
	}
	var info struct {
		Options        map[string]bool `cbor:"4,keyasint"`
		ForcePINChange bool            `cbor:"12,keyasint"`
	}
	if err := ctap(card, 0x04, nil, &info); err != nil {
		return fmt.Sprintf("unknown (getInfo: %v)", err)
	}
	set, supported := info.Options["clientPin"]
	switch {
	case !supported:
		return "not supported"
	case !set:
		return "not set"
	}
	var retries struct {
		Retries int `cbor:"3,keyasint"`
	}
	// authenticatorClientPIN getPINRetries (CTAP 2.1 §6.5.5.2).
	if err := ctap(card, 0x06, map[int]int{1: 1, 2: 1}, &retries); err != nil {
		return fmt.Sprintf("set (retries unknown: %v)", err)
	}
	change := "no"
	if info.ForcePINChange {
		change = "yes"
	}
	return fmt.Sprintf("set, %d retries left, change required: %s", retries.Retries, change)
}

// ctap runs one CTAP2 command through NFCCTAP_MSG and decodes its answer.
func ctap(card *scard.Card, cmd byte, params, out any) error {
	body := []byte{cmd}
	if params != nil {
		enc, err := cbor.Marshal(params)
		if err != nil {
			return err
		}
		body = append(body, enc...)
	}
	apdu := append([]byte{0x80, 0x10, 0x80, 0x00, byte(len(body))}, body...)
	resp, err := transmit(card, append(apdu, 0x00))
	if err != nil {
		return err
	}
	if len(resp) == 0 {
		return errors.New("empty CTAP response")
	}
	if resp[0] != 0 {
		return fmt.Errorf("CTAP status 0x%02X", resp[0])
	}
	return cbor.Unmarshal(resp[1:], out)
}

func formFactorName(ff byte) string {
	switch ff & 0x0F {
	case 0x01:
		return "USB-A keychain"
	case 0x02:
		return "USB-A nano"
	case 0x03:
		return "USB-C keychain"
	case 0x04:
		return "USB-C nano"
	case 0x05:
		return "USB-C/Lightning"
	}
	return fmt.Sprintf("form factor 0x%02X", ff)
}

// pinPolicies and touchPolicies name the policies an attestation states.
var (
	pinPolicies   = map[piv.PINPolicy]string{piv.PINPolicyNever: "never", piv.PINPolicyOnce: "once", piv.PINPolicyAlways: "always"}
	touchPolicies = map[piv.TouchPolicy]string{piv.TouchPolicyNever: "never", piv.TouchPolicyAlways: "always", piv.TouchPolicyCached: "cached"}
)

// policyName returns the name of policy p in names, or its number.
func policyName[P ~int](names map[P]string, p P) string {
	if n, ok := names[p]; ok {
		return n
	}
	return fmt.Sprintf("%d", p)
}
