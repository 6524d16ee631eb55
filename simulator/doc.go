// Package simulator is a software YubiKey 5 that tests can hold in their
// hand: the Management, FIDO2 (CTAP 2.1) and PIV applications of a
// YubiKey 5 NFC with firmware 5.7, behind the ISO 7816-4 APDU interface a
// real key offers over CCID or NFC. It is pure Go and needs no hardware,
// no PC/SC stack and no network.
//
// The Management application answers READ CONFIG with the applications
// the simulator hosts (FIDO U2F, FIDO2, PIV; see [Capability]) and takes
// WRITE CONFIG, so "ykman config usb --disable PIV" and "ykman config
// set-lock-code" work: the enabled applications are kept per [Transport]
// (USB or NFC, [WithTransport], [Key.SetTransport]), survive power
// cycles, and a disabled application answers SELECT as absent.
//
// A [Key] is the card. [Key.Transmit] takes command APDUs (short or
// extended, with command chaining and 61xx/GET RESPONSE) and routes them to
// the application selected by AID; [Key.CTAP] runs a CTAP2 command on the
// FIDO application directly, as the USB HID transport would. Test hooks
// control the simulated user and the physical world: [Key.SetTouch],
// [Key.PowerCycle], [Key.Remove] and [Key.Insert], a deterministic
// randomness and clock ([WithRand], [WithClock]), an APDU transcript
// ([WithTranscript]) and a secret-free [Key.Snapshot] of the FIDO and PIV
// state.
//
// The FIDO application speaks CTAP 2.1 over NFCCTAP_MSG with CTAP2
// canonical CBOR: getInfo, makeCredential with packed attestation,
// getAssertion and getNextAssertion, clientPIN with PIN/UV auth protocols
// 1 and 2 (8 retries, a power cycle after 3 consecutive wrong PINs),
// credentialManagement, authenticatorConfig setMinPINLength with
// forceChangePin, reset, resident keys, credProtect and hmac-secret; and
// U2F (CTAP1) raw messages.
//
// A [Platform] plays the browser and operating system: it takes
// go-webauthn's creation or request options, an origin and a PIN, drives
// the FIDO application with real CTAP2 over NFCCTAP APDUs (PIN/UV auth
// protocol 2 or 1, user verification, extensions) and returns the
// PublicKeyCredential JSON a relying party parses. It keeps its PIN/UV key
// agreement (ephemeral key and shared secret) while the key's key
// agreement key is unchanged, and derives a new one after a power off, a
// reset or a wrong PIN; [WithFreshKeyAgreement] makes a new one per
// ceremony, as browsers do.
//
// Attestation is real: the FIDO application signs packed attestation with a
// per-key certificate chained to a simulated Yubico CA ([DefaultFIDOCA],
// or [NewCA] / [LoadCA] with [WithFIDOCA]); relying parties in tests trust
// [CA.Root] in place of Yubico's roots. Simulated keys report their own AAGUIDs, not Yubico's
// (see [Model.AAGUID]).
package simulator
