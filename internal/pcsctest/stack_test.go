//go:build pcsc

package pcsctest

import (
	"bytes"
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/pcsctest/scard"
	"github.com/preenroll/preenroll/simulator"
)

var selectManagement = []byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}

func newKey(t testing.TB) *simulator.Key {
	t.Helper()
	k, err := simulator.New(simulator.WithSerial(12345678))
	if err != nil {
		t.Fatalf("simulator.New: %v", err)
	}
	return k
}

// TestStack drives the whole harness: a private pcscd, a simulated key
// served through vpcd, raw APDUs through libpcsclite, removal and
// re-insertion as pcscd sees them.
func TestStack(t *testing.T) {
	st := Start(t, Options{})
	if got := st.ReaderName(1); got != YubiKeyReader+" 00 01" {
		t.Errorf("ReaderName(1) = %q, want %q", got, YubiKeyReader+" 00 01")
	}
	k := newKey(t)
	v := st.Insert(t, 0, k)

	card, err := scard.Connect(st.ReaderName(0))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	resp, err := card.Transmit(selectManagement)
	if err != nil {
		t.Fatalf("Transmit(SELECT management): %v", err)
	}
	if !bytes.HasSuffix(resp, []byte{0x90, 0x00}) || !bytes.Contains(resp, []byte(k.Firmware().String())) {
		t.Errorf("SELECT management = % X, want the firmware version %q and 9000", resp, k.Firmware())
	}
	if err := card.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	v.Remove()
	if err := st.WaitCard(ctx, 0, false); err != nil {
		t.Fatalf("after Remove: %v", err)
	}
	if _, err := scard.Connect(st.ReaderName(0)); err == nil {
		t.Error("Connect with the key removed succeeded, want an error")
	}
	v.Insert()
	if err := st.WaitCard(ctx, 0, true); err != nil {
		t.Fatalf("after Insert: %v", err)
	}
	card, err = scard.Connect(st.ReaderName(0))
	if err != nil {
		t.Fatalf("Connect after Insert: %v", err)
	}
	defer card.Close()
	if resp, err := card.Transmit(selectManagement); err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Errorf("SELECT after re-insert = % X, %v; want ...9000", resp, err)
	}
}

// TestTwoKeys serves one key per vpcd slot.
func TestTwoKeys(t *testing.T) {
	st := Start(t, Options{ReaderName: NFCReader})
	names, err := st.Readers()
	if err != nil {
		t.Fatalf("Readers: %v", err)
	}
	if want := []string{NFCReader + " 00 00", NFCReader + " 00 01"}; !slices.Equal(names, want) {
		t.Errorf("Readers() = %q, want %q", names, want)
	}
	for slot := range Slots {
		st.Insert(t, slot, newKey(t))
	}
	for slot := range Slots {
		card, err := scard.Connect(st.ReaderName(slot))
		if err != nil {
			t.Fatalf("Connect(slot %d): %v", slot, err)
		}
		resp, err := card.Transmit(selectManagement)
		card.Close()
		if err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			t.Errorf("slot %d: SELECT = % X, %v; want ...9000", slot, resp, err)
		}
	}
}

// BenchmarkTransmit measures one APDU round trip through libpcsclite, pcscd,
// the vpcd driver, TCP and the simulator. It reports the median, which the
// harness needs to stay at or below 0.5 ms (without TCP_QUICKACK it is
// about 44 ms with Debian's vpcd 3.3).
func BenchmarkTransmit(b *testing.B) {
	st := Start(b, Options{})
	st.Insert(b, 0, newKey(b))
	card, err := scard.Connect(st.ReaderName(0))
	if err != nil {
		b.Fatalf("Connect: %v", err)
	}
	defer card.Close()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, err := card.Transmit(selectManagement)
		times = append(times, time.Since(start))
		if err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			b.Fatalf("Transmit = % X, %v", resp, err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e6, "ms-median")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e6, "ms-p99")
}

// TestFreePortPair checks that vpcd ports come from below the ephemeral
// range and that a taken pair is skipped.
func TestFreePortPair(t *testing.T) {
	for range 20 {
		port, err := freePortPair()
		if err != nil {
			t.Fatal(err)
		}
		if port < vpcdPortMin || port+1 > 32767 {
			t.Fatalf("freePortPair() = %d, want a pair within %d-32767", port, vpcdPortMin)
		}
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	if portPairFree(taken) || portPairFree(taken-1) {
		t.Errorf("portPairFree reports a pair including the bound port %d as free", taken)
	}
}
