package simulator

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeCard is a vpcdCard that records what the bridge asks of it.
type fakeCard struct {
	mu      sync.Mutex // guards the fields below
	atr     []byte
	apdus   [][]byte
	power   int  // PowerCycle calls
	removed bool // between Remove and Insert
	inserts int
	reply   func(apdu []byte) ([]byte, error)
}

func (c *fakeCard) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.atr
}

func (c *fakeCard) Transmit(apdu []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil, ErrNotPresent
	}
	c.apdus = append(c.apdus, apdu)
	if c.reply != nil {
		return c.reply(apdu)
	}
	return []byte{0x90, 0x00}, nil
}

func (c *fakeCard) PowerCycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.power++
}

func (c *fakeCard) Remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removed = true
}

func (c *fakeCard) Insert() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removed = false
	c.inserts++
}

func (c *fakeCard) Present() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.removed
}

func (c *fakeCard) snapshot() (apdus [][]byte, power, inserts int, removed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.apdus...), c.power, c.inserts, c.removed
}

// fakeReader plays vpcd: it listens on loopback and speaks the reader side
// of the protocol to whichever card dials in.
type fakeReader struct {
	t  *testing.T
	ln net.Listener
}

func newFakeReader(t *testing.T) *fakeReader {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeReader{t: t, ln: ln}
}

func (r *fakeReader) addr() string { return r.ln.Addr().String() }

// accept waits for the card to dial in, bounded by a deadline so a broken
// bridge fails the test instead of hanging it.
func (r *fakeReader) accept() net.Conn {
	r.t.Helper()
	tl := r.ln.(*net.TCPListener)
	if err := tl.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		r.t.Fatalf("set deadline: %v", err)
	}
	conn, err := r.ln.Accept()
	if err != nil {
		r.t.Fatalf("accept: %v", err)
	}
	r.t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		r.t.Fatalf("set conn deadline: %v", err)
	}
	return conn
}

// send writes one framed message the way Debian's vpcd 3.3 does: the length
// and the payload in two separate writes.
func send(t *testing.T, conn net.Conn, payload []byte) {
	t.Helper()
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(payload)))
	if _, err := conn.Write(hdr[:]); err != nil {
		t.Fatalf("write length: %v", err)
	}
	if _, err := conn.Write(payload); err != nil {
		t.Fatalf("write payload: %v", err)
	}
}

func recv(t *testing.T, conn net.Conn) []byte {
	t.Helper()
	var hdr [2]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(conn, msg); err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return msg
}

// expectClosed reads until the bridge closes conn.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read until close: %v", err)
	}
	if len(b) != 0 {
		t.Fatalf("bridge sent % X before closing, want nothing", b)
	}
}

// serve runs v.Serve in the background and returns a function that stops
// it and returns its error.
func serve(t *testing.T, v *VPCD) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- v.Serve(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

var testATR = []byte{0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40}

// newTestVPCD returns a fake reader and a bridge for card that dials it,
// with fastBackoff.
func newTestVPCD(t *testing.T, card vpcdCard) (*fakeReader, *VPCD) {
	t.Helper()
	reader := newFakeReader(t)
	v, err := newVPCD(reader.addr(), card, fastBackoff())
	if err != nil {
		t.Fatalf("newVPCD: %v", err)
	}
	return reader, v
}

// acceptATR accepts the bridge's next connection to reader and checks
// that the card answers an ATR request with testATR; when names the
// moment in the failure message.
func acceptATR(t *testing.T, reader *fakeReader, when string) net.Conn {
	t.Helper()
	conn := reader.accept()
	send(t, conn, []byte{vpcdCtrlATR})
	if got := recv(t, conn); !bytes.Equal(got, testATR) {
		t.Fatalf("%s: ATR = % X, want % X", when, got, testATR)
	}
	return conn
}

func fastBackoff() VPCDOption { return WithVPCDBackoff(time.Millisecond, 5*time.Millisecond) }

func TestVPCDProtocol(t *testing.T) {
	t.Parallel()
	card := &fakeCard{atr: testATR, reply: func(apdu []byte) ([]byte, error) {
		// Echo the APDU back after the status word so the test sees the
		// bridge passed the bytes unchanged.
		return append([]byte{0x90, 0x00}, apdu...), nil
	}}
	reader, v := newTestVPCD(t, card)
	stop := serve(t, v)
	conn := reader.accept()

	// Power on and reset and power off get no answer; ATR does. A reply
	// arriving for a power event would be read here instead of the ATR.
	send(t, conn, []byte{vpcdCtrlOn})
	send(t, conn, []byte{vpcdCtrlATR})
	if got := recv(t, conn); !bytes.Equal(got, testATR) {
		t.Errorf("ATR = % X, want % X", got, testATR)
	}
	send(t, conn, []byte{vpcdCtrlReset})
	send(t, conn, []byte{vpcdCtrlOff})
	send(t, conn, []byte{0x7F}) // unknown control code: ignored

	selectMgmt := []byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	send(t, conn, selectMgmt)
	if got, want := recv(t, conn), append([]byte{0x90, 0x00}, selectMgmt...); !bytes.Equal(got, want) {
		t.Errorf("SELECT reply = % X, want % X", got, want)
	}
	// An extended APDU larger than one TCP segment.
	big := make([]byte, 4+3+4000)
	copy(big, []byte{0x00, 0xDB, 0x3F, 0xFF, 0x00, 0x0F, 0xA0})
	send(t, conn, big)
	if got := recv(t, conn); !bytes.Equal(got[2:], big) {
		t.Errorf("big APDU echoed %d bytes, want %d unchanged", len(got)-2, len(big))
	}

	if err := stop(); err != nil {
		t.Errorf("Serve() = %v, want nil after cancel", err)
	}
	expectClosed(t, conn)
	apdus, power, _, _ := card.snapshot()
	if diff := cmp.Diff([][]byte{selectMgmt, big}, apdus); diff != "" {
		t.Errorf("APDUs the card saw (-want +got):\n%s", diff)
	}
	if power != 2 {
		t.Errorf("PowerCycle calls = %d, want 2 (reset, off)", power)
	}
}

func TestVPCDTransmitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply func([]byte) ([]byte, error)
		want  []byte
	}{
		{"card error", func([]byte) ([]byte, error) { return nil, errors.New("boom") }, []byte{0x6F, 0x00}},
		{"oversized response", func([]byte) ([]byte, error) { return make([]byte, vpcdMaxMessage+1), nil }, []byte{0x6F, 0x00}},
		{"empty data", func([]byte) ([]byte, error) { return []byte{0x6A, 0x82}, nil }, []byte{0x6A, 0x82}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reader, v := newTestVPCD(t, &fakeCard{atr: testATR, reply: tc.reply})
			serve(t, v)
			conn := reader.accept()
			send(t, conn, []byte{0x00, 0xA4, 0x04, 0x00})
			if got := recv(t, conn); !bytes.Equal(got, tc.want) {
				t.Errorf("reply = % X, want % X", got, tc.want)
			}
		})
	}
}

func TestVPCDReconnects(t *testing.T) {
	t.Parallel()
	card := &fakeCard{atr: testATR}
	reader, v := newTestVPCD(t, card)
	serve(t, v)

	tests := []struct {
		name  string
		sever func(net.Conn)
	}{
		{"reader closes", func(c net.Conn) { c.Close() }},
		{"empty message", func(c net.Conn) { send(t, c, nil) }},
		{"truncated message", func(c net.Conn) { c.Write([]byte{0x00, 0x05, 0x00}); c.(*net.TCPConn).CloseWrite() }},
	}
	for _, tc := range tests {
		conn := acceptATR(t, reader, tc.name)
		tc.sever(conn)
	}
	// After each broken connection the bridge dialled again.
	acceptATR(t, reader, "after reconnects")
}

func TestVPCDWaitsForReader(t *testing.T) {
	t.Parallel()
	// Reserve a port, then free it: the first dials fail until the reader
	// listens there, as when the card starts before pcscd.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()

	dialed := make(chan struct{}, 100)
	dial := func(ctx context.Context, network, a string) (net.Conn, error) {
		select {
		case dialed <- struct{}{}:
		default:
		}
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}
	v, err := newVPCD(addr, &fakeCard{atr: testATR}, fastBackoff(), func(c *vpcdConfig) error { c.dial = dial; return nil })
	if err != nil {
		t.Fatalf("newVPCD: %v", err)
	}
	serve(t, v)
	<-dialed
	<-dialed // a second dial proves the bridge retried after a refusal

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	reader := &fakeReader{t: t, ln: ln}
	t.Cleanup(func() { ln.Close() })
	acceptATR(t, reader, "once the reader listens")
}

func TestVPCDRemoveInsert(t *testing.T) {
	t.Parallel()
	card := &fakeCard{atr: testATR}
	reader, v := newTestVPCD(t, card)
	v.Insert() // not removed: no effect
	stop := serve(t, v)
	conn := reader.accept()
	send(t, conn, []byte{0x00, 0xA4, 0x04, 0x00})
	recv(t, conn)

	v.Remove()
	expectClosed(t, conn)
	if _, _, inserts, removed := card.snapshot(); !removed || inserts != 0 {
		t.Fatalf("after Remove: removed=%v inserts=%d, want true 0", removed, inserts)
	}

	v.Insert()
	conn = acceptATR(t, reader, "after Insert")
	if _, _, inserts, removed := card.snapshot(); removed || inserts != 1 {
		t.Fatalf("after Insert: removed=%v inserts=%d, want false 1", removed, inserts)
	}

	// Cancelling while removed returns promptly.
	v.Remove()
	expectClosed(t, conn)
	if err := stop(); err != nil {
		t.Errorf("Serve() = %v, want nil", err)
	}
}

func TestVPCDServeTwice(t *testing.T) {
	t.Parallel()
	reader, v := newTestVPCD(t, &fakeCard{atr: testATR})
	serve(t, v)
	reader.accept() // the first Serve is running once it has dialled
	if err := v.Serve(t.Context()); !errors.Is(err, ErrVPCDServing) {
		t.Errorf("second Serve() = %v, want ErrVPCDServing", err)
	}
}

func TestVPCDCardRemovedUnderneath(t *testing.T) {
	t.Parallel()
	card := &fakeCard{atr: testATR}
	reader, v := newTestVPCD(t, card)
	serve(t, v)
	conn := reader.accept()
	card.Remove() // the key itself reports "not present"
	send(t, conn, []byte{0x00, 0xA4, 0x04, 0x00})
	expectClosed(t, conn)
	// The bridge looks again and redials once the key is back; an ATR
	// request while it is still gone drops the connection.
	card.Insert()
	conn = reader.accept()
	card.Remove()
	send(t, conn, []byte{vpcdCtrlATR})
	expectClosed(t, conn)
	card.Insert()
	acceptATR(t, reader, "after re-insert")
}

func TestNewVPCDValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr string
		opts []VPCDOption
	}{
		{"no port", "127.0.0.1", nil},
		{"empty host", ":35963", nil},
		{"port zero", "127.0.0.1:0", nil},
		{"port too big", "127.0.0.1:70000", nil},
		{"port not a number", "127.0.0.1:vpcd", nil},
		{"zero backoff", DefaultVPCDAddr, []VPCDOption{WithVPCDBackoff(0, time.Second)}},
		{"max below min", DefaultVPCDAddr, []VPCDOption{WithVPCDBackoff(time.Second, time.Millisecond)}},
		{"nil logger", DefaultVPCDAddr, []VPCDOption{WithVPCDLogger(nil)}},
		{"nil option", DefaultVPCDAddr, []VPCDOption{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := newVPCD(tc.addr, &fakeCard{}, tc.opts...); err == nil {
				t.Errorf("newVPCD(%q) = nil error, want one", tc.addr)
			}
		})
	}
	if _, err := NewVPCD(DefaultVPCDAddr, nil); err == nil {
		t.Error("NewVPCD(nil key) = nil error, want one")
	}
}

func TestWriteVPCDMessage(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := writeVPCDMessage(&b, []byte{0x90, 0x00}); err != nil {
		t.Fatalf("writeVPCDMessage: %v", err)
	}
	if diff := cmp.Diff([]byte{0x00, 0x02, 0x90, 0x00}, b.Bytes()); diff != "" {
		t.Errorf("frame (-want +got):\n%s", diff)
	}
	if err := writeVPCDMessage(&b, make([]byte, vpcdMaxMessage+1)); err == nil {
		t.Error("writeVPCDMessage(65536 bytes) = nil error, want one")
	}
}

// FuzzVPCDStream feeds arbitrary bytes from "the reader" into the bridge:
// it must neither panic nor answer with a malformed frame.
func FuzzVPCDStream(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x04})
	f.Add([]byte{0x00, 0x01, 0x00, 0x00, 0x01, 0x01, 0x00, 0x01, 0x02})
	f.Add([]byte{0x00, 0x04, 0x00, 0xA4, 0x04, 0x00, 0x00, 0x00})
	f.Add([]byte{0xFF, 0xFF, 0x00})
	f.Fuzz(func(t *testing.T, stream []byte) {
		card := &fakeCard{atr: testATR}
		v, err := newVPCD(DefaultVPCDAddr, card)
		if err != nil {
			t.Fatal(err)
		}
		bridge, reader := net.Pipe()
		replies := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(reader)
			replies <- b
		}()
		go func() {
			reader.Write(stream)
			reader.Close()
		}()
		v.serveConn(bridge)
		bridge.Close()
		out := <-replies
		for len(out) > 0 {
			if len(out) < 2 {
				t.Fatalf("truncated frame header % X", out)
			}
			n := int(binary.BigEndian.Uint16(out))
			if n == 0 || len(out) < 2+n {
				t.Fatalf("bad frame: length %d, %d bytes left", n, len(out)-2)
			}
			out = out[2+n:]
		}
	})
}

// BenchmarkVPCDRoundTrip measures one APDU round trip between a reader that
// writes like Debian's vpcd 3.3 (length and payload in two writes, Nagle on)
// and the bridge. Without TCP_QUICKACK the payload waits for the bridge's
// delayed ACK, about 40 ms per APDU on Linux.
func BenchmarkVPCDRoundTrip(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	v, err := newVPCD(ln.Addr().String(), &fakeCard{atr: testATR})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- v.Serve(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := conn.(*net.TCPConn).SetNoDelay(false); err != nil {
		b.Fatal(err)
	}
	apdu := []byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	hdr := []byte{0x00, byte(len(apdu))}
	resp := make([]byte, 4)
	for b.Loop() {
		if _, err := conn.Write(hdr); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Write(apdu); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, resp); err != nil {
			b.Fatal(err)
		}
	}
}
