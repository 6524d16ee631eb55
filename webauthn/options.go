package webauthn

import (
	"bytes"
	"encoding/base64"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// credProtectPolicies maps the CTAP credProtect level to go-webauthn's
// policy names (CTAP 2.1 §12.1).
var credProtectPolicies = map[int]protocol.CredentialProtectionPolicy{
	1: protocol.CredentialProtectionPolicyUserVerificationOptional,
	2: protocol.CredentialProtectionPolicyUserVerificationOptionalWithCredentialIDList,
	3: protocol.CredentialProtectionPolicyUserVerificationRequired,
}

// CreationOptions returns the WebAuthn creation options
// (PublicKeyCredentialCreationOptions, WebAuthn L3 §5.4) the factory's
// platform passes to the authenticator for r: RP and user entities, the
// challenge, the algorithms, a cross-platform authenticator with the
// requested resident-key and user-verification requirements, "direct"
// attestation, and the credProtect (enforced) and hmac-secret extensions
// when requested. r is not validated; open requests with
// [OpenCredentialRequest], which does.
func (r CredentialRequest) CreationOptions() protocol.PublicKeyCredentialCreationOptions {
	params := make([]protocol.CredentialParameter, 0, len(r.Algorithms))
	for _, a := range r.Algorithms {
		params = append(params, protocol.CredentialParameter{
			Type:      protocol.PublicKeyCredentialType,
			Algorithm: webauthncose.COSEAlgorithmIdentifier(a),
		})
	}
	rk := r.ResidentKey
	residentKey := protocol.ResidentKeyRequirementDiscouraged
	if rk {
		residentKey = protocol.ResidentKeyRequirementRequired
	}
	opts := protocol.PublicKeyCredentialCreationOptions{
		RelyingParty: protocol.RelyingPartyEntity{
			CredentialEntity: protocol.CredentialEntity{Name: r.RPName},
			ID:               r.RPID,
		},
		User: protocol.UserEntity{
			CredentialEntity: protocol.CredentialEntity{Name: r.UserName},
			DisplayName:      r.UserDisplayName,
			ID:               protocol.URLEncodedBase64(bytes.Clone(r.UserHandle)),
		},
		Challenge:  protocol.URLEncodedBase64(bytes.Clone(r.Challenge)),
		Parameters: params,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			AuthenticatorAttachment: protocol.CrossPlatform,
			RequireResidentKey:      &rk,
			ResidentKey:             residentKey,
			UserVerification:        protocol.UserVerificationRequirement(r.UserVerification),
		},
		Attestation: protocol.PreferDirectAttestation,
	}
	if p, ok := credProtectPolicies[r.CredProtect]; ok {
		opts.Extensions.CredentialProtectionPolicy = p
		opts.Extensions.EnforceCredentialProtectionPolicy = true
	}
	opts.Extensions.HMACCreateSecret = r.HMACSecret
	return opts
}

// NewCredentialResponse builds a [CredentialResponse] from a browser-shaped
// PublicKeyCredential JSON of a registration (WebAuthn L3 §5.1, the shape
// navigator.credentials.create returns when serialized with toJSON):
// {"id","rawId","type":"public-key","response":{"clientDataJSON",
// "attestationObject","transports"}}. The JSON is parsed and its attestation
// object decoded by go-webauthn; nothing is verified. Errors wrap
// [ErrMalformed], with the *protocol.Error in the chain.
func NewCredentialResponse(userID, enrollmentID string, credentialJSON []byte) (CredentialResponse, error) {
	const scope = "new credential response"
	parsed, err := parseBrowserJSON(scope, "credential JSON", credentialJSON, protocol.ParseCredentialCreationResponseBytes)
	if err != nil {
		return CredentialResponse{}, err
	}
	resp := CredentialResponse{
		Version:           MessageVersion,
		UserID:            userID,
		EnrollmentID:      enrollmentID,
		CredentialID:      bytes.Clone(parsed.RawID),
		AttestationObject: bytes.Clone(parsed.Raw.AttestationResponse.AttestationObject),
		ClientDataJSON:    bytes.Clone(parsed.Raw.AttestationResponse.ClientDataJSON),
		Transports:        append([]string(nil), parsed.Raw.AttestationResponse.Transports...),
	}
	if err := resp.validate(scope); err != nil {
		return CredentialResponse{}, err
	}
	return resp, nil
}

// creationResponse rebuilds the browser-shaped response go-webauthn parses
// from the fields carried in a CredentialResponse.
func (r CredentialResponse) creationResponse() protocol.CredentialCreationResponse {
	id := base64.RawURLEncoding.EncodeToString(r.CredentialID)
	var ccr protocol.CredentialCreationResponse
	ccr.ID = id
	ccr.Type = string(protocol.PublicKeyCredentialType)
	ccr.RawID = protocol.URLEncodedBase64(r.CredentialID)
	ccr.AuthenticatorAttachment = string(protocol.CrossPlatform)
	ccr.AttestationResponse.ClientDataJSON = protocol.URLEncodedBase64(r.ClientDataJSON)
	ccr.AttestationResponse.AttestationObject = protocol.URLEncodedBase64(r.AttestationObject)
	ccr.AttestationResponse.Transports = r.Transports
	return ccr
}
