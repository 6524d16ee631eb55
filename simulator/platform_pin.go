package simulator

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"golang.org/x/text/unicode/norm"
)

// protocol picks the PIN/UV auth protocol: the configured one if the key
// supports it, else the key's first supported preference; 0 if none.
func (p *Platform) protocol(info *getInfoResponse) int {
	if p.pinProtocol != 0 {
		if slices.Contains(info.PINProtocols, p.pinProtocol) {
			return p.pinProtocol
		}
		return 0
	}
	for _, v := range info.PINProtocols {
		if v == 2 || v == 1 {
			return v
		}
	}
	return 0
}

// agree runs getKeyAgreement and returns the platform's COSE key and the
// shared secret, which the caller owns (and should clear). It reuses the
// cached key agreement when the authenticator's key is the one it was
// derived with (see [Platform]).
func (p *Platform) agree(ctx context.Context, proto int) (coseKey, []byte, error) {
	if proto != 1 && proto != 2 {
		return coseKey{}, nil, fmt.Errorf("no common PIN/UV auth protocol: %w", ErrNotSupported)
	}
	// Read before getKeyAgreement: a power off after it makes the cache
	// entry look older, never newer, than the key it was derived with.
	powerOffs := p.key.powerOffs()
	var resp clientPINResponse
	req := clientPINRequest{Protocol: &proto, SubCommand: intp(pinGetKeyAgreement)}
	if err := p.ctap(ctx, cmdClientPIN, req, &resp); err != nil {
		return coseKey{}, nil, err
	}
	if resp.KeyAgreement == nil {
		return coseKey{}, nil, fmt.Errorf("getKeyAgreement without key: %w", ErrCard)
	}
	peer, err := resp.KeyAgreement.ecdhPublic()
	if err != nil {
		return coseKey{}, nil, fmt.Errorf("authenticator %v: %w", err, ErrCard)
	}
	c := &p.kaCache[proto-1]
	if p.freshKA {
		c.drop()
	} else if c.shared != nil {
		if c.powerOffs == powerOffs && bytes.Equal(c.peer, peer.Bytes()) {
			return c.own, bytes.Clone(c.shared), nil
		}
		c.drop() // the key changed or was powered off: stale
	}
	priv, err := newECDHKey(p.rand)
	if err != nil {
		return coseKey{}, nil, fmt.Errorf("key agreement: %w", err)
	}
	shared, err := ecdhShared(proto, priv, peer)
	if err != nil {
		return coseKey{}, nil, fmt.Errorf("key agreement: %w", err)
	}
	p.derivations++
	own := coseFromECDH(priv.PublicKey())
	if !p.freshKA {
		*c = platformKA{powerOffs: powerOffs, peer: peer.Bytes(), own: own, shared: bytes.Clone(shared)}
	}
	return own, shared, nil
}

// normalizePIN applies what browsers do to a PIN before sending it:
// Unicode NFC, at most 63 bytes.
func normalizePIN(pin string) ([]byte, error) {
	b := []byte(norm.NFC.String(pin))
	if len(b) > fidoMaxPINBytes {
		return nil, fmt.Errorf("PIN longer than %d bytes: %w", fidoMaxPINBytes, ErrPINPolicyViolation)
	}
	return b, nil
}

func padPIN(pin []byte) []byte {
	out := make([]byte, paddedPINLength)
	copy(out, pin)
	return out
}

// pinToken gets a pinUvAuthToken with perms (bound to rpID when not
// empty), using getPinUvAuthTokenUsingPinWithPermissions when the key
// supports it, else the legacy getPinToken.
func (p *Platform) pinToken(ctx context.Context, info *getInfoResponse, pin string, perms byte, rpID string) (int, []byte, error) {
	proto := p.protocol(info)
	if proto == 0 {
		return 0, nil, fmt.Errorf("no common PIN/UV auth protocol: %w", ErrNotSupported)
	}
	pb, err := normalizePIN(pin)
	if err != nil {
		return 0, nil, err
	}
	defer clear(pb)
	ka, shared, err := p.agree(ctx, proto)
	if err != nil {
		return 0, nil, err
	}
	defer clear(shared)
	pinHash := pinHashOf(pb) // enough to brute-force the PIN offline
	defer clear(pinHash)
	pinHashEnc, err := pinEncrypt(proto, shared, pinHash, p.rand)
	if err != nil {
		return 0, nil, fmt.Errorf("encrypt PIN hash: %w", err)
	}
	req := clientPINRequest{Protocol: &proto, KeyAgreement: &ka, PinHashEnc: pinHashEnc}
	if info.Options["pinUvAuthToken"] {
		req.SubCommand = intp(pinGetTokenWithPerms)
		req.Permissions = intp(int(perms))
		if rpID != "" {
			req.RPID = &rpID
		}
	} else {
		req.SubCommand = intp(pinGetPINToken)
	}
	var resp clientPINResponse
	if err := p.ctap(ctx, cmdClientPIN, req, &resp); err != nil {
		return 0, nil, err
	}
	token, err := pinDecrypt(proto, shared, resp.PinUvAuthToken)
	if err != nil {
		return 0, nil, fmt.Errorf("decrypt PIN token: %v: %w", err, ErrCard)
	}
	return proto, token, nil
}

// SetPIN sets the key's first FIDO PIN (clientPIN setPIN).
func (p *Platform) SetPIN(ctx context.Context, pin string) error {
	return p.locked("set PIN", func() error { return p.writePIN(ctx, nil, pin) })
}

// ChangePIN changes the FIDO PIN (clientPIN changePIN), which also clears
// a pending forced PIN change.
func (p *Platform) ChangePIN(ctx context.Context, oldPIN, newPIN string) error {
	return p.locked("change PIN", func() error { return p.writePIN(ctx, &oldPIN, newPIN) })
}

// writePIN runs clientPIN setPIN (oldPIN nil: the key has no PIN yet) or
// changePIN (the key has one, and oldPIN is it).
func (p *Platform) writePIN(ctx context.Context, oldPIN *string, newPIN string) error {
	change := oldPIN != nil
	info, err := p.session(ctx)
	if err != nil {
		return err
	}
	switch pinSet := info.Options["clientPin"]; {
	case change && !pinSet:
		return &CTAPError{Code: ctapPINNotSet}
	case !change && pinSet:
		return &CTAPError{Code: ctapNotAllowed}
	}
	var oldB []byte
	if change {
		if oldB, err = normalizePIN(*oldPIN); err != nil {
			return err
		}
		defer clear(oldB)
	}
	newB, err := normalizePIN(newPIN)
	if err != nil {
		return err
	}
	defer clear(newB)
	proto := p.protocol(info)
	ka, shared, err := p.agree(ctx, proto)
	if err != nil {
		return err
	}
	defer clear(shared)
	padded := padPIN(newB)
	defer clear(padded)
	newPinEnc, err := pinEncrypt(proto, shared, padded, p.rand)
	if err != nil {
		return err
	}
	req := clientPINRequest{Protocol: &proto, SubCommand: intp(pinSetPIN), KeyAgreement: &ka, NewPinEnc: newPinEnc}
	authMsg := newPinEnc
	if change {
		pinHash := pinHashOf(oldB) // enough to brute-force the PIN offline
		defer clear(pinHash)
		if req.PinHashEnc, err = pinEncrypt(proto, shared, pinHash, p.rand); err != nil {
			return err
		}
		req.SubCommand = intp(pinChangePIN)
		authMsg = append(append([]byte(nil), newPinEnc...), req.PinHashEnc...)
	}
	req.PinUvAuth = pinAuthenticate(proto, shared, authMsg)
	return p.ctap(ctx, cmdClientPIN, req, nil)
}

// ForcePINChange makes the key refuse PIN tokens until the PIN is changed
// (authenticatorConfig setMinPINLength with forceChangePin), as Yubico's
// pre-registration does. pin is the current PIN.
func (p *Platform) ForcePINChange(ctx context.Context, pin string) error {
	return p.locked("force PIN change", func() error { return p.setMinPINLength(ctx, pin, 0, true) })
}

// SetMinPINLength raises the minimum PIN length (code points); the key
// forces a PIN change when the current PIN is shorter.
func (p *Platform) SetMinPINLength(ctx context.Context, pin string, minLength int) error {
	return p.locked("set minimum PIN length", func() error {
		if minLength < 1 {
			return fmt.Errorf("%d is not positive", minLength)
		}
		return p.setMinPINLength(ctx, pin, minLength, false)
	})
}

func (p *Platform) setMinPINLength(ctx context.Context, pin string, minLength int, force bool) error {
	info, err := p.session(ctx)
	if err != nil {
		return err
	}
	if !info.Options["setMinPINLength"] || !info.Options["authnrCfg"] {
		return fmt.Errorf("key lacks setMinPINLength: %w", ErrNotSupported)
	}
	params := setMinPINLengthParams{}
	if minLength > 0 {
		params.NewMinPINLength = &minLength
	}
	if force {
		params.ForceChangePIN = &force
	}
	pb, err := ctapEnc.Marshal(params)
	if err != nil {
		return err
	}
	return p.config(ctx, info, pin, cfgSetMinPINLength, pb)
}

// ToggleAlwaysUV switches the key's alwaysUv setting (authenticatorConfig
// toggleAlwaysUv): when on, every registration and assertion needs the
// PIN and U2F is off. pin is the current PIN ("" when none is set).
// FIPS 140-3 keys refuse with [ErrOperationDenied].
func (p *Platform) ToggleAlwaysUV(ctx context.Context, pin string) error {
	return p.locked("toggle alwaysUv", func() error { return p.toggleAlwaysUV(ctx, pin) })
}

func (p *Platform) toggleAlwaysUV(ctx context.Context, pin string) error {
	info, err := p.session(ctx)
	if err != nil {
		return err
	}
	if !info.Options["authnrCfg"] {
		return fmt.Errorf("key lacks authenticatorConfig: %w", ErrNotSupported)
	}
	return p.config(ctx, info, pin, cfgToggleAlwaysUV, nil)
}

// config sends authenticatorConfig subcommand sub with params, authorized
// by a PIN token (permission acfg) when the key has a PIN.
func (p *Platform) config(ctx context.Context, info *getInfoResponse, pin string, sub byte, params []byte) error {
	req := configRequest{SubCommand: intp(int(sub)), Params: params}
	if info.Options["clientPin"] {
		proto, token, err := p.pinToken(ctx, info, pin, permAuthnrConfig, "")
		if err != nil {
			return err
		}
		defer clear(token)
		req.Protocol, req.PinUvAuth = &proto, pinAuthenticate(proto, token, configAuthMessage(sub, params))
	}
	return p.ctap(ctx, cmdConfig, req, nil)
}

// PINRetries returns the FIDO PIN retries left and whether the key must be
// power cycled before the next PIN attempt.
func (p *Platform) PINRetries(ctx context.Context) (retries int, powerCycleRequired bool, err error) {
	unlock := p.lock()
	defer unlock()
	if _, err := p.session(ctx); err != nil {
		return 0, false, fmt.Errorf("simulator: PIN retries: %w", err)
	}
	var resp clientPINResponse
	if err := p.ctap(ctx, cmdClientPIN, clientPINRequest{SubCommand: intp(pinGetRetries)}, &resp); err != nil {
		return 0, false, fmt.Errorf("simulator: PIN retries: %w", err)
	}
	if resp.Retries == nil {
		return 0, false, fmt.Errorf("simulator: PIN retries: response without retries: %w", ErrCard)
	}
	return *resp.Retries, resp.PowerCycleState != nil && *resp.PowerCycleState, nil
}

// Reset runs authenticatorReset: it wipes the PIN and every credential.
// Like a real key it needs a touch and works only within seconds of
// power-up (call [Key.PowerCycle] first).
func (p *Platform) Reset(ctx context.Context) error {
	return p.locked("reset", func() error {
		if _, err := p.session(ctx); err != nil {
			return err
		}
		p.dropKeyAgreements()
		return p.ctap(ctx, cmdReset, nil, nil)
	})
}
