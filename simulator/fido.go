package simulator

// fidoAID is the FIDO application (FIDO NFC protocol §3.1).
var fidoAID = []byte{0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01}

type fidoApplet struct{ env *env }

func newFIDOApplet(e *env) (*fidoApplet, error) { return &fidoApplet{env: e}, nil }

func (a *fidoApplet) aid() []byte { return fidoAID }

func (a *fidoApplet) selectApplet() response { return response{data: []byte("FIDO_2_0"), sw: swOK} }

func (a *fidoApplet) handle(cmd command) response { return response{sw: swInsNotSupported} }

func (a *fidoApplet) powerOff() {}

func (a *fidoApplet) ctap(req []byte) []byte { return []byte{ctapInvalidCommand} }
