package simulator

import (
	"fmt"
	"strings"
)

// Transport is how a key is attached to the host: over USB or over NFC.
// A YubiKey 5 keeps one set of enabled applications per transport
// (ykman config usb / ykman config nfc); SELECT finds only the
// applications enabled on the transport the key is on.
type Transport int

// Transports.
const (
	TransportUSB Transport = iota + 1 // plugged into a USB port (default)
	TransportNFC                      // held to an NFC reader (NFC models only)
)

// transportNames names every transport the simulator knows.
var transportNames = map[Transport]string{TransportUSB: "USB", TransportNFC: "NFC"}

// String returns "USB" or "NFC".
func (t Transport) String() string { return enumString(t, "Transport", transportNames) }

// Capability is a set of YubiKey applications as the management
// application counts them in READ CONFIG and WRITE CONFIG (yubikit's
// CAPABILITY bits,
// https://github.com/Yubico/yubikey-manager/blob/main/yubikit/management.py).
// The simulator hosts FIDO U2F, FIDO2 and PIV; a YubiKey's OTP, OATH,
// OpenPGP and YubiHSM Auth applications are not simulated, so a key never
// reports them as supported.
type Capability uint16

// Applications the simulator hosts.
const (
	CapU2F   Capability = 0x0002 // FIDO U2F (CTAP1)
	CapPIV   Capability = 0x0010 // PIV
	CapFIDO2 Capability = 0x0200 // FIDO2 (CTAP2)
)

// capabilityNames are yubikit's names, in its order.
var capabilityNames = []struct {
	c    Capability
	name string
}{
	{0x0001, "OTP"}, {CapU2F, "U2F"}, {0x0008, "OPENPGP"}, {CapPIV, "PIV"},
	{0x0020, "OATH"}, {0x0100, "HSMAUTH"}, {CapFIDO2, "FIDO2"},
}

// String names the applications, e.g. "U2F|PIV|FIDO2", or "none".
func (c Capability) String() string {
	var names []string
	rest := c
	for _, n := range capabilityNames {
		if c&n.c != 0 {
			names = append(names, n.name)
			rest &^= n.c
		}
	}
	if rest != 0 {
		names = append(names, fmt.Sprintf("0x%04X", uint16(rest)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// WithTransport attaches the key over t (default [TransportUSB]).
// [TransportNFC] needs a model with NFC; [New] refuses it on others.
func WithTransport(t Transport) Option {
	return checked(refuse(transportNames[t] == "", "simulator: unknown transport %d", int(t)),
		func(c *config) { c.transport = t })
}

func checkTransport(m Model, t Transport) error {
	switch t {
	case TransportUSB:
		return nil
	case TransportNFC:
		if !m.NFC() {
			return fmt.Errorf("simulator: transport NFC: %s has no NFC", m)
		}
		return nil
	}
	return fmt.Errorf("simulator: unknown transport %d", int(t))
}

// Transport returns how the key is attached.
func (k *Key) Transport() Transport {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.transport
}

// SetTransport moves the key to another transport, e.g. from a USB port
// to an NFC reader. Like pulling the key out and presenting it again, it
// powers the key off and on: PIN tokens, verified PINs and selected
// applications are forgotten. [TransportNFC] needs a model with NFC.
func (k *Key) SetTransport(t Transport) error {
	if err := checkTransport(k.env.model, t); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.powerOffLocked()
	k.env.poweredAt = k.env.now()
	k.transport = t
	return nil
}

// enabledLocked returns the applications enabled on the key's current
// transport; k.mu must be held.
func (k *Key) enabledLocked() Capability {
	return k.mgmt.enabled(k.transport)
}
