package simulator

import (
	"slices"

	"github.com/google/uuid"
)

// State is a snapshot of a key's observable state for tests. It holds no
// secrets: no PIN, no private key, no PIN token.
type State struct {
	Present  bool
	Serial   uint32
	Model    Model
	Firmware Version
	AAGUID   uuid.UUID
	// Transport is how the key is attached ([Key.SetTransport]).
	Transport Transport
	// USBEnabled and NFCEnabled are the applications enabled on each
	// transport (WRITE CONFIG, e.g. ykman config usb --disable PIV);
	// NFCEnabled is 0 on models without NFC.
	USBEnabled, NFCEnabled Capability
	// ConfigLocked is whether a configuration lock code is set.
	ConfigLocked bool
	FIDO         FIDOState
	PIV          *PIVState // nil on models without PIV
}

// FIDOState is the FIDO application's part of a [State].
type FIDOState struct {
	PINSet             bool
	PINRetries         int
	PowerCycleRequired bool // 3 consecutive wrong PINs since power-up
	ForcePINChange     bool
	MinPINLength       int
	SignCount          uint32 // the global signature counter
	// Credentials are the discoverable credentials, oldest first.
	// Non-discoverable credentials live only in their IDs and are not
	// listed, as on a real key.
	Credentials []ResidentCredential
}

// ResidentCredential describes one discoverable credential.
type ResidentCredential struct {
	ID          []byte
	RPID        string
	UserHandle  []byte
	UserName    string
	DisplayName string
	CredProtect int // 0 when the extension was not used
}

// Snapshot returns the key's current state.
func (k *Key) Snapshot() State {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := k.fido
	st := State{
		Present:      k.present,
		Serial:       k.env.serial,
		Model:        k.env.model,
		Firmware:     k.env.firmware,
		AAGUID:       k.aaguid,
		Transport:    k.transport,
		USBEnabled:   k.mgmt.cfg.usbEnabled,
		NFCEnabled:   k.mgmt.cfg.nfcEnabled,
		ConfigLocked: k.mgmt.cfg.lockCode != nil,
		FIDO: FIDOState{
			PINSet:             f.pinHash != nil,
			PINRetries:         f.retries,
			PowerCycleRequired: f.authBlocked,
			ForcePINChange:     f.forceChange,
			MinPINLength:       f.minPINLen,
			SignCount:          f.counter,
		},
	}
	if k.piv != nil {
		piv := k.piv.state()
		st.PIV = &piv
	}
	for _, c := range f.resident {
		st.FIDO.Credentials = append(st.FIDO.Credentials, ResidentCredential{
			ID: slices.Clone(c.id), RPID: c.rpID, UserHandle: slices.Clone(c.userID),
			UserName: c.userName, DisplayName: c.displayName, CredProtect: int(c.credProtect),
		})
	}
	return st
}
