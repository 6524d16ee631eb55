package simulator

import (
	"bytes"
	"errors"
	"testing"
)

// kaState returns the platform's cached key agreement for proto and the
// authenticator's memoized one, read under the key's locks.
func kaState(p *Platform, proto int) (platformKA, kaMemo) {
	p.key.txn.Lock()
	c := p.kaCache[proto-1]
	p.key.txn.Unlock()
	p.key.mu.Lock()
	m := p.key.fido.kaMemo
	p.key.mu.Unlock()
	return c, m
}

func derivations(p *Platform) int {
	p.key.txn.Lock()
	defer p.key.txn.Unlock()
	return p.derivations
}

func TestKeyAgreementReused(t *testing.T) {
	t.Parallel()
	for _, proto := range []int{1, 2} {
		k := newTestKey(t)
		p := NewPlatform(k, WithPINProtocol(proto))
		if err := p.SetPIN(t.Context(), "1234"); err != nil {
			t.Fatalf("protocol %d: SetPIN: %v", proto, err)
		}
		token(t, p, permMakeCredential, "")
		token(t, p, permGetAssertion, "")
		if got := derivations(p); got != 1 {
			t.Errorf("protocol %d: %d key agreements for setPIN and two tokens, want 1", proto, got)
		}
		c, m := kaState(p, proto)
		if c.shared == nil || m.shared == nil {
			t.Fatalf("protocol %d: platform cache %v, authenticator memo %v: want both set", proto, c.shared != nil, m.shared != nil)
		}
		if !bytes.Equal(c.shared, m.shared) {
			t.Errorf("protocol %d: platform and authenticator hold different shared secrets", proto)
		}
		if !bytes.Equal(m.peer[1:33], c.own.X) || !bytes.Equal(m.peer[33:], c.own.Y) {
			t.Errorf("protocol %d: the authenticator's memo is not for the platform's key", proto)
		}
	}
}

func TestKeyAgreementAfterPowerCycle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		off  func(k *Key)
	}{
		{"PowerCycle", func(k *Key) { k.PowerCycle() }},
		{"Remove+Insert", func(k *Key) { k.Remove(); k.Insert() }},
	} {
		k, p := newPINKey(t)
		token(t, p, permGetAssertion, "")
		before, memo := kaState(p, 2)
		oldShared, oldMemo := before.shared, memo.shared
		tc.off(k)
		if !allZero(oldMemo) {
			t.Errorf("%s: the authenticator's memoized secret was not zeroed at power off", tc.name)
		}
		token(t, p, permGetAssertion, "")
		if got := derivations(p); got != 2 {
			t.Errorf("%s: %d key agreements, want 2 (one before, one after the power off)", tc.name, got)
		}
		if !allZero(oldShared) {
			t.Errorf("%s: the platform's replaced secret was not zeroed", tc.name)
		}
		after, _ := kaState(p, 2)
		if bytes.Equal(after.peer, before.peer) || bytes.Equal(after.own.X, before.own.X) {
			t.Errorf("%s: same keys after the power off; want new ones on both sides", tc.name)
		}
	}
}

// TestKeyAgreementStale changes the authenticator's key agreement key
// without a power off the platform could see: the platform must notice
// the new key from getKeyAgreement and derive again.
func TestKeyAgreementStale(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	k, p := newPINKey(t)
	token(t, p, permGetAssertion, "")
	before, _ := kaState(p, 2)

	// Another platform's wrong PIN regenerates the key agreement key.
	other := NewPlatform(k, WithFreshKeyAgreement())
	info, err := other.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.pinToken(ctx, info, "9999", permGetAssertion, ""); !errors.Is(err, ErrPINInvalid) {
		t.Fatalf("wrong PIN: err = %v, want ErrPINInvalid", err)
	}
	token(t, p, permGetAssertion, "")
	after, _ := kaState(p, 2)
	if bytes.Equal(after.peer, before.peer) {
		t.Fatal("the authenticator's key did not change after a wrong PIN")
	}
	if got := derivations(p); got != 2 {
		t.Errorf("%d key agreements after the key changed, want 2", got)
	}

	// The check matters: the old secret under the new key is refused.
	k.mu.Lock()
	k.fido.dropKeyAgreement()
	k.mu.Unlock()
	stale, _ := kaState(p, 2)
	stale.shared = bytes.Clone(stale.shared)
	if _, _, err := p.agree(ctx, 2); err != nil { // the authenticator makes its new key
		t.Fatal(err)
	}
	hashEnc, err := pinEncrypt(2, stale.shared, pinHashOf([]byte("1234")), p.rand)
	if err != nil {
		t.Fatal(err)
	}
	req := clientPINRequest{Protocol: intp(2), SubCommand: intp(pinGetTokenWithPerms), KeyAgreement: &stale.own, PinHashEnc: hashEnc, Permissions: intp(int(permGetAssertion))}
	if err := p.ctap(ctx, cmdClientPIN, req, nil); !errors.Is(err, ErrPINInvalid) {
		t.Errorf("stale shared secret: err = %v, want ErrPINInvalid", err)
	}
	// That wrong PIN changed the key again; the right one still works
	// (and resets the retries).
	token(t, p, permGetAssertion, "")
	if got := derivations(p); got != 4 {
		t.Errorf("%d key agreements after three changes of the key, want 4", got)
	}
}

func TestFreshKeyAgreement(t *testing.T) {
	t.Parallel()
	k, _ := newPINKey(t)
	p := NewPlatform(k, WithFreshKeyAgreement())
	token(t, p, permMakeCredential, "")
	first, _ := kaState(p, 2)
	token(t, p, permGetAssertion, "")
	token(t, p, permGetAssertion, "")
	if got := derivations(p); got != 3 {
		t.Errorf("%d key agreements for three tokens, want 3", got)
	}
	if first.shared != nil {
		t.Error("WithFreshKeyAgreement cached a shared secret")
	}
}

// TestDropKeyAgreement checks the two ways a platform drops its cached
// key agreement: Reset (the authenticator forgets its side too) and
// ForgetKeyAgreement (the next PIN token agrees a new secret).
func TestDropKeyAgreement(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		drop func(t *testing.T, k *Key, p *Platform)
		// reset: the key was reset, so its memo is gone and there is no
		// PIN left to take a token with.
		reset bool
	}{
		{"Reset", func(t *testing.T, k *Key, p *Platform) {
			k.PowerCycle() // reset works only just after power-up
			if err := p.Reset(t.Context()); err != nil {
				t.Fatalf("Reset: %v", err)
			}
		}, true},
		{"ForgetKeyAgreement", func(t *testing.T, _ *Key, p *Platform) { p.ForgetKeyAgreement() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, p := newPINKey(t)
			token(t, p, permGetAssertion, "")
			before, _ := kaState(p, 2)
			old := before.shared
			tc.drop(t, k, p)
			if !allZero(old) {
				t.Errorf("the platform's secret was not zeroed by %s", tc.name)
			}
			c, m := kaState(p, 2)
			if c.shared != nil {
				t.Errorf("%s kept the platform's cached secret", tc.name)
			}
			if tc.reset {
				if m.shared != nil {
					t.Errorf("%s kept the authenticator's memo", tc.name)
				}
				return
			}
			token(t, p, permGetAssertion, "")
			if got := derivations(p); got != 2 {
				t.Errorf("%d key agreements, want 2 (one before, one after %s)", got, tc.name)
			}
		})
	}
}
