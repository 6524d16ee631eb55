package simulator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
)

// userID extracts the user handle from go-webauthn's UserEntity.ID, which
// holds bytes when built in Go and a base64url string when decoded from
// JSON.
func userID(v any) ([]byte, error) {
	var id []byte
	switch x := v.(type) {
	case protocol.URLEncodedBase64:
		id = x
	case []byte:
		id = x
	case string:
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(x, "="))
		if err != nil {
			return nil, errors.New("user.id is not base64url")
		}
		id = b
	default:
		return nil, fmt.Errorf("user.id has unsupported type %T", v)
	}
	if len(id) == 0 || len(id) > 64 {
		return nil, fmt.Errorf("user.id is %d bytes, want 1 to 64", len(id))
	}
	return id, nil
}

type attestationObject struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}

var credProtectLevels = map[protocol.CredentialProtectionPolicy]int{
	"userVerificationOptional":                     1,
	"userVerificationOptionalWithCredentialIDList": 2,
	"userVerificationRequired":                     3,
}

// CreateCredential runs navigator.credentials.create() at origin with
// opts and returns the PublicKeyCredential JSON (the shape of
// PublicKeyCredential.toJSON(), which go-webauthn's
// protocol.ParseCredentialCreationResponseBytes parses). pin is the FIDO
// PIN the user types when the key asks for one ("" for none).
func (p *Platform) CreateCredential(ctx context.Context, origin string, opts protocol.PublicKeyCredentialCreationOptions, pin string) ([]byte, error) {
	return ceremony(ctx, p, "create credential", p.create, origin, opts, pin)
}

// CreateCredentialJSON is CreateCredential with the options as JSON, either
// {"publicKey": {...}} (go-webauthn's protocol.CredentialCreation) or the
// bare options.
func (p *Platform) CreateCredentialJSON(ctx context.Context, origin string, optionsJSON []byte, pin string) ([]byte, error) {
	return ceremonyJSON(ctx, p, "create credential", p.create, origin, optionsJSON, pin)
}

func (p *Platform) create(ctx context.Context, origin string, opts protocol.PublicKeyCredentialCreationOptions, pin string) ([]byte, error) {
	cd, err := collect("webauthn.create", origin, opts.RelyingParty.ID, opts.Challenge)
	if err != nil {
		return nil, err
	}
	uid, err := userID(opts.User.ID)
	if err != nil {
		return nil, err
	}
	params := make([]credParam, 0, len(opts.Parameters))
	for _, cp := range opts.Parameters {
		if cp.Type == protocol.PublicKeyCredentialType {
			params = append(params, credParam{Alg: int(cp.Algorithm), Type: "public-key"})
		}
	}
	if len(opts.Parameters) == 0 {
		params = []credParam{{Alg: coseES256, Type: "public-key"}, {Alg: -257, Type: "public-key"}}
	}
	info, err := p.session(ctx)
	if err != nil {
		return nil, err
	}
	supported := false
	for _, cp := range params {
		for _, a := range info.Algorithms {
			supported = supported || cp.Alg == a.Alg
		}
	}
	if !supported {
		return nil, fmt.Errorf("no requested algorithm is supported by the key: %w", ErrNotSupported)
	}
	sel := opts.AuthenticatorSelection
	if sel.AuthenticatorAttachment == protocol.Platform {
		return nil, fmt.Errorf("platform attachment requested, the key is cross-platform: %w", ErrNotSupported)
	}
	rk := false
	switch {
	case sel.ResidentKey == protocol.ResidentKeyRequirementRequired:
		rk = true
	case sel.ResidentKey == protocol.ResidentKeyRequirementPreferred:
		rk = info.Options["rk"] && info.Options["clientPin"] && pin != ""
	case sel.ResidentKey == "" && sel.RequireResidentKey != nil && *sel.RequireResidentKey:
		rk = true
	}
	if rk && !info.Options["rk"] {
		return nil, fmt.Errorf("resident key required: %w", ErrNotSupported)
	}
	useToken, err := uvPlan(info, sel.UserVerification, pin, rk)
	if err != nil {
		return nil, err
	}
	req := makeCredentialRequest{
		ClientDataHash: cd.hash[:],
		RP:             &rpEntity{ID: &cd.rpID, Name: opts.RelyingParty.Name},
		User:           &userEntity{ID: uid, Name: opts.User.Name, DisplayName: opts.User.DisplayName},
		Params:         params,
	}
	req.ExcludeList = descriptors(opts.CredentialExcludeList)
	var tok *pinTok
	if useToken {
		perms := permMakeCredential
		if len(req.ExcludeList) > info.MaxCredsInList {
			perms |= permGetAssertion // for the silent probes
		}
		if tok, err = p.ceremonyToken(ctx, info, pin, perms, cd.rpID); err != nil {
			return nil, err
		}
		defer clear(tok.token)
		req.Protocol, req.PinUvAuth = &tok.proto, pinAuthenticate(tok.proto, tok.token, cd.hash[:])
	}
	if req.ExcludeList, err = p.narrow(ctx, info, cd.rpID, req.ExcludeList, tok); err != nil {
		return nil, err
	}
	if rk {
		req.Options = map[string]bool{"rk": true}
	}
	ext := opts.Extensions
	var outputs protocol.AuthenticationExtensionsClientOutputs
	authExt := map[string]any{}
	if ext.CredentialProtectionPolicy != "" {
		level, ok := credProtectLevels[ext.CredentialProtectionPolicy]
		if !ok {
			return nil, fmt.Errorf("unknown credentialProtectionPolicy %q", ext.CredentialProtectionPolicy)
		}
		authExt["credProtect"] = level
	}
	hmacRequested := ext.HMACCreateSecret || ext.PRF != nil
	if hmacRequested {
		authExt["hmac-secret"] = true
	}
	if len(authExt) > 0 {
		req.Extensions = map[string]cbor.RawMessage{}
		for k, v := range authExt {
			b, err := ctapEnc.Marshal(v)
			if err != nil {
				return nil, err
			}
			req.Extensions[k] = b
		}
	}
	var resp struct {
		Fmt      string          `cbor:"1,keyasint"`
		AuthData []byte          `cbor:"2,keyasint"`
		AttStmt  cbor.RawMessage `cbor:"3,keyasint"`
	}
	if err := p.ctap(ctx, cmdMakeCredential, req, &resp); err != nil {
		return nil, err
	}
	parsed, err := parseAttestedAuthData(resp.AuthData)
	if err != nil {
		return nil, err
	}
	// Client extension outputs, only for extensions the RP asked for.
	if ext.CredProps {
		outputs.CredProps = &protocol.CredentialPropertiesOutput{RK: &rk}
	}
	hmacOK := bytes.Contains(parsed.ext, []byte("hmac-secret"))
	if ext.HMACCreateSecret {
		outputs.HMACCreateSecret = &hmacOK
	}
	if ext.PRF != nil {
		outputs.PRF = &protocol.PRFOutputs{Enabled: &hmacOK}
	}
	obj := attestationObject{Fmt: resp.Fmt, AttStmt: resp.AttStmt, AuthData: resp.AuthData}
	if !p.rawAttestation && (opts.Attestation == "" || opts.Attestation == protocol.PreferNoAttestation) {
		// Browsers replace the attestation with "none" and zero the AAGUID.
		ad := bytes.Clone(resp.AuthData)
		clear(ad[37:53])
		obj = attestationObject{Fmt: "none", AttStmt: []byte{0xA0}, AuthData: ad}
	}
	attObj, err := ctapEnc.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return attestationCredentialJSON(parsed, outputs, cd.json, attObj, obj.AuthData, slices.Contains(info.Transports, "nfc"))
}

// attestationCredentialJSON is a registration's PublicKeyCredential JSON
// (see [marshalCredential]); nfc adds "nfc" to the transports.
func attestationCredentialJSON(parsed attestedData, outputs protocol.AuthenticationExtensionsClientOutputs, clientDataJSON, attObj, authData []byte, nfc bool) ([]byte, error) {
	transports := `["usb"]`
	if nfc {
		transports = `["nfc","usb"]`
	}
	return marshalCredential(parsed.credID, outputs, b64Len(clientDataJSON, attObj, authData, parsed.spki), func(b []byte) []byte {
		b = appendB64Member(append(b, '{'), "clientDataJSON", clientDataJSON)
		b = appendB64Member(append(b, ','), "attestationObject", attObj)
		b = appendB64Member(append(b, ','), "authenticatorData", authData)
		b = append(append(b, `,"transports":`...), transports...)
		if len(parsed.spki) > 0 {
			b = appendB64Member(append(b, ','), "publicKey", parsed.spki)
		}
		b = strconv.AppendInt(append(b, `,"publicKeyAlgorithm":`...), int64(parsed.alg), 10)
		return append(b, '}')
	})
}

type attestedData struct {
	credID []byte
	alg    int
	spki   []byte
	ext    []byte
}

// parseAttestedAuthData reads the credential ID and public key from
// authenticator data with attested credential data.
func parseAttestedAuthData(ad []byte) (attestedData, error) {
	bad := func(what string) (attestedData, error) {
		return attestedData{}, fmt.Errorf("authenticator data %s: %w", what, ErrCard)
	}
	if len(ad) < 37+16+2 || ad[32]&flagAT == 0 {
		return bad("without attested credential data")
	}
	n := int(binary.BigEndian.Uint16(ad[53:55]))
	if len(ad) < 55+n {
		return bad("truncated")
	}
	out := attestedData{credID: ad[55 : 55+n]}
	var ck coseKey
	rest, err := cbor.UnmarshalFirst(ad[55+n:], &ck)
	if err != nil {
		return bad("with a bad public key")
	}
	out.ext = rest
	out.alg = ck.Alg
	switch ck.Alg {
	case coseES256:
		pt := append(append([]byte{4}, ck.X...), ck.Y...)
		if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt); err != nil {
			return bad("with a bad P-256 key")
		}
		out.spki = append(slices.Clip(spkiP256Prefix), pt...)
	case coseEdDSA:
		if len(ck.X) != ed25519.PublicKeySize {
			return bad("with a bad Ed25519 key")
		}
		out.spki = append(slices.Clip(spkiEd25519Prefix), ck.X...)
	}
	return out, nil
}

// The DER SubjectPublicKeyInfo of a P-256 key (RFC 5480: id-ecPublicKey,
// prime256v1, then the 65-byte uncompressed point) and of an Ed25519 key
// (RFC 8410: id-Ed25519, then the 32-byte key) up to the key's bytes,
// which follow as the BIT STRING's contents: the fixed prefix
// x509.MarshalPKIXPublicKey writes for these two key types.
var (
	spkiP256Prefix = []byte{
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
	}
	spkiEd25519Prefix = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}
)
