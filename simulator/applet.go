package simulator

import (
	"io"
	"time"

	"github.com/google/uuid"
)

// command is one parsed ISO 7816-4 command APDU, after command chaining has
// been reassembled by the card.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	// ne is the maximum number of response bytes the host expects (Le):
	// 0 when absent, 256 (short) or 65536 (extended) when encoded as zero.
	ne       int
	extended bool
}

// response is what an applet answers: data and a status word. The card
// splits long data into 61xx / GET RESPONSE chunks.
type response struct {
	data []byte
	sw   uint16
}

// Status words used across applets (ISO 7816-4 §5.1.3).
const (
	swOK               uint16 = 0x9000
	swWrongLength      uint16 = 0x6700
	swSecurityStatus   uint16 = 0x6982
	swAuthBlocked      uint16 = 0x6983
	swConditionsNotMet uint16 = 0x6985
	swIncorrectData    uint16 = 0x6A80
	swFileNotFound     uint16 = 0x6A82
	swIncorrectP1P2    uint16 = 0x6A86
	swRefNotFound      uint16 = 0x6A88
	swInsNotSupported  uint16 = 0x6D00
	swClaNotSupported  uint16 = 0x6E00
	swVerifyFailBase   uint16 = 0x63C0 // | retries left
	swMoreDataBase     uint16 = 0x6100 // | bytes available
	swUnknownError     uint16 = 0x6F00
)

// env is what every applet of one key shares: identity, randomness, time
// and the user-presence (touch) hook. The card owns it; applets keep a
// pointer and must not change it.
type env struct {
	rand     io.Reader
	now      func() time.Time
	serial   uint32
	firmware Version
	model    Model
	// touch asks the simulated user to touch the key. It returns nil when
	// approved, errTouchDenied or errTouchTimeout otherwise.
	touch func() error
	// fidoCA and pivCA issue the FIDO attestation and PIV attestation
	// certificates.
	fidoCA *CA
	pivCA  *CA
	// fidoAtt, when set, is the FIDO attestation the key shares with its
	// batch; nil: the FIDO applet makes the key's own under fidoCA.
	fidoAtt *FIDOAttestation
	// aaguid is the AAGUID the FIDO applet reports.
	aaguid uuid.UUID
	// poweredAt is when the key was last powered up; the card updates it
	// on power cycles with its lock held.
	poweredAt time.Time
	// enabled returns the applications enabled on the transport the key
	// is attached over (WRITE CONFIG changes them); it runs with the
	// card's lock held. nil means every application is enabled.
	enabled func() Capability
}

// appEnabled reports whether any of the applications c is enabled on the
// key's current transport.
func (e *env) appEnabled(c Capability) bool {
	return e.enabled == nil || e.enabled()&c != 0
}

// applet is one ISO 7816 application on the card (Management, FIDO, PIV).
// The card serializes all calls; applets need no locking of their own.
type applet interface {
	// aid is the applet's full AID; SELECT matches any prefix of at least
	// 5 bytes of it.
	aid() []byte
	// capability is the set of applications behind the applet; SELECT
	// finds the applet only while one of them is enabled on the key's
	// transport. 0 means always available (Management).
	capability() Capability
	// selectApplet is called when the applet becomes the selected one and
	// returns the SELECT response.
	selectApplet() response
	// handle runs one command while the applet is selected.
	handle(cmd command) response
	// powerOff forgets volatile state (verified PINs, session keys,
	// selected state) as pulling the key out of the port does.
	powerOff()
}
