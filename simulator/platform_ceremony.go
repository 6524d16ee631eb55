package simulator

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"golang.org/x/net/publicsuffix"
)

// checkOrigin validates a web origin and the RP ID against it as browsers
// do: https (or http on localhost), a host that is a domain name (the
// WebAuthn spec's "valid domain": not an IP address, w3c/webauthn#474),
// and the RP ID equal to the host or a parent domain of it that is not a
// public suffix ("com", "co.uk", "github.io": the spec's "registrable
// domain suffix", judged by the Public Suffix List as browsers do;
// "localhost" is allowed for its subdomains, as Chromium allows it). It
// returns the serialized origin and the RP ID.
func checkOrigin(origin, rpID string) (string, string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("origin %q is not a web origin: %w", origin, ErrSecurity)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost")):
	default:
		return "", "", fmt.Errorf("origin %q is not secure (WebAuthn needs https, or http on localhost): %w", origin, ErrSecurity)
	}
	if rpID == "" {
		rpID = host
	}
	rpID = strings.ToLower(rpID)
	if net.ParseIP(host) != nil {
		return "", "", fmt.Errorf("origin %q is an IP address, not a domain name (WebAuthn needs one: a name in /etc/hosts, or localhost): %w", origin, ErrSecurity)
	}
	if rpID != host {
		if !strings.HasSuffix(host, "."+rpID) {
			return "", "", fmt.Errorf("RP ID %q is not a registrable suffix of origin %q: %w", rpID, origin, ErrSecurity)
		}
		if ps, _ := publicsuffix.PublicSuffix(rpID); ps == rpID && rpID != "localhost" {
			return "", "", fmt.Errorf("RP ID %q is a public suffix, which no origin may claim (origin %q): %w", rpID, origin, ErrSecurity)
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), rpID, nil
}

type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

func clientDataJSON(typ string, challenge []byte, origin string) ([]byte, error) {
	return json.Marshal(clientData{Type: typ, Challenge: b64(challenge), Origin: origin})
}

// collected is what a browser collects before it talks to the key.
type collected struct {
	rpID string   // the RP ID, checked against the origin
	json []byte   // clientDataJSON
	hash [32]byte // its SHA-256, the clientDataHash sent to the key
}

// collect checks origin and RP ID (see [checkOrigin]) and the challenge,
// and builds the client data of type typ ("webauthn.create" or
// "webauthn.get").
func collect(typ, origin, rpID string, challenge []byte) (*collected, error) {
	origin, rpID, err := checkOrigin(origin, rpID)
	if err != nil {
		return nil, err
	}
	if len(challenge) == 0 {
		return nil, errors.New("challenge is empty")
	}
	cdj, err := clientDataJSON(typ, challenge, origin)
	if err != nil {
		return nil, err
	}
	return &collected{rpID: rpID, json: cdj, hash: sha256.Sum256(cdj)}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// uvPlan decides whether the platform gets a PIN token: required UV needs
// the PIN; preferred uses it when given; discoverable credentials on a
// key with a PIN need it (CTAP 2.1 makeCredUvNotRqd covers only
// non-discoverable ones).
func uvPlan(info *getInfoResponse, uv protocol.UserVerificationRequirement, pin string, needForRK bool) (bool, error) {
	pinSet := info.Options["clientPin"]
	switch {
	case uv == protocol.VerificationRequired || info.Options["alwaysUv"]:
		if !pinSet {
			return false, fmt.Errorf("user verification required and the key has no PIN: %w (%w)", ErrConstraint, &CTAPError{Code: ctapPINNotSet})
		}
		if pin == "" {
			return false, fmt.Errorf("user verification required and no PIN given: %w (%w)", ErrConstraint, &CTAPError{Code: ctapPUATRequired})
		}
		return true, nil
	case uv == protocol.VerificationDiscouraged:
	default:
		if pinSet && pin != "" {
			return true, nil
		}
	}
	if needForRK && pinSet {
		if pin == "" {
			return false, fmt.Errorf("a discoverable credential on a key with a PIN needs the PIN, and none was given: %w (%w)", ErrConstraint, &CTAPError{Code: ctapPUATRequired})
		}
		return true, nil
	}
	return false, nil
}

// The PublicKeyCredential JSON the platform returns is appended by hand:
// every member but clientExtensionResults is base64url, a fixed string or
// an integer, which JSON needs no escaping for. The bytes are what
// encoding/json gives for the structs in wire_test.go, member for member
// (that test compares them).

// marshalCredential returns a PublicKeyCredential's JSON: id and rawId
// (credID), type, authenticatorAttachment, clientExtensionResults (outputs)
// and the response object appendResponse appends. size is about the length
// of the response's base64 members.
func marshalCredential(credID []byte, outputs protocol.AuthenticationExtensionsClientOutputs, size int, appendResponse func([]byte) []byte) ([]byte, error) {
	ext := []byte("{}")
	if !reflect.ValueOf(&outputs).Elem().IsZero() {
		var err error
		if ext, err = json.Marshal(outputs); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, 256+len(ext)+2*base64.RawURLEncoding.EncodedLen(len(credID))+size)
	b = appendB64Member(append(b, '{'), "id", credID)
	b = appendB64Member(append(b, ','), "rawId", credID)
	b = append(b, `,"type":"public-key","authenticatorAttachment":"cross-platform","clientExtensionResults":`...)
	b = append(b, ext...)
	b = appendResponse(append(b, `,"response":`...))
	return append(b, '}'), nil
}

// appendB64Member appends "name":"<v in unpadded base64url>".
func appendB64Member(b []byte, name string, v []byte) []byte {
	b = append(append(append(b, '"'), name...), `":"`...)
	return append(base64.RawURLEncoding.AppendEncode(b, v), '"')
}

// b64Len is the length of v in unpadded base64url.
func b64Len(vs ...[]byte) int {
	n := 0
	for _, v := range vs {
		n += base64.RawURLEncoding.EncodedLen(len(v))
	}
	return n
}

// decodeOptions decodes WebAuthn options given either as {"publicKey":
// {...}} (go-webauthn's protocol.CredentialCreation and
// protocol.CredentialAssertion) or bare.
func decodeOptions[T any](optionsJSON []byte) (T, error) {
	var wrapped struct {
		PublicKey *T `json:"publicKey"`
	}
	var opts T
	if err := json.Unmarshal(optionsJSON, &wrapped); err != nil {
		return opts, err
	}
	if wrapped.PublicKey != nil {
		return *wrapped.PublicKey, nil
	}
	err := json.Unmarshal(optionsJSON, &opts)
	return opts, err
}

// pinTok is a PIN/UV auth token and its protocol.
type pinTok struct {
	proto int
	token []byte
}

// ceremonyToken gets a PIN/UV auth token with perms for rpID (see
// [Platform.pinToken]); the caller clears its token when done.
func (p *Platform) ceremonyToken(ctx context.Context, info *getInfoResponse, pin string, perms byte, rpID string) (*pinTok, error) {
	proto, token, err := p.pinToken(ctx, info, pin, perms, rpID)
	if err != nil {
		return nil, err
	}
	return &pinTok{proto, token}, nil
}

// descriptors keeps the public-key credentials of an allow or exclude
// list, in CTAP form.
func descriptors(ds []protocol.CredentialDescriptor) []credDescriptor {
	var out []credDescriptor
	for _, d := range ds {
		if d.Type == protocol.PublicKeyCredentialType {
			out = append(out, credDescriptor{Type: "public-key", ID: d.CredentialID})
		}
	}
	return out
}

// ceremony runs run (create or get) at origin with opts under the
// platform's lock; its error names the ceremony what.
func ceremony[O any](ctx context.Context, p *Platform, what string, run func(context.Context, string, O, string) ([]byte, error), origin string, opts O, pin string) ([]byte, error) {
	var out []byte
	err := p.locked(what, func() (err error) {
		out, err = run(ctx, origin, opts, pin)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ceremonyJSON is ceremony with the options as JSON (see decodeOptions).
func ceremonyJSON[O any](ctx context.Context, p *Platform, what string, run func(context.Context, string, O, string) ([]byte, error), origin string, optionsJSON []byte, pin string) ([]byte, error) {
	opts, err := decodeOptions[O](optionsJSON)
	if err != nil {
		return nil, fmt.Errorf("simulator: %s: options JSON: %w", what, err)
	}
	return ceremony(ctx, p, what, run, origin, opts, pin)
}

// narrow reduces a credential list longer than the key's
// maxCredentialCountInList to the one credential the key knows, probing
// batches with silent (up=false) getAssertion as browsers do. It returns
// nil when no batch matches.
func (p *Platform) narrow(ctx context.Context, info *getInfoResponse, rpID string, list []credDescriptor, tok *pinTok) ([]credDescriptor, error) {
	limit := info.MaxCredsInList
	if limit <= 0 || len(list) <= limit {
		return list, nil
	}
	probeHash := make([]byte, 32)
	for start := 0; start < len(list); start += limit {
		batch := list[start:min(start+limit, len(list))]
		req := getAssertionRequest{RPID: &rpID, ClientDataHash: probeHash, AllowList: batch, Options: map[string]bool{"up": false}}
		if tok != nil {
			req.Protocol, req.PinUvAuth = &tok.proto, pinAuthenticate(tok.proto, tok.token, probeHash)
		}
		var resp struct {
			Credential credDescriptor `cbor:"1,keyasint"`
		}
		err := p.ctap(ctx, cmdGetAssertion, req, &resp)
		switch {
		case err == nil:
			return []credDescriptor{resp.Credential}, nil
		case errors.Is(err, ErrNoCredentials):
		default:
			return nil, err
		}
	}
	return nil, nil
}
