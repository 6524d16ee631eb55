package httpclient

import (
	"net/http"
	"testing"
)

func TestStatusSentinels(t *testing.T) {
	var s StatusSentinels
	if got := s.For(http.StatusNotFound); got != nil {
		t.Fatalf("zero StatusSentinels.For(404) = %v, want nil", got)
	}
	invalid := s.New("x: invalid", http.StatusBadRequest, http.StatusUnprocessableEntity)
	notFound := s.New("x: not found", http.StatusNotFound)
	server := s.New("x: server", Status5xx)
	for _, tc := range []struct {
		status int
		want   error
	}{
		{http.StatusBadRequest, invalid},
		{http.StatusUnprocessableEntity, invalid},
		{http.StatusNotFound, notFound},
		{http.StatusInternalServerError, server},
		{599, server},
		{http.StatusConflict, nil},
		{http.StatusOK, nil},
		{600, nil},
	} {
		if got := s.For(tc.status); got != tc.want {
			t.Errorf("For(%d) = %v, want %v", tc.status, got, tc.want)
		}
		if got := s.Sentinels(tc.status); (len(got) == 1) != (tc.want != nil) || (tc.want != nil && got[0] != tc.want) {
			t.Errorf("Sentinels(%d) = %v, want [%v]", tc.status, got, tc.want)
		}
	}
	if invalid.Error() != "x: invalid" {
		t.Errorf("Error() = %q", invalid.Error())
	}
}
