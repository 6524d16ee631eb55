package oktatest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// An enroll the fake cannot complete (its key generation or sealing failed:
// not reachable from the wire) carries Okta's generic cause and the fake's
// explanation, as a refused activate does.
func TestEnrollFailureExplainsItself(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	x := &exchange{w: httptest.NewRecorder(), r: httptest.NewRequest(http.MethodPost, "/webauthn-registration/api/v1/enroll", nil)}
	s.preregFailed(x, enrollFailedSummary, "generate requests: %v", errors.New("boom"))
	var got struct {
		ErrorCode    string
		ErrorSummary string
		ErrorCauses  []cause
	}
	if err := json.Unmarshal(x.out, &got); err != nil {
		t.Fatalf("response %s: %v", x.out, err)
	}
	want := []cause{{"There was an unexpected internal error. Please try again."}, {"oktatest: generate requests: boom"}}
	if x.status != http.StatusBadRequest || got.ErrorCode != "E0000001" || got.ErrorSummary != enrollFailedSummary {
		t.Errorf("status %d, body %s", x.status, x.out)
	}
	if diff := cmp.Diff(want, got.ErrorCauses); diff != "" {
		t.Errorf("errorCauses (-want +got):\n%s", diff)
	}
	if x.entry.Detail != "generate requests: boom" {
		t.Errorf("log detail = %q", x.entry.Detail)
	}
}
