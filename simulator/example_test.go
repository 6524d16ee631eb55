package simulator_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/preenroll/preenroll/simulator"
)

// A key answers ISO 7816 APDUs like a YubiKey over CCID: here the
// management application's version and READ CONFIG, as ykman reads them.
func ExampleKey_Transmit() {
	k, err := simulator.New(simulator.WithSerial(12345678))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := k.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17})
	if err != nil { // only ErrNotPresent, a removed key: the card refuses with a status word
		log.Fatal(err)
	}
	fmt.Printf("%s %X\n", resp[:len(resp)-2], resp[len(resp)-2:])
	resp, err = k.Transmit([]byte{0x00, 0x1D, 0x00, 0x00, 0x00})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(resp))
	// Output:
	// Virtual YubiKey - 5.7.1 9000
	// 2b01020212020400bc614e030202120401010503050701060200000701000801000a01000d0202120e0202129000
}

// The Platform plays the browser: it turns WebAuthn options into CTAP2
// over APDUs and returns the JSON a relying party parses.
func ExamplePlatform() {
	ctx := context.Background()
	k, err := simulator.New(simulator.WithModel(simulator.YubiKey5CNFC))
	if err != nil {
		log.Fatal(err)
	}
	p := simulator.NewPlatform(k)
	if err := p.SetPIN(ctx, "4831-pin"); err != nil {
		log.Fatal(err)
	}
	opts := protocol.PublicKeyCredentialCreationOptions{
		RelyingParty: protocol.RelyingPartyEntity{ID: "example.com", CredentialEntity: protocol.CredentialEntity{Name: "Example"}},
		User:         protocol.UserEntity{ID: []byte("user-1"), DisplayName: "Alice", CredentialEntity: protocol.CredentialEntity{Name: "alice"}},
		Challenge:    []byte("0123456789abcdef"),
		Parameters:   []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: -7}},
		Attestation:  protocol.PreferDirectAttestation,
	}
	resp, err := p.CreateCredential(ctx, "https://example.com", opts, "4831-pin")
	if err != nil {
		log.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		log.Fatal(err)
	}
	att := parsed.Response.AttestationObject
	fmt.Println(att.Format, len(att.AttStatement["x5c"].([]any)), "certificates")
	fmt.Println("UP", att.AuthData.Flags.UserPresent(), "UV", att.AuthData.Flags.UserVerified())
	aaguid := k.AAGUID()
	fmt.Println("AAGUID is the key's:", bytes.Equal(att.AuthData.AttData.AAGUID, aaguid[:]))

	// A wrong PIN fails the way a real key does.
	_, err = p.CreateCredential(ctx, "https://example.com", opts, "0000")
	fmt.Println(errors.Is(err, simulator.ErrPINInvalid))
	n, _, err := p.PINRetries(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "retries left")
	// Output:
	// packed 2 certificates
	// UP true UV true
	// AAGUID is the key's: true
	// true
	// 7 retries left
}

// CTAP runs a CTAP2 command on the FIDO application directly, as the USB
// HID transport would.
func ExampleKey_CTAP() {
	k, err := simulator.New()
	if err != nil {
		log.Fatal(err)
	}
	resp, err := k.CTAP([]byte{0x04}) // authenticatorGetInfo
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("status %#02x, %d bytes of CBOR\n", resp[0], len(resp)-1)
	// Output:
	// status 0x00, 299 bytes of CBOR
}

func ExampleModelByName() {
	m, ok := simulator.ModelByName("yubikey-5c-nfc")
	fmt.Println(m, m.ProductID(), ok)
	m, _ = simulator.ModelByProductID(54)
	fmt.Println(m, m.FIPS())
	// Output:
	// YubiKey 5C NFC 29 true
	// YubiKey 5 NFC FIPS true
}

func ExampleKey_Snapshot() {
	ctx := context.Background()
	k, err := simulator.New()
	if err != nil {
		log.Fatal(err)
	}
	p := simulator.NewPlatform(k)
	if err := p.SetPIN(ctx, "4831-pin"); err != nil {
		log.Fatal(err)
	}
	if err := p.ForcePINChange(ctx, "4831-pin"); err != nil {
		log.Fatal(err)
	}
	st := k.Snapshot()
	b, err := json.Marshal(st.FIDO)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output:
	// {"PINSet":true,"PINRetries":8,"PowerCycleRequired":false,"ForcePINChange":true,"MinPINLength":4,"SignCount":0,"Credentials":null}
}
