package simulator_test

import (
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"

	"github.com/preenroll/preenroll/simulator"
)

// pivTransmit sends one APDU given in hex and returns the response data and
// the status word.
func pivTransmit(k *simulator.Key, apduHex string, data ...byte) ([]byte, string) {
	apdu, err := hex.DecodeString(apduHex)
	if err != nil {
		log.Fatal(err)
	}
	if len(data) > 0 {
		apdu = append(append(apdu, byte(len(data))), data...)
	}
	resp, err := k.Transmit(apdu)
	if err != nil {
		log.Fatal(err)
	}
	n := len(resp) - 2
	return resp[:n], fmt.Sprintf("%X", resp[n:])
}

// The PIV applet speaks the APDUs piv-go, ykman and yubico-piv-tool send:
// here the host selects it, checks the PIN, authenticates with the default
// management key (AES-192 on firmware 5.7), generates a P-256 key in slot
// 9A and has the key sign a digest.
func ExampleKey_Transmit_piv() {
	k, err := simulator.New(simulator.WithSerial(12345678))
	if err != nil {
		log.Fatal(err)
	}
	_, sw := pivTransmit(k, "00A40400", 0xA0, 0x00, 0x00, 0x03, 0x08) // SELECT PIV
	fmt.Println("select:", sw)
	version, _ := pivTransmit(k, "00FD000000") // Yubico GET VERSION
	fmt.Printf("version: %d.%d.%d\n", version[0], version[1], version[2])
	_, sw = pivTransmit(k, "0020008000") // VERIFY without data: PIN status
	fmt.Println("PIN status:", sw)
	_, sw = pivTransmit(k, "00200080", []byte("123456\xff\xff")...)
	fmt.Println("verify PIN:", sw)

	// Management key: witness (card-encrypted random), then our decryption
	// of it and a challenge of ours, which the card encrypts back.
	key := []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
	block, err := aes.NewCipher(key)
	if err != nil {
		log.Fatal(err)
	}
	witness, _ := pivTransmit(k, "00870A9B", 0x7C, 0x02, 0x80, 0x00)
	reply := append([]byte{0x7C, 0x24, 0x80, 0x10}, make([]byte, 16)...)
	block.Decrypt(reply[4:20], witness[4:20])
	reply = append(reply, 0x81, 0x10)
	reply = append(reply, make([]byte, 16)...) // our challenge: zeros
	_, sw = pivTransmit(k, "00870A9B", reply...)
	fmt.Println("management key:", sw)

	// GENERATE ASYMMETRIC KEY PAIR: P-256 (11), PIN policy once, touch never.
	gen, _ := pivTransmit(k, "0047009A", 0xAC, 0x09, 0x80, 0x01, 0x11, 0xAA, 0x01, 0x02, 0xAB, 0x01, 0x01)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), gen[5:]) // 7F49 43 86 41 <point>
	if err != nil {
		log.Fatal(err)
	}

	// GENERAL AUTHENTICATE: 7C { 82 00, 81 digest } → 7C { 82 signature }.
	digest := sha256.Sum256([]byte("hello"))
	req := append([]byte{0x7C, 0x24, 0x82, 0x00, 0x81, 0x20}, digest[:]...)
	sig, _ := pivTransmit(k, "0087119A", req...)
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(pub, digest[:], sig[4:]))
	// Output:
	// select: 9000
	// version: 5.7.1
	// PIN status: 63C3
	// verify PIN: 9000
	// management key: 9000
	// signature verifies: true
}
