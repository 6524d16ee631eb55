// Command virtualkey plugs simulated YubiKeys into the PC/SC stack of this
// machine, so that unmodified tools (ykman, yubico-piv-tool, OpenSC,
// python-fido2, piv-go programs) use them as if they were real keys. It
// serves the keys to Debian's vsmartcard-vpcd virtual reader driver inside
// pcscd until interrupted.
//
// Setup (Debian, as root; there is no systemd, so start pcscd by hand):
//
//	apt-get install pcscd vsmartcard-vpcd yubikey-manager
//	/usr/sbin/pcscd --foreground &
//	go run ./examples/virtualkey -serial 12345678 -fido-pin 1234 &
//	ykman --reader "Virtual PCD 00 00" info
//
// Flags:
//
//	-vpcd host:port   the vpcd reader slot to dial (default 127.0.0.1:35963,
//	                  "Virtual PCD 00 00"; 35964 is slot 00 01)
//	-keys N           serve N keys (1 or 2) on consecutive vpcd ports
//	-serial N         serial number of the first key (others count up)
//	-model NAME       model, e.g. "YubiKey 5C NFC" or yubikey-5-nfc
//	-firmware X.Y.Z   firmware version, 5.x (default 5.7.1; 5.7.4 for FIPS
//	                  models). Before 5.7 the PIV management key defaults to
//	                  3DES, as tools written for older keys expect; AES
//	                  management keys need 5.4, GET METADATA 5.3.
//	-fido-pin PIN     set this FIDO2 PIN (none by default)
//	-piv-pin PIN      change the PIV PIN from the default 123456
//
// PINs are never printed. The keys live in memory only; their attestation
// certificates chain to the simulator's process-wide CAs, which are new each
// run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is the parsed command line.
type config struct {
	addr   string
	keys   int
	serial uint32
	model  simulator.Model
	// firmware is the -firmware version; zero means the model's default.
	firmware simulator.Version
	fidoPIN  string
	pivPIN   string
}

// run serves keys until ctx is done. It returns 0 after an orderly stop, 1
// when the keys cannot be set up and 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "virtualkey: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	host, portStr, _ := net.SplitHostPort(cfg.addr) // validated by parseFlags
	port, _ := strconv.Atoi(portStr)
	bridges := make([]*simulator.VPCD, 0, cfg.keys)
	for i := range cfg.keys {
		k, err := newKey(ctx, cfg, cfg.serial+uint32(i))
		if err != nil {
			fmt.Fprintf(stderr, "virtualkey: %v\n", err)
			return 1
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port+i))
		v, err := simulator.NewVPCD(addr, k, simulator.WithVPCDLogger(logger.With("serial", k.Serial())))
		if err != nil {
			fmt.Fprintf(stderr, "virtualkey: %v\n", err)
			return 1
		}
		bridges = append(bridges, v)
		fmt.Fprintf(stdout, "serving %s serial %d firmware %s to vpcd %s (AAGUID %s, FIDO PIN %s, PIV PIN %s)\n",
			k.Model(), k.Serial(), k.Firmware(), addr, k.AAGUID(), pinState(cfg.fidoPIN, "not set"), pinState(cfg.pivPIN, "default"))
	}
	fmt.Fprintln(stdout, "press Ctrl-C to stop")

	g, gctx := errgroup.WithContext(ctx)
	for _, v := range bridges {
		g.Go(func() error { return v.Serve(gctx) })
	}
	if err := g.Wait(); err != nil {
		fmt.Fprintf(stderr, "virtualkey: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "stopped")
	return 0
}

func pinState(pin, unset string) string {
	if pin == "" {
		return unset
	}
	return "set"
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("virtualkey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("vpcd", simulator.DefaultVPCDAddr, "vpcd reader `host:port` to dial")
	keys := fs.Int("keys", 1, "number of keys to serve on consecutive vpcd ports (1 or 2)")
	serial := fs.Uint("serial", 12345678, "serial number of the first key")
	modelName := fs.String("model", "YubiKey 5 NFC", "model `name`")
	firmware := fs.String("firmware", "", "firmware `version` X.Y.Z, 5.x (default 5.7.1, 5.7.4 for FIPS models)")
	fidoPIN := fs.String("fido-pin", "", "FIDO2 `PIN` to set (none by default)")
	pivPIN := fs.String("piv-pin", "", "PIV `PIN` replacing the default 123456")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := config{addr: *addr, keys: *keys, fidoPIN: *fidoPIN, pivPIN: *pivPIN}
	host, portStr, err := net.SplitHostPort(cfg.addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || host == "" || perr != nil || port < 1 || port > 65535 {
		return config{}, fmt.Errorf("-vpcd %q: want host:port", cfg.addr)
	}
	if cfg.keys < 1 || cfg.keys > 2 {
		return config{}, fmt.Errorf("-keys %d: vpcd has 2 slots, want 1 or 2", cfg.keys)
	}
	if port+cfg.keys-1 > 65535 {
		return config{}, fmt.Errorf("-vpcd %q: no port left for key %d", cfg.addr, cfg.keys)
	}
	if maxSerial := uint64(0xFFFFFFFF) - uint64(cfg.keys-1); *serial == 0 || uint64(*serial) > maxSerial {
		return config{}, fmt.Errorf("-serial %d: want 1..%d", *serial, maxSerial)
	}
	cfg.serial = uint32(*serial)
	m, ok := simulator.ModelByName(*modelName)
	if !ok {
		return config{}, fmt.Errorf("-model %q: unknown model", *modelName)
	}
	cfg.model = m
	if *firmware != "" {
		v, err := simulator.ParseVersion(*firmware)
		if err != nil {
			return config{}, fmt.Errorf("-firmware %q: want a version such as 5.4.3", *firmware)
		}
		if v.Major != 5 {
			return config{}, fmt.Errorf("-firmware %s: only YubiKey 5 firmware (5.x.y) is simulated", v)
		}
		cfg.firmware = v
	}
	// PIN rules of a YubiKey; the PINs themselves stay out of messages.
	if n := utf8.RuneCountInString(cfg.fidoPIN); cfg.fidoPIN != "" && (n < 4 || len(cfg.fidoPIN) > 63 || !utf8.ValidString(cfg.fidoPIN)) {
		return config{}, errors.New("-fido-pin: want 4 to 63 bytes of UTF-8, at least 4 characters")
	}
	if cfg.pivPIN != "" && (len(cfg.pivPIN) < 6 || len(cfg.pivPIN) > 8) {
		return config{}, errors.New("-piv-pin: want 6 to 8 bytes")
	}
	return cfg, nil
}

// newKey creates one key and applies the PINs, the way a person would with
// ykman: a FIDO2 PIN through ClientPIN, the PIV PIN with CHANGE REFERENCE.
func newKey(ctx context.Context, cfg config, serial uint32) (*simulator.Key, error) {
	opts := []simulator.Option{simulator.WithSerial(serial), simulator.WithModel(cfg.model)}
	if cfg.firmware != (simulator.Version{}) {
		opts = append(opts, simulator.WithFirmware(cfg.firmware))
	}
	k, err := simulator.New(opts...)
	if err != nil {
		return nil, err
	}
	if cfg.fidoPIN != "" {
		if err := simulator.NewPlatform(k).SetPIN(ctx, cfg.fidoPIN); err != nil {
			return nil, fmt.Errorf("set FIDO PIN on key %d: %w", serial, err)
		}
	}
	if cfg.pivPIN != "" {
		if err := changePIVPIN(k, "123456", cfg.pivPIN); err != nil {
			return nil, fmt.Errorf("set PIV PIN on key %d: %w", serial, err)
		}
	}
	return k, nil
}

// changePIVPIN runs SELECT PIV and CHANGE REFERENCE DATA for the PIN
// (NIST SP 800-73-4 Part 2 §3.2.2; PINs padded with FF to 8 bytes).
func changePIVPIN(k *simulator.Key, oldPIN, newPIN string) error {
	selectPIV := []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	if err := transmitOK(k, "SELECT PIV", selectPIV); err != nil {
		return err
	}
	apdu := append([]byte{0x00, 0x24, 0x00, 0x80, 0x10}, padPIN(oldPIN)...)
	apdu = append(apdu, padPIN(newPIN)...)
	return transmitOK(k, "CHANGE REFERENCE DATA", apdu)
}

func padPIN(pin string) []byte {
	b := []byte(strings.Repeat("\xff", 8))
	copy(b, pin)
	return b
}

func transmitOK(k *simulator.Key, what string, apdu []byte) error {
	resp, err := k.Transmit(apdu)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n := len(resp); n < 2 || resp[n-2] != 0x90 || resp[n-1] != 0x00 {
		return fmt.Errorf("%s: card answered % X", what, resp[max(0, n-2):])
	}
	return nil
}
