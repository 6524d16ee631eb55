package simulator

// pivAID is the PIV application identifier (NIST SP 800-73-4 Part 1 §2.2).
var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// pivApplet is the PIV applet. This file is a placeholder owned by the PIV
// work; it answers every instruction with "not supported".
type pivApplet struct {
	env *env
}

func newPIVApplet(e *env) *pivApplet { return &pivApplet{env: e} }

func (a *pivApplet) aid() []byte { return pivAID }

func (a *pivApplet) selectApplet() response { return response{sw: swOK} }

func (a *pivApplet) handle(cmd command) response { return response{sw: swInsNotSupported} }

func (a *pivApplet) powerOff() {}
