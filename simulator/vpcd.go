package simulator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// vpcd is the virtual smart-card reader driver of the vsmartcard project
// (https://frankmorgner.github.io/vsmartcard/virtualsmartcard/api.html),
// packaged in Debian as vsmartcard-vpcd. pcscd loads it as a reader; the
// driver listens on TCP (port 35963 = 0x8C7B for the first slot of the
// default /etc/reader.conf.d/vpcd) and a virtual card dials in. Every
// message in both directions is a 2-byte big-endian length followed by that
// many bytes. The reader always speaks first; the card only answers.
//
// A 1-byte message is a control code, anything longer a command APDU.
const (
	vpcdCtrlOff   = 0x00 // power off; no answer
	vpcdCtrlOn    = 0x01 // power on; no answer
	vpcdCtrlReset = 0x02 // reset; no answer
	vpcdCtrlATR   = 0x04 // answer the ATR

	// vpcdMaxMessage is the largest payload the 2-byte length can carry.
	vpcdMaxMessage = 0xFFFF
)

// DefaultVPCDAddr is where Debian's vsmartcard-vpcd listens for the card of
// its first reader slot ("Virtual PCD 00 00").
const DefaultVPCDAddr = "127.0.0.1:35963"

// ErrVPCDServing is returned by [VPCD.Serve] when Serve is already running
// for the same VPCD.
var ErrVPCDServing = errors.New("simulator: vpcd: already serving")

// vpcdCard is what the vpcd bridge needs from a card. *Key implements it;
// the bridge's own tests use a small fake.
type vpcdCard interface {
	ATR() []byte
	Transmit(apdu []byte) ([]byte, error)
	PowerCycle()
	Remove()
	Insert()
	Present() bool
}

// VPCDOption configures a [VPCD].
type VPCDOption func(*vpcdConfig) error

type vpcdConfig struct {
	minBackoff time.Duration
	maxBackoff time.Duration
	logger     *slog.Logger
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
}

// WithVPCDBackoff sets the wait before redialling the reader after a failed
// dial or a lost connection. The wait starts at min and doubles on every
// consecutive failure up to max; a connection that delivered at least one
// message resets it. The defaults are 20 ms and 1 s. min must be positive
// and not larger than max.
func WithVPCDBackoff(min, max time.Duration) VPCDOption {
	return checked(refuse(min <= 0 || max < min, "simulator: vpcd: backoff min %v max %v: need 0 < min <= max", min, max),
		func(c *vpcdConfig) { c.minBackoff, c.maxBackoff = min, max })
}

// WithVPCDLogger makes the bridge log connection events (connected, lost,
// redialling) to l. APDUs are never logged: they carry PINs and keys. The
// default discards everything.
func WithVPCDLogger(l *slog.Logger) VPCDOption {
	return checked(refuse(l == nil, "simulator: vpcd: nil logger"),
		func(c *vpcdConfig) { c.logger = l })
}

// VPCD bridges one simulated [Key] to a vpcd virtual reader, so that
// unmodified PC/SC clients (piv-go, ykman, python-fido2, OpenSC) use the
// key through pcscd as if it were plugged in. The zero value is not usable;
// create one with [NewVPCD]. A VPCD is safe for concurrent use: Serve runs
// in one goroutine while others call Remove and Insert.
//
// Two properties matter for real clients:
//
//   - Latency. Debian's vpcd 3.3 writes the length and the payload of each
//     message separately, so the payload waits for the card's delayed ACK
//     (about 40 ms per APDU). On Linux the bridge sets TCP_QUICKACK before
//     every read, which brings a round trip through pcscd to a fraction of
//     a millisecond.
//   - Presence. pcscd sees a card while the TCP connection is up; closing
//     it is how a card is pulled out ([VPCD.Remove]), dialling again how it
//     is put back ([VPCD.Insert]).
type VPCD struct {
	addr string
	card vpcdCard
	cfg  vpcdConfig

	mu      sync.Mutex    // guards conn, removed, wake, serving
	conn    net.Conn      // the live connection to vpcd, nil between connections
	removed bool          // Remove was called and Insert has not been
	wake    chan struct{} // closed by Insert to wake a Serve waiting while removed
	serving bool          // Serve is running
}

// NewVPCD returns a bridge that will dial the vpcd reader at addr (host:port,
// e.g. [DefaultVPCDAddr]) and serve k there once [VPCD.Serve] runs. It
// returns an error when addr is not host:port, k is nil or an option is
// invalid or nil ("simulator: vpcd: option 1 is nil" names its index in
// opts, from 0).
func NewVPCD(addr string, k *Key, opts ...VPCDOption) (*VPCD, error) {
	if k == nil {
		return nil, errors.New("simulator: vpcd: nil key")
	}
	return newVPCD(addr, k, opts...)
}

func newVPCD(addr string, card vpcdCard, opts ...VPCDOption) (*VPCD, error) {
	if err := validateVPCDAddr(addr); err != nil {
		return nil, err
	}
	cfg := vpcdConfig{
		minBackoff: 20 * time.Millisecond,
		maxBackoff: time.Second,
		logger:     slog.New(slog.DiscardHandler),
		dial:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("simulator: vpcd: option %d is nil", i)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	return &VPCD{addr: addr, card: card, cfg: cfg, wake: make(chan struct{})}, nil
}

func validateVPCDAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("simulator: vpcd: address %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("simulator: vpcd: address %q: empty host", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("simulator: vpcd: address %q: port must be 1..65535", addr)
	}
	return nil
}

// Addr returns the reader address the bridge dials.
func (v *VPCD) Addr() string { return v.addr }

// ServeVPCD serves k to the vpcd reader at addr until ctx is done; it is
// NewVPCD followed by Serve.
func ServeVPCD(ctx context.Context, addr string, k *Key, opts ...VPCDOption) error {
	v, err := NewVPCD(addr, k, opts...)
	if err != nil {
		return err
	}
	return v.Serve(ctx)
}

// Serve dials the reader and answers it until ctx is done, then closes the
// connection (pcscd sees the card removed) and returns nil. When the reader
// is not there yet or goes away, Serve redials with backoff; while the key
// is removed ([VPCD.Remove]) it waits for [VPCD.Insert]. A key removed
// directly with [Key.Remove] also drops the connection; Serve then checks
// [Key.Present] every maximum backoff (1 s by default) to redial. It returns
// [ErrVPCDServing] if another Serve of v is running.
func (v *VPCD) Serve(ctx context.Context) error {
	v.mu.Lock()
	if v.serving {
		v.mu.Unlock()
		return ErrVPCDServing
	}
	v.serving = true
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.serving = false
		v.mu.Unlock()
	}()

	// Closing the live connection is what unblocks a read when ctx ends.
	stop := context.AfterFunc(ctx, func() { v.closeConn() })
	defer stop()

	backoff := v.cfg.minBackoff
	log := v.cfg.logger.With("addr", v.addr)
	for {
		if ctx.Err() != nil {
			return nil
		}
		if wake, removed := v.removedState(); removed {
			log.Info("vpcd: key removed; waiting for insert")
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
				backoff = v.cfg.minBackoff
				continue
			}
		}
		if !v.card.Present() {
			// Removed with Key.Remove rather than VPCD.Remove: there is
			// no notification for Key.Insert, so look again after a
			// while.
			if !waitBackoff(ctx, v.cfg.maxBackoff) {
				return nil
			}
			continue
		}

		conn, err := v.cfg.dial(ctx, "tcp", v.addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Debug("vpcd: dial failed", "err", err, "retry_in", backoff)
			if !waitBackoff(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, v.cfg.maxBackoff)
			continue
		}
		if !v.setConn(ctx, conn) {
			// Removed (or ctx ended) while dialling: do not show the card.
			conn.Close()
			continue
		}
		log.Info("vpcd: connected")
		served, err := v.serveConn(conn)
		v.clearConn(conn)
		conn.Close()
		if ctx.Err() != nil {
			return nil
		}
		if _, removed := v.removedState(); removed {
			continue
		}
		log.Info("vpcd: connection lost", "err", err, "messages", served)
		if served > 0 {
			backoff = v.cfg.minBackoff
		}
		if !waitBackoff(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, v.cfg.maxBackoff)
	}
}

// Remove pulls the key out of the reader: the key forgets its volatile
// state and stops answering ([Key.Remove]), the connection to vpcd closes so
// pcscd reports the card gone, and Serve does not redial until Insert.
func (v *VPCD) Remove() {
	v.mu.Lock()
	v.removed = true
	conn := v.conn
	v.mu.Unlock()
	v.card.Remove()
	if conn != nil {
		conn.Close()
	}
}

// Insert puts a removed key back: the key answers again ([Key.Insert]) and
// Serve dials the reader at once. Insert on a key that is not removed does
// nothing.
func (v *VPCD) Insert() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.removed {
		return
	}
	v.removed = false
	v.card.Insert()
	close(v.wake)
	v.wake = make(chan struct{})
}

func (v *VPCD) removedState() (<-chan struct{}, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.wake, v.removed
}

// setConn records conn as the live connection unless the key was removed
// or ctx ended meanwhile; it reports whether it did. Checking ctx under the
// lock closes the gap with the AfterFunc that closes the live connection:
// either it already ran (ctx.Err is set) or it will find conn.
func (v *VPCD) setConn(ctx context.Context, conn net.Conn) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed || ctx.Err() != nil {
		return false
	}
	v.conn = conn
	return true
}

func (v *VPCD) clearConn(conn net.Conn) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn == conn {
		v.conn = nil
	}
}

func (v *VPCD) closeConn() {
	v.mu.Lock()
	conn := v.conn
	v.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// waitBackoff waits d or until ctx is done; it reports whether ctx is still
// live.
func waitBackoff(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// serveConn answers vpcd on conn until the connection fails. It returns the
// number of messages handled and the error that ended the connection.
func (v *VPCD) serveConn(conn net.Conn) (int, error) {
	qa := newQuickAcker(conn)
	var hdr [2]byte
	buf := make([]byte, vpcdMaxMessage)
	for served := 0; ; served++ {
		qa.arm()
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return served, fmt.Errorf("simulator: vpcd: read length: %w", err)
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n == 0 {
			return served, errors.New("simulator: vpcd: empty message")
		}
		msg := buf[:n]
		qa.arm()
		if _, err := io.ReadFull(conn, msg); err != nil {
			return served, fmt.Errorf("simulator: vpcd: read %d-byte message: %w", n, err)
		}
		reply, err := v.handle(msg)
		if err != nil {
			return served, err
		}
		if reply == nil {
			continue
		}
		if err := writeVPCDMessage(conn, reply); err != nil {
			return served, err
		}
	}
}

// handle answers one message from vpcd. A nil reply means "send nothing"
// (power events). An error ends the connection: the card is gone.
func (v *VPCD) handle(msg []byte) ([]byte, error) {
	if len(msg) == 1 {
		switch msg[0] {
		case vpcdCtrlOff, vpcdCtrlReset:
			v.card.PowerCycle()
			return nil, nil
		case vpcdCtrlOn:
			return nil, nil
		case vpcdCtrlATR:
			if !v.card.Present() {
				return nil, fmt.Errorf("simulator: vpcd: ATR: %w", ErrNotPresent)
			}
			return v.card.ATR(), nil
		default:
			// Unknown control codes get no answer, as in vsmartcard's own
			// card (vpicc); the reader would otherwise wait for bytes it
			// never asked for.
			return nil, nil
		}
	}
	// Copy: the card may keep the slice, and buf is reused.
	resp, err := v.card.Transmit(append([]byte(nil), msg...))
	if err != nil {
		if errors.Is(err, ErrNotPresent) {
			return nil, fmt.Errorf("simulator: vpcd: transmit: %w", err)
		}
		// A card always answers with a status word; report a generic
		// "no precise diagnosis" (ISO 7816-4 6F00) rather than hanging.
		return []byte{0x6F, 0x00}, nil
	}
	if len(resp) > vpcdMaxMessage {
		return []byte{0x6F, 0x00}, nil
	}
	return resp, nil
}

// writeVPCDMessage sends len||payload in one write, so the reader gets one
// TCP segment (no Nagle wait on our side).
func writeVPCDMessage(w io.Writer, payload []byte) error {
	if len(payload) > vpcdMaxMessage {
		return fmt.Errorf("simulator: vpcd: message of %d bytes exceeds %d", len(payload), vpcdMaxMessage)
	}
	out := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(out, uint16(len(payload)))
	copy(out[2:], payload)
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("simulator: vpcd: write: %w", err)
	}
	return nil
}
