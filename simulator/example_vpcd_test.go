package simulator_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/preenroll/preenroll/simulator"
)

// ExampleVPCD serves a key to a reader. Here a loopback listener stands in
// for pcscd's vpcd driver and asks for the ATR, as vpcd does when a card
// connects; in real use the address is simulator.DefaultVPCDAddr and pcscd
// does the asking.
func ExampleVPCD() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	k, err := simulator.New(simulator.WithSerial(12345678))
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := simulator.NewVPCD(ln.Addr().String(), k)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- v.Serve(ctx) }()

	conn, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	conn.Write([]byte{0x00, 0x01, 0x04}) // length 1, control "get ATR"
	var hdr [2]byte
	io.ReadFull(conn, hdr[:])
	atr := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	io.ReadFull(conn, atr)
	fmt.Printf("ATR % X\n", atr)

	cancel()
	fmt.Println("Serve:", <-done)
	// Output:
	// ATR 3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40
	// Serve: <nil>
}
