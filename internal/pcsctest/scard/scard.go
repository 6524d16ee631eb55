//go:build pcsc

package scard

/*
#cgo linux pkg-config: libpcsclite
#include <stdlib.h>
#include <string.h>
#include <winscard.h>

// The PC/SC types differ in width between platforms (LONG is long on
// 64-bit Linux pcsc-lite); these wrappers keep the Go side to plain C
// types.

static long pt_establish(SCARDCONTEXT *ctx) {
	return SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, ctx);
}

static long pt_release(SCARDCONTEXT ctx) { return SCardReleaseContext(ctx); }

// pt_list_readers fills buf with the multi-string of reader names.
static long pt_list_readers(SCARDCONTEXT ctx, char *buf, unsigned long *len) {
	DWORD n = *len;
	long rc = SCardListReaders(ctx, NULL, buf, &n);
	*len = n;
	return rc;
}

// pt_wait waits up to timeout_ms for the reader's state to change from
// *state (0 = unaware) and stores the new state.
static long pt_wait(SCARDCONTEXT ctx, const char *reader, unsigned long *state, unsigned long timeout_ms) {
	SCARD_READERSTATE rs;
	memset(&rs, 0, sizeof rs);
	rs.szReader = reader;
	rs.dwCurrentState = *state;
	long rc = SCardGetStatusChange(ctx, timeout_ms, &rs, 1);
	*state = rs.dwEventState;
	return rc;
}

static long pt_connect(SCARDCONTEXT ctx, const char *reader, SCARDHANDLE *card) {
	DWORD proto = 0;
	return SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, card, &proto);
}

static long pt_disconnect(SCARDHANDLE card) { return SCardDisconnect(card, SCARD_LEAVE_CARD); }

static long pt_transmit(SCARDHANDLE card, const unsigned char *cmd, unsigned long cmd_len,
		unsigned char *resp, unsigned long *resp_len) {
	DWORD n = *resp_len;
	long rc = SCardTransmit(card, SCARD_PCI_T1, cmd, cmd_len, NULL, resp, &n);
	*resp_len = n;
	return rc;
}

static long pt_state_present(void) { return SCARD_STATE_PRESENT; }
static long pt_state_changed(void) { return SCARD_STATE_CHANGED; }
static long pt_err_timeout(void) { return SCARD_E_TIMEOUT; }
static long pt_err_no_readers(void) { return SCARD_E_NO_READERS_AVAILABLE; }
static unsigned long pt_max_buffer(void) { return MAX_BUFFER_SIZE_EXTENDED; }
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unsafe"
)

// scError is a PC/SC return code.
type scError int64

func (e scError) Error() string {
	return fmt.Sprintf("scard: pcsc error 0x%08X: %s", uint32(e), C.GoString(C.pcsc_stringify_error(C.LONG(e))))
}

func scCheck(rc C.long) error {
	if rc == 0 {
		return nil
	}
	return scError(rc)
}

// Context is one PC/SC context (SCardEstablishContext). It is not safe for
// concurrent use.
type Context struct {
	ctx C.SCARDCONTEXT
}

// Establish connects to pcscd.
func Establish() (*Context, error) {
	var c Context
	if err := scCheck(C.pt_establish(&c.ctx)); err != nil {
		return nil, fmt.Errorf("scard: establish context: %w", err)
	}
	return &c, nil
}

// Close releases the context.
func (c *Context) Close() { C.pt_release(c.ctx) }

// Readers lists the readers pcscd knows; none is not an error.
func (c *Context) Readers() ([]string, error) {
	buf := make([]byte, 8192)
	n := C.ulong(len(buf))
	rc := C.pt_list_readers(c.ctx, (*C.char)(unsafe.Pointer(&buf[0])), &n)
	if rc == C.pt_err_no_readers() {
		return nil, nil
	}
	if err := scCheck(rc); err != nil {
		return nil, fmt.Errorf("scard: list readers: %w", err)
	}
	var names []string
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) > 0 {
			names = append(names, string(name))
		}
	}
	return names, nil
}

// WaitCard blocks until reader has (present) or lacks (!present) a card, or
// ctx ends. It waits on pcscd's state-change notification
// (SCardGetStatusChange), in slices of 200 ms so a cancelled ctx is noticed.
func (c *Context) WaitCard(ctx context.Context, reader string, present bool) error {
	name := C.CString(reader)
	defer C.free(unsafe.Pointer(name))
	var state C.ulong // unaware: the first call reports the current state
	for {
		if err := ctx.Err(); err != nil {
			want := "absent"
			if present {
				want = "present"
			}
			return fmt.Errorf("scard: reader %q: card not %s: %w", reader, want, err)
		}
		cur := state &^ C.ulong(C.pt_state_changed())
		rc := C.pt_wait(c.ctx, name, &state, 200)
		if rc == C.pt_err_timeout() {
			state = cur
			continue
		}
		if err := scCheck(rc); err != nil {
			return fmt.Errorf("scard: wait for reader %q: %w", reader, err)
		}
		if (state&C.ulong(C.pt_state_present()) != 0) == present {
			return nil
		}
		state &^= C.ulong(C.pt_state_changed())
	}
}

// Card is a raw PC/SC connection (shared mode, T=1) to a card, for tests,
// benchmarks and tools that want APDUs without a client library in between.
// It is not safe for concurrent use.
type Card struct {
	ctx  *Context
	card C.SCARDHANDLE
	buf  []byte
}

// Connect opens reader in shared mode. Close releases it.
func Connect(reader string) (*Card, error) {
	ctx, err := Establish()
	if err != nil {
		return nil, err
	}
	name := C.CString(reader)
	defer C.free(unsafe.Pointer(name))
	c := &Card{ctx: ctx, buf: make([]byte, C.pt_max_buffer())}
	if err := scCheck(C.pt_connect(ctx.ctx, name, &c.card)); err != nil {
		ctx.Close()
		return nil, fmt.Errorf("scard: connect %q: %w", reader, err)
	}
	return c, nil
}

// Transmit sends one command APDU and returns the response including SW1 SW2.
func (c *Card) Transmit(apdu []byte) ([]byte, error) {
	if len(apdu) == 0 {
		return nil, errors.New("scard: transmit: empty APDU")
	}
	n := C.ulong(len(c.buf))
	rc := C.pt_transmit(c.card, (*C.uchar)(unsafe.Pointer(&apdu[0])), C.ulong(len(apdu)),
		(*C.uchar)(unsafe.Pointer(&c.buf[0])), &n)
	if err := scCheck(rc); err != nil {
		return nil, fmt.Errorf("scard: transmit: %w", err)
	}
	return bytes.Clone(c.buf[:n]), nil
}

// Close disconnects, leaving the card powered.
func (c *Card) Close() error {
	err := scCheck(C.pt_disconnect(c.card))
	c.ctx.Close()
	if err != nil {
		return fmt.Errorf("scard: disconnect: %w", err)
	}
	return nil
}
