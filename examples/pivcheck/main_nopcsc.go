//go:build !pcsc

// Command pivcheck checks a newly arrived YubiKey over PC/SC. It needs cgo,
// libpcsclite and the build tag pcsc (see main.go):
//
//	CGO_ENABLED=1 go run -tags pcsc ./examples/pivcheck -roots roots.pem
//
// Built without the tag it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "pivcheck: built without PC/SC support; rebuild with CGO_ENABLED=1 and -tags pcsc")
	os.Exit(2)
}
