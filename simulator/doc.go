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
//
// # Testing a relying party of your own
//
// The package's example relyingParty (example_rp_test.go; go doc does not
// print examples, pkg.go.dev does) is a go-webauthn relying party under
// test: it
// trusts [DefaultFIDOCA]'s root for the key's AAGUID through go-webauthn's
// in-memory metadata provider (Config.MDS), passes the options JSON it
// would send a browser to [Platform.CreateCredentialJSON] and
// [Platform.GetAssertionJSON], and parses their answers as a posted
// response. The failures a relying party meets come from the key and the
// user, each with its sentinel error:
//
//   - a wrong PIN: [ErrPINInvalid]; the third in a row answers
//     [ErrPINAuthBlocked] until [Key.PowerCycle]; with no retries left,
//     [ErrPINBlocked] until [Platform.Reset];
//   - the user does not touch the key: [Key.SetTouch] with [TouchDeny]
//     ([ErrOperationDenied]) or [TouchTimeout] ([ErrUserActionTimeout]);
//   - user verification required and no PIN set or typed: [ErrConstraint];
//   - a key the relying party must refuse: attested by another CA
//     ([WithFIDOCA] with [NewCA]), claiming another AAGUID ([WithAAGUID],
//     e.g. [Model.YubicoAAGUID]), or of another series ([WithModel]:
//     models of one series share an AAGUID, see [Model.AAGUID]);
//   - a cloned key, whose signature counter falls behind: a second key
//     made with the same options and a [WithRand] reader yielding the same
//     bytes;
//   - an origin or RP ID a browser would refuse: [ErrSecurity].
//
// A relying party never sees the first three: the platform returns them
// instead of a response, as a browser rejects the promise of
// navigator.credentials.create or get.
//
// PIV is reached in process only through [Key.Transmit] (the example
// Key.Transmit_piv in piv_example_test.go shows the APDUs). piv-go, ykman and other PC/SC
// clients need pcscd with vsmartcard's vpcd reader driver (Debian:
// apt-get install pcscd vsmartcard-vpcd; then pcscd --foreground):
// [ServeVPCD] with [DefaultVPCDAddr] inserts a key into the reader
// "Virtual PCD 00 00", which piv.Open then opens once pcscd lists the
// card (poll piv.Cards and retry piv.Open: pcscd reports the card a
// moment after the bridge connects).
package simulator
