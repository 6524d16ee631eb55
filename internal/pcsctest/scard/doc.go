// Package scard is a minimal cgo binding of the PC/SC API (libpcsclite):
// list readers, wait for a card, connect in shared mode and transmit raw
// APDUs. It exists for the PC/SC test harness and the pivcheck example,
// which need a few calls piv-go does not export. Build tag pcsc; needs cgo
// and libpcsclite-dev.
//
// libpcsclite reads PCSCLITE_CSOCK_NAME once per process, at the first call.
package scard
