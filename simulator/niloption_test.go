package simulator

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestNilOption: New and NewVPCD refuse a nil option with an error naming
// its index in opts (they used to say only "nil option"); NewPlatform,
// which has no error to return and whose options ignore what they cannot
// use, skips one.
func TestNilOption(t *testing.T) {
	t.Parallel()
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	model, backoff := WithModel(YubiKey5C), WithVPCDBackoff(time.Millisecond, time.Second)
	newKey := func(opts ...Option) error { _, err := New(opts...); return err }
	newVPCD := func(opts ...VPCDOption) error { _, err := NewVPCD(DefaultVPCDAddr, k, opts...); return err }
	want, got := map[string]string{}, map[string]string{}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" for none
	}{
		{"New(model)", newKey(model), ""},
		{"New(nil)", newKey(nil), "simulator: option 0 is nil"},
		{"New(model, nil)", newKey(model, nil), "simulator: option 1 is nil"},
		{"New(model, nil, nil)", newKey(model, nil, nil), "simulator: option 1 is nil"},
		{"NewVPCD(backoff)", newVPCD(backoff), ""},
		{"NewVPCD(nil)", newVPCD(nil), "simulator: vpcd: option 0 is nil"},
		{"NewVPCD(backoff, nil)", newVPCD(backoff, nil), "simulator: vpcd: option 1 is nil"},
	} {
		want[tc.name], got[tc.name] = tc.want, ""
		if tc.err != nil {
			got[tc.name] = tc.err.Error()
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if p := NewPlatform(k, nil, WithPINProtocol(1), nil); p.pinProtocol != 1 {
		t.Errorf("NewPlatform(k, nil, WithPINProtocol(1), nil): PIN protocol %d, want 1", p.pinProtocol)
	}
}
