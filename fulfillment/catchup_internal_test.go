package fulfillment

import (
	"testing"
	"time"
)

// TestCheckpointMovesForwardOnly: the catch-up checkpoint never goes back,
// also when another instance moved it meanwhile, and keeps its From.
func TestCheckpointMovesForwardOnly(t *testing.T) {
	ctx := t.Context()
	s := &Service{store: NewMemoryStore(), localDocs: NewMemoryStore()}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, step := range []struct{ until, want time.Time }{
		{t0, t0},
		{t0.Add(time.Minute), t0.Add(time.Minute)},
		{t0, t0.Add(time.Minute)},
	} {
		cp, v, err := s.loadCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.saveCheckpoint(ctx, step.until, cp, v); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := s.loadCheckpoint(ctx); !got.Until.Equal(step.want) || !got.From.Equal(t0) {
			t.Errorf("after saving %v: checkpoint %+v, want Until %v, From %v", step.until, got, step.want, t0)
		}
	}
	// Another instance moved it after this one read it.
	stale, v, _ := s.loadCheckpoint(ctx)
	other, ov, _ := s.loadCheckpoint(ctx)
	if err := s.saveCheckpoint(ctx, t0.Add(time.Hour), other, ov); err != nil {
		t.Fatal(err)
	}
	if err := s.saveCheckpoint(ctx, t0.Add(2*time.Minute), stale, v); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.loadCheckpoint(ctx); !got.Until.Equal(t0.Add(time.Hour)) {
		t.Errorf("checkpoint %v, want the other instance's %v", got.Until, t0.Add(time.Hour))
	}
}
