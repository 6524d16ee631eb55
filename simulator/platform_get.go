package simulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
)

// GetAssertion runs navigator.credentials.get() at origin with opts and
// returns the PublicKeyCredential JSON that go-webauthn's
// protocol.ParseCredentialRequestResponseBytes parses. When several
// discoverable credentials match, it picks the most recent one, as a user
// choosing the first account would.
func (p *Platform) GetAssertion(ctx context.Context, origin string, opts protocol.PublicKeyCredentialRequestOptions, pin string) ([]byte, error) {
	return ceremony(ctx, p, "get assertion", p.get, origin, opts, pin)
}

// GetAssertionJSON is GetAssertion with the options as JSON, either
// {"publicKey": {...}} (go-webauthn's protocol.CredentialAssertion) or the
// bare options.
func (p *Platform) GetAssertionJSON(ctx context.Context, origin string, optionsJSON []byte, pin string) ([]byte, error) {
	return ceremonyJSON(ctx, p, "get assertion", p.get, origin, optionsJSON, pin)
}

// hmacSecretOutput decrypts the hmac-secret output in an assertion's
// authenticator data (n bytes: one or two 32-byte outputs). Like a
// browser, it returns nil (no client output) when the key sent none or an
// undecodable one.
func hmacSecretOutput(authData []byte, proto int, shared []byte, n int) []byte {
	if len(authData) <= 37 || authData[32]&flagED == 0 {
		return nil
	}
	var ext map[string]cbor.RawMessage
	if err := cbor.Unmarshal(authData[37:], &ext); err != nil {
		return nil
	}
	var enc []byte
	if err := cbor.Unmarshal(ext["hmac-secret"], &enc); err != nil {
		return nil
	}
	plain, err := pinDecrypt(proto, shared, enc)
	if err != nil || len(plain) != n {
		return nil
	}
	return plain
}

// prfSalt maps a WebAuthn PRF input to an hmac-secret salt.
func prfSalt(in []byte) []byte {
	h := sha256.New()
	h.Write([]byte("WebAuthn PRF\x00"))
	h.Write(in)
	return h.Sum(nil)
}

func (p *Platform) get(ctx context.Context, origin string, opts protocol.PublicKeyCredentialRequestOptions, pin string) ([]byte, error) {
	cd, err := collect("webauthn.get", origin, opts.RelyingPartyID, opts.Challenge)
	if err != nil {
		return nil, err
	}
	info, err := p.session(ctx)
	if err != nil {
		return nil, err
	}
	useToken, err := uvPlan(info, opts.UserVerification, pin, false)
	if err != nil {
		return nil, err
	}
	req := getAssertionRequest{RPID: &cd.rpID, ClientDataHash: cd.hash[:]}
	req.AllowList = descriptors(opts.AllowedCredentials)
	var tok *pinTok
	if useToken {
		if tok, err = p.ceremonyToken(ctx, info, pin, permGetAssertion, cd.rpID); err != nil {
			return nil, err
		}
		defer clear(tok.token)
		req.Protocol, req.PinUvAuth = &tok.proto, pinAuthenticate(tok.proto, tok.token, cd.hash[:])
	}
	if len(opts.AllowedCredentials) > 0 {
		if req.AllowList, err = p.narrow(ctx, info, cd.rpID, req.AllowList, tok); err != nil {
			return nil, err
		}
		if len(req.AllowList) == 0 {
			return nil, &CTAPError{Code: ctapNoCredentials}
		}
	}
	// hmac-secret (from hmacGetSecret or PRF eval).
	ext := opts.Extensions
	var salts []byte
	var prf bool
	switch {
	case ext.PRF != nil && !ext.PRF.Eval.IsZero():
		prf = true
		salts = prfSalt(ext.PRF.Eval.First)
		if len(ext.PRF.Eval.Second) > 0 {
			salts = append(salts, prfSalt(ext.PRF.Eval.Second)...)
		}
	case !ext.HMACGetSecret.IsZero():
		if len(ext.HMACGetSecret.Salt1) != 32 || (len(ext.HMACGetSecret.Salt2) != 0 && len(ext.HMACGetSecret.Salt2) != 32) {
			return nil, errors.New("hmacGetSecret salts must be 32 bytes")
		}
		salts = append(bytes.Clone(ext.HMACGetSecret.Salt1), ext.HMACGetSecret.Salt2...)
	}
	var hmacShared []byte
	var hmacProto int
	if salts != nil {
		hmacProto = p.protocol(info)
		ka, shared, err := p.agree(ctx, hmacProto)
		if err != nil {
			return nil, err
		}
		saltEnc, err := pinEncrypt(hmacProto, shared, salts, p.rand)
		if err != nil {
			return nil, err
		}
		in := hmacSecretInput{KeyAgreement: &ka, SaltEnc: saltEnc, SaltAuth: pinAuthenticate(hmacProto, shared, saltEnc), Protocol: &hmacProto}
		b, err := ctapEnc.Marshal(in)
		if err != nil {
			return nil, err
		}
		req.Extensions = map[string]cbor.RawMessage{"hmac-secret": b}
		hmacShared = shared
		defer clear(shared)
	}
	var resp getAssertionResponse
	if err := p.ctap(ctx, cmdGetAssertion, req, &resp); err != nil {
		return nil, err
	}
	if len(resp.AuthData) < 37 {
		return nil, fmt.Errorf("authenticator data of %d bytes: %w", len(resp.AuthData), ErrCard)
	}
	var outputs protocol.AuthenticationExtensionsClientOutputs
	if ext.AppID != "" {
		f := false
		outputs.AppID = &f
	}
	if salts != nil {
		if plain := hmacSecretOutput(resp.AuthData, hmacProto, hmacShared, len(salts)); plain != nil {
			first, second := plain[:32], plain[32:]
			if len(second) == 0 {
				second = nil
			}
			if prf {
				outputs.PRF = &protocol.PRFOutputs{Results: &protocol.PRFValues{First: first, Second: second}}
			} else {
				outputs.HMACGetSecret = &protocol.HMACGetSecretOutputs{Output1: first, Output2: second}
			}
		}
	}
	var userHandle []byte
	if resp.User != nil {
		userHandle = resp.User.ID
	}
	return assertionCredentialJSON(resp.Credential.ID, outputs, cd.json, resp.AuthData, resp.Signature, userHandle)
}

// assertionCredentialJSON is an authentication's PublicKeyCredential JSON
// (see [marshalCredential]); an empty userHandle is left out.
func assertionCredentialJSON(credID []byte, outputs protocol.AuthenticationExtensionsClientOutputs, clientDataJSON, authData, sig, userHandle []byte) ([]byte, error) {
	return marshalCredential(credID, outputs, b64Len(clientDataJSON, authData, sig, userHandle), func(b []byte) []byte {
		b = appendB64Member(append(b, '{'), "clientDataJSON", clientDataJSON)
		b = appendB64Member(append(b, ','), "authenticatorData", authData)
		b = appendB64Member(append(b, ','), "signature", sig)
		if len(userHandle) > 0 {
			b = appendB64Member(append(b, ','), "userHandle", userHandle)
		}
		return append(b, '}')
	})
}
