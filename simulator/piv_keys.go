package simulator

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// pivKey is an asymmetric key in a slot.
type pivKey struct {
	alg         byte
	pinPolicy   byte // resolved: never, once or always
	touchPolicy byte // resolved: never, always or cached
	origin      byte
	// priv is *ecdsa.PrivateKey, ed25519.PrivateKey, *ecdh.PrivateKey
	// (X25519) or *rsa.PrivateKey.
	priv crypto.PrivateKey
}

// pivKeySlot reports whether slot holds a user key: 9A, 9C, 9D, 9E and the
// retired key management slots 82–95.
func pivKeySlot(slot byte) bool {
	switch slot {
	case 0x9A, 0x9C, 0x9D, 0x9E:
		return true
	}
	return pivRetiredSlot(slot)
}

func pivRetiredSlot(slot byte) bool { return slot >= 0x82 && slot <= 0x95 }

// pivDefaultPINPolicy is Yubico's per-slot default: 9C always, 9E never,
// F9 never, the others once.
func pivDefaultPINPolicy(slot byte) byte {
	switch slot {
	case 0x9C:
		return pivPINPolicyAlways
	case 0x9E, pivSlotAttestation:
		return pivPINPolicyNever
	}
	return pivPINPolicyOnce
}

// pivPolicies validates and resolves the optional AA (PIN policy) and AB
// (touch policy) TLVs of GENERATE and IMPORT. The Bio-only match policies
// are refused.
func pivPolicies(slot byte, tlvs map[uint32][]byte) (pin, touch byte, ok bool) {
	pin, touch = pivPINPolicyDefault, pivTouchDefault
	if v, present := tlvs[0xAA]; present {
		if len(v) != 1 || v[0] > pivPINPolicyAlways {
			return 0, 0, false
		}
		pin = v[0]
	}
	if v, present := tlvs[0xAB]; present {
		if len(v) != 1 || v[0] > pivTouchCached {
			return 0, 0, false
		}
		touch = v[0]
	}
	if pin == pivPINPolicyDefault {
		pin = pivDefaultPINPolicy(slot)
	}
	if touch == pivTouchDefault {
		touch = pivTouchNever
	}
	return pin, touch, true
}

// pivAlgSupported reports whether the firmware can hold keys of alg: P-256,
// RSA 1024/2048 everywhere, P-384 from 4.0, RSA 3072/4096, Ed25519 and
// X25519 from 5.7.
func (a *pivApplet) pivAlgSupported(alg byte) bool {
	switch alg {
	case pivAlgP256, pivAlgRSA1024, pivAlgRSA2048:
		return true
	case pivAlgP384:
		return a.fwAtLeast(4, 0, 0)
	case pivAlgRSA3072, pivAlgRSA4096, pivAlgEd25519, pivAlgX25519:
		return a.fwAtLeast(5, 7, 0)
	}
	return false
}

func pivRSABits(alg byte) int {
	switch alg {
	case pivAlgRSA1024:
		return 1024
	case pivAlgRSA2048:
		return 2048
	case pivAlgRSA3072:
		return 3072
	case pivAlgRSA4096:
		return 4096
	}
	return 0
}

func pivCurve(alg byte) elliptic.Curve {
	switch alg {
	case pivAlgP256:
		return elliptic.P256()
	case pivAlgP384:
		return elliptic.P384()
	}
	return nil
}

// generatePIVKey makes a key of alg from r. Since Go 1.26 the standard
// library's GenerateKey functions ignore their reader, so keys are derived
// here from r directly: the simulator's randomness stays injectable and a
// seeded reader gives the same keys every run.
func generatePIVKey(r io.Reader, alg byte) (crypto.PrivateKey, error) {
	if c := pivCurve(alg); c != nil {
		k, err := newECDSAKey(c, r)
		if err != nil {
			return nil, fmt.Errorf("simulator: piv: %w", err)
		}
		return k, nil
	}
	if bits := pivRSABits(alg); bits != 0 {
		return pivGenerateRSA(r, bits)
	}
	var seed [32]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return nil, fmt.Errorf("simulator: piv: read randomness: %w", err)
	}
	switch alg {
	case pivAlgEd25519:
		return ed25519.NewKeyFromSeed(seed[:]), nil
	case pivAlgX25519:
		return ecdh.X25519().NewPrivateKey(seed[:])
	}
	return nil, fmt.Errorf("simulator: piv: unsupported algorithm 0x%02X", alg)
}

// pivRSAExponent is the only public exponent a YubiKey generates or
// imports.
const pivRSAExponent = 65537

// pivGenerateRSA makes an RSA key with two primes of bits/2 bits each.
func pivGenerateRSA(r io.Reader, bits int) (*rsa.PrivateKey, error) {
	e := big.NewInt(pivRSAExponent)
	for range 16 {
		p, err := pivPrime(r, bits/2, e)
		if err != nil {
			return nil, err
		}
		q, err := pivPrime(r, bits/2, e)
		if err != nil {
			return nil, err
		}
		if k, err := pivRSAFromPrimes(p, q); err == nil && k.N.BitLen() == bits {
			return k, nil
		}
	}
	return nil, errors.New("simulator: piv: randomness source yields no RSA key")
}

// pivPrime returns a prime of exactly bits bits with p-1 coprime to e: a
// random odd start with the top two bits set, searched upwards.
func pivPrime(r io.Reader, bits int, e *big.Int) (*big.Int, error) {
	b := make([]byte, (bits+7)/8)
	one, two := big.NewInt(1), big.NewInt(2)
	pm1, g := new(big.Int), new(big.Int)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("simulator: piv: read randomness: %w", err)
		}
		b[0] |= 0xC0
		b[len(b)-1] |= 1
		p := new(big.Int).SetBytes(b)
		for range 20 * bits {
			if p.BitLen() != bits {
				break
			}
			if p.ProbablyPrime(20) && g.GCD(nil, nil, pm1.Sub(p, one), e).Cmp(one) == 0 {
				return p, nil
			}
			p.Add(p, two)
		}
	}
}

// pivRSAFromPrimes builds and validates the key with primes p and q and
// exponent 65537.
func pivRSAFromPrimes(p, q *big.Int) (*rsa.PrivateKey, error) {
	one := big.NewInt(1)
	if p.Cmp(q) == 0 || p.Cmp(one) <= 0 || q.Cmp(one) <= 0 {
		return nil, errors.New("simulator: piv: invalid RSA primes")
	}
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(big.NewInt(pivRSAExponent), phi)
	if d == nil {
		return nil, errors.New("simulator: piv: RSA exponent not invertible")
	}
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: pivRSAExponent},
		D:         d,
		Primes:    []*big.Int{new(big.Int).Set(p), new(big.Int).Set(q)},
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("simulator: piv: invalid RSA key: %w", err)
	}
	k.Precompute()
	return k, nil
}

// publicTLVs encodes the public key as the content of the 7F49 template
// (SP 800-73-4 Part 2 Table 11 and Yubico's 86 for the 25519 keys): RSA
// 81 modulus 82 exponent, the others 86 point.
func (k *pivKey) publicTLVs() ([]byte, error) {
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		pub, err := priv.PublicKey.Bytes()
		if err != nil {
			return nil, err
		}
		return pivTLV(0x86, pub), nil
	case ed25519.PrivateKey:
		return pivTLV(0x86, priv.Public().(ed25519.PublicKey)), nil
	case *ecdh.PrivateKey:
		return pivTLV(0x86, priv.PublicKey().Bytes()), nil
	case *rsa.PrivateKey:
		return pivConcat(
			pivTLV(0x81, priv.N.Bytes()),
			pivTLV(0x82, big.NewInt(int64(priv.E)).Bytes()),
		), nil
	}
	return nil, fmt.Errorf("simulator: piv: unexpected key type %T", k.priv)
}

// public returns the crypto.PublicKey of k.
func (k *pivKey) public() crypto.PublicKey {
	switch priv := k.priv.(type) {
	case *ecdh.PrivateKey:
		return priv.PublicKey()
	case crypto.Signer:
		return priv.Public()
	}
	return nil
}

// generate is GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2 §3.3.2):
// P2 slot, data AC { 80 alg [AA pin policy] [AB touch policy] }. It needs
// the management key and answers 7F49 { public key }.
func (a *pivApplet) generate(cmd command) response {
	if cmd.p1 != 0x00 {
		return pivSW(swIncorrectP1P2)
	}
	slot := cmd.p2
	if !pivKeySlot(slot) && slot != pivSlotAttestation {
		return pivSW(swIncorrectP1P2)
	}
	if !a.mgmtAuthed {
		return pivSW(swSecurityStatus)
	}
	tlvs, err := pivReadTemplate(cmd.data, 0xAC)
	if err != nil {
		return pivSW(swIncorrectData)
	}
	algTLV, ok := tlvs[0x80]
	if !ok || len(algTLV) != 1 || !a.pivAlgSupported(algTLV[0]) {
		return pivSW(swIncorrectData)
	}
	alg := algTLV[0]
	if slot == pivSlotAttestation && alg == pivAlgX25519 {
		return pivSW(swIncorrectData) // the attestation key must sign
	}
	pinPolicy, touchPolicy, ok := pivPolicies(slot, tlvs)
	if !ok {
		return pivSW(swIncorrectData)
	}
	priv, err := generatePIVKey(a.env.rand, alg)
	if err != nil {
		return pivSW(swUnknownError)
	}
	k := &pivKey{alg: alg, pinPolicy: pinPolicy, touchPolicy: touchPolicy, origin: pivOriginGenerated, priv: priv}
	pub, err := k.publicTLVs()
	if err != nil {
		return pivSW(swUnknownError)
	}
	a.keys[slot] = k
	if slot == pivSlotAttestation {
		a.attestationReady = true
	}
	return response{data: pivTLV(0x7F49, pub), sw: swOK}
}

// importKey is Yubico's IMPORT ASYMMETRIC KEY (INS FE, P1 algorithm, P2
// slot): RSA 01 p 02 q 03 dP 04 dQ 05 qInv, EC 06 d, Ed25519 07 seed,
// X25519 08 scalar, then optional AA and AB policies.
func (a *pivApplet) importKey(cmd command) response {
	slot, alg := cmd.p2, cmd.p1
	if !pivKeySlot(slot) && slot != pivSlotAttestation {
		return pivSW(swIncorrectP1P2)
	}
	if !a.mgmtAuthed {
		return pivSW(swSecurityStatus)
	}
	if !a.pivAlgSupported(alg) || (slot == pivSlotAttestation && alg == pivAlgX25519) {
		return pivSW(swIncorrectP1P2)
	}
	tlvs, err := pivParseTLVs(cmd.data)
	if err != nil {
		return pivSW(swIncorrectData)
	}
	pinPolicy, touchPolicy, ok := pivPolicies(slot, tlvs)
	if !ok {
		return pivSW(swIncorrectData)
	}
	priv, err := pivParseImport(alg, tlvs)
	if err != nil {
		return pivSW(swIncorrectData)
	}
	a.keys[slot] = &pivKey{alg: alg, pinPolicy: pinPolicy, touchPolicy: touchPolicy, origin: pivOriginImported, priv: priv}
	if slot == pivSlotAttestation {
		a.attestationReady = true
	}
	return pivSW(swOK)
}

// moveKey is Yubico's MOVE KEY (INS F6, firmware 5.7): P1 destination
// slot, P2 source slot, after management-key authentication. The source
// must not be F9 and the destination must be empty (Yubico SDK
// MoveKeyCommand); P1 FF deletes the key in P2, F9 included. Certificates
// are data objects and stay where they are.
func (a *pivApplet) moveKey(cmd command) response {
	if !a.fwAtLeast(5, 7, 0) {
		return pivSW(swInsNotSupported)
	}
	dst, src := cmd.p1, cmd.p2
	if !pivKeySlot(src) && src != pivSlotAttestation {
		return pivSW(swIncorrectP1P2)
	}
	if dst != 0xFF && (!pivKeySlot(dst) || src == pivSlotAttestation) {
		return pivSW(swIncorrectP1P2)
	}
	if !a.mgmtAuthed {
		return pivSW(swSecurityStatus)
	}
	k, ok := a.keys[src]
	if !ok {
		return pivSW(swRefNotFound)
	}
	if dst != 0xFF {
		if _, taken := a.keys[dst]; taken {
			return pivSW(swIncorrectData)
		}
		a.keys[dst] = k
	}
	delete(a.keys, src)
	return pivSW(swOK)
}

// pivParseImport builds the private key of an IMPORT command. Values may be
// left-padded with zeros; an RSA key must be consistent in all five parts.
func pivParseImport(alg byte, tlvs map[uint32][]byte) (crypto.PrivateKey, error) {
	if c := pivCurve(alg); c != nil {
		d, ok := tlvs[0x06]
		size := (c.Params().BitSize + 7) / 8
		if !ok || len(d) > size {
			return nil, errPIVTLV
		}
		return ecdsa.ParseRawPrivateKey(c, pivLeftPad(d, size))
	}
	if bits := pivRSABits(alg); bits != 0 {
		var parts [5]*big.Int
		for i := range parts {
			v, ok := tlvs[uint32(0x01+i)]
			if !ok || len(v) == 0 || len(v) > bits/16 {
				return nil, errPIVTLV
			}
			parts[i] = new(big.Int).SetBytes(v)
		}
		k, err := pivRSAFromPrimes(parts[0], parts[1])
		if err != nil {
			return nil, err
		}
		pc := k.Precomputed
		if k.N.BitLen() != bits || pc.Dp.Cmp(parts[2]) != 0 || pc.Dq.Cmp(parts[3]) != 0 || pc.Qinv.Cmp(parts[4]) != 0 {
			return nil, errPIVTLV
		}
		return k, nil
	}
	switch alg {
	case pivAlgEd25519:
		seed, ok := tlvs[0x07]
		if !ok || len(seed) != ed25519.SeedSize {
			return nil, errPIVTLV
		}
		return ed25519.NewKeyFromSeed(seed), nil
	case pivAlgX25519:
		s, ok := tlvs[0x08]
		if !ok || len(s) != 32 {
			return nil, errPIVTLV
		}
		return ecdh.X25519().NewPrivateKey(s)
	}
	return nil, errPIVTLV
}

func pivLeftPad(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

// pivEqual compares in constant time.
func pivEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// setMgmtKey is Yubico's SET MANAGEMENT KEY (INS FF, P1 FF, P2 FF or FE to
// require touch): data alg 9B len key. It needs the current management
// key. AES needs firmware 5.4; 3DES stays accepted on 5.7.
func (a *pivApplet) setMgmtKey(cmd command) response {
	if cmd.p1 != 0xFF || (cmd.p2 != 0xFF && cmd.p2 != 0xFE) {
		return pivSW(swIncorrectP1P2)
	}
	if !a.mgmtAuthed {
		return pivSW(swSecurityStatus)
	}
	d := cmd.data
	if len(d) < 3 || d[1] != pivSlotMgmt || int(d[2]) != len(d)-3 {
		return pivSW(swIncorrectData)
	}
	alg, key := d[0], d[3:]
	want := pivMgmtKeyLen(alg)
	if want == 0 || (alg != pivAlg3DES && !a.fwAtLeast(5, 4, 0)) {
		return pivSW(swIncorrectData)
	}
	if len(key) != want {
		return pivSW(swIncorrectData)
	}
	clear(a.mgmt.key)
	a.mgmt = pivMgmtKey{alg: alg, key: append([]byte(nil), key...), touch: cmd.p2 == 0xFE}
	return pivSW(swOK)
}

// mgmtIsDefault reports whether the management key is the factory one:
// the well-known bytes with the firmware's default algorithm. The same
// bytes under another algorithm (SET MANAGEMENT KEY to AES-192 on a 3DES
// key, or to 3DES on 5.7) are a key a tool that assumes the default
// cannot use, so GET METADATA no longer calls it default.
func (a *pivApplet) mgmtIsDefault() bool {
	return a.mgmt.alg == a.defaultMgmtAlg() && pivEqual(a.mgmt.key, pivDefaultMgmtKey)
}

func pivMgmtKeyLen(alg byte) int {
	switch alg {
	case pivAlg3DES, pivAlgAES192:
		return 24
	case pivAlgAES128:
		return 16
	case pivAlgAES256:
		return 32
	}
	return 0
}

func (m *pivMgmtKey) block() (cipher.Block, error) {
	if m.alg == pivAlg3DES {
		return des.NewTripleDESCipher(m.key)
	}
	return aes.NewCipher(m.key)
}

// authenticate is GENERAL AUTHENTICATE (SP 800-73-4 Part 2 §3.2.4): P1
// algorithm, P2 key reference, data 7C { dynamic authentication template }.
// On 9B it authenticates the host with the management key; on a key slot
// it signs, decrypts or agrees a key. fresh says whether the PIN was
// verified by the command just before this one.
func (a *pivApplet) authenticate(cmd command, fresh bool) response {
	tlvs, err := pivReadTemplate(cmd.data, 0x7C)
	if err != nil {
		return pivSW(swIncorrectData)
	}
	if cmd.p2 == pivSlotMgmt {
		return a.mgmtAuthenticate(cmd.p1, tlvs)
	}
	if !pivKeySlot(cmd.p2) {
		return pivSW(swIncorrectP1P2)
	}
	k, ok := a.keys[cmd.p2]
	if !ok {
		return pivSW(swRefNotFound)
	}
	if cmd.p1 != k.alg {
		return pivSW(swIncorrectData)
	}
	switch k.pinPolicy {
	case pivPINPolicyOnce:
		if !a.pinVerified {
			return pivSW(swSecurityStatus)
		}
	case pivPINPolicyAlways:
		if !a.pinVerified || !fresh {
			return pivSW(swSecurityStatus)
		}
	}
	resp, ok := tlvs[0x82]
	if !ok || len(resp) != 0 {
		return pivSW(swIncorrectData)
	}
	msg, sign := tlvs[0x81]
	peer, agree := tlvs[0x85]
	if sign == agree {
		return pivSW(swIncorrectData)
	}
	if !a.touch(k.touchPolicy) {
		return pivSW(swSecurityStatus)
	}
	var out []byte
	if sign {
		out, err = k.sign(msg)
	} else {
		out, err = k.agree(peer)
	}
	if err != nil {
		return pivSW(swIncorrectData)
	}
	return response{data: pivTLV(0x7C, pivTLV(0x82, out)), sw: swOK}
}

// sign performs the private-key operation on msg: an ECDSA signature (DER)
// of a digest, an Ed25519 signature of a message, or raw RSA (the host
// pads; signing and decryption are the same operation).
func (k *pivKey) sign(msg []byte) ([]byte, error) {
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		// The card signs whatever digest it gets, up to the order's size.
		// Left-padding keeps the integer value, so a shorter digest signs
		// as itself; a nil reader makes the signature deterministic
		// (RFC 6979) under the hash that matches the padded length.
		size := (priv.Curve.Params().BitSize + 7) / 8
		if len(msg) == 0 || len(msg) > size {
			return nil, errPIVTLV
		}
		h := crypto.SHA256
		if size == 48 {
			h = crypto.SHA384
		}
		return priv.Sign(nil, pivLeftPad(msg, size), h)
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, msg), nil
	case *rsa.PrivateKey:
		size := priv.Size()
		m := new(big.Int).SetBytes(msg)
		if len(msg) != size || m.Cmp(priv.N) >= 0 {
			return nil, errPIVTLV
		}
		return pivLeftPad(pivRSAPrivate(priv, m).Bytes(), size), nil
	}
	return nil, errPIVTLV
}

// pivRSAPrivate computes m^d mod n with the CRT.
func pivRSAPrivate(k *rsa.PrivateKey, m *big.Int) *big.Int {
	p, q := k.Primes[0], k.Primes[1]
	m1 := new(big.Int).Exp(m, k.Precomputed.Dp, p)
	m2 := new(big.Int).Exp(m, k.Precomputed.Dq, q)
	h := m1.Sub(m1, m2)
	h.Mul(h, k.Precomputed.Qinv)
	h.Mod(h, p)
	h.Mul(h, q)
	return h.Add(h, m2)
}

// agree performs ECDH with the peer's public key: for P-256/P-384 the
// uncompressed point, for X25519 the 32-byte key. The result is the raw
// shared secret (the x coordinate for the NIST curves).
func (k *pivKey) agree(peer []byte) ([]byte, error) {
	var priv *ecdh.PrivateKey
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		var err error
		if priv, err = p.ECDH(); err != nil {
			return nil, err
		}
	case *ecdh.PrivateKey:
		priv = p
	default:
		return nil, errPIVTLV
	}
	pub, err := priv.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, err
	}
	return priv.ECDH(pub)
}

// mgmtAuthenticate runs the management-key protocols of SP 800-73-4 Part 2
// Appendix A.1 with a single block of the key's cipher:
//   - mutual: 80 00 → 80 E(W); 80 W 81 C → 82 E(C), host authenticated;
//   - card-only: 81 00 → 81 C; 82 E(C) → 9000, host authenticated.
//
// P1 must be the key's algorithm: any other answers 6A80, as a YubiKey 5.7
// does when a client still assumes 3DES
// (https://github.com/sigstore/cosign/issues/3742,
// https://github.com/gravitational/teleport/issues/55889). A wrong answer
// answers 6982.
func (a *pivApplet) mgmtAuthenticate(alg byte, tlvs map[uint32][]byte) response {
	pending := a.mgmtPending
	defer clear(pending.plain)
	a.mgmtPending = pivMgmtChallenge{}
	if alg != a.mgmt.alg {
		return pivSW(swIncorrectData)
	}
	block, err := a.mgmt.block()
	if err != nil {
		return pivSW(swUnknownError)
	}
	n := block.BlockSize()
	w, hasW := tlvs[0x80]
	c, hasC := tlvs[0x81]
	r, hasR := tlvs[0x82]
	switch {
	case hasW && len(w) == 0 && !hasC && !hasR: // witness request
		plain, err := a.random(n)
		if err != nil {
			return pivSW(swUnknownError)
		}
		enc := make([]byte, n)
		block.Encrypt(enc, plain)
		a.mgmtPending = pivMgmtChallenge{kind: 0x80, alg: alg, plain: plain}
		return response{data: pivTLV(0x7C, pivTLV(0x80, enc)), sw: swOK}
	case hasC && len(c) == 0 && !hasW && !hasR: // challenge request
		plain, err := a.random(n)
		if err != nil {
			return pivSW(swUnknownError)
		}
		a.mgmtPending = pivMgmtChallenge{kind: 0x81, alg: alg, plain: plain}
		return response{data: pivTLV(0x7C, pivTLV(0x81, plain)), sw: swOK}
	case hasW && hasC && !hasR: // mutual: decrypted witness and host challenge
		if len(w) != n || len(c) != n {
			return pivSW(swIncorrectData)
		}
		if pending.kind != 0x80 || pending.alg != alg || !pivEqual(w, pending.plain) {
			a.mgmtAuthed = false
			return pivSW(swSecurityStatus)
		}
		if !a.mgmtTouch() {
			return pivSW(swSecurityStatus)
		}
		enc := make([]byte, n)
		block.Encrypt(enc, c)
		a.mgmtAuthed = true
		return response{data: pivTLV(0x7C, pivTLV(0x82, enc)), sw: swOK}
	case hasR && !hasW && !hasC: // card-only: encrypted challenge
		if len(r) != n {
			return pivSW(swIncorrectData)
		}
		want := make([]byte, n)
		if pending.kind == 0x81 {
			block.Encrypt(want, pending.plain)
		}
		if pending.kind != 0x81 || pending.alg != alg || !pivEqual(r, want) {
			a.mgmtAuthed = false
			return pivSW(swSecurityStatus)
		}
		if !a.mgmtTouch() {
			return pivSW(swSecurityStatus)
		}
		a.mgmtAuthed = true
		return pivSW(swOK)
	}
	return pivSW(swIncorrectData)
}

func (a *pivApplet) mgmtTouch() bool {
	if !a.mgmt.touch {
		return true
	}
	return a.touch(pivTouchAlways)
}

func (a *pivApplet) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.env.rand, b); err != nil {
		return nil, fmt.Errorf("simulator: piv: read randomness: %w", err)
	}
	return b, nil
}
