package okta

import (
	"testing"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// The exported Clock and DefaultMaxBodySize are declared here, not as
// aliases of package internal/httpclient (go doc showed neither the
// methods nor the value); they must still say what the client uses.
func TestClockAndBodySizeMatchTheClient(t *testing.T) {
	var c Clock = httpclient.WallClock{}
	var _ Clock = httpclient.Clock(c)
	var _ httpclient.Clock = c // one value serves okta, yubico and the client core
	if DefaultMaxBodySize != httpclient.DefaultMaxBodySize {
		t.Errorf("DefaultMaxBodySize = %d, the client reads up to %d", DefaultMaxBodySize, httpclient.DefaultMaxBodySize)
	}
	c2, err := NewClient("https://example.okta.com", "token")
	if err != nil {
		t.Fatal(err)
	}
	if c2.core.MaxBody != DefaultMaxBodySize {
		t.Errorf("a new client reads up to %d, DefaultMaxBodySize says %d", c2.core.MaxBody, DefaultMaxBodySize)
	}
}
