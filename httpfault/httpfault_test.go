package httpfault_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/httpfault"
)

func TestKindString(t *testing.T) {
	var got []string
	for _, k := range append(httpfault.AllKinds(), 99) {
		got = append(got, k.String())
	}
	want := []string{"429", "500", "502", "503", "latency", "drop", "drop-response", "HTTPFault(99)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
}
