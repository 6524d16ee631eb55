package logpace_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/logpace"
)

func TestPacer(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	type step struct {
		At         time.Duration
		Log        bool
		Suppressed int
	}
	want := []step{
		{0, true, 0},                 // the first at once
		{time.Second, false, 0},      // inside the minute
		{59 * time.Second, false, 0}, // still inside
		{time.Minute, true, 2},       // a minute on: counts the two
		{time.Minute + 1, false, 0},  //
		{3 * time.Minute, true, 1},   // long after: at once, counting one
		{3*time.Minute + 30*time.Second, false, 0},
	}
	p := &logpace.Pacer{Every: time.Minute}
	var got []step
	for _, s := range want {
		log, n := p.Allow(t0.Add(s.At))
		got = append(got, step{s.At, log, n})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Allow (-want +got):\n%s", diff)
	}
}

func TestPacerZeroLogsAll(t *testing.T) {
	var p logpace.Pacer
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if log, n := p.Allow(t0); !log || n != 0 {
			t.Fatalf("occurrence %d: Allow = %v, %d; want true, 0", i, log, n)
		}
	}
}
