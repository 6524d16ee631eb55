package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
)

// hookQueue is the bounded queue between the event hook handler and the
// workers that record events with fulfillment's RecordEvent (which asks
// Okta about the user, so it does not belong in the request Okta waits
// on). A delivery is taken whole or refused whole (503: Okta delivers it
// again once); events already queued are not queued twice. An event is
// recorded with the request ID of the delivery that queued it, so that the
// lines logged while recording it (the Service's included) name the
// delivery's "serve: request" line.
type hookQueue struct {
	svc     *fulfillment.Service
	m       *metrics
	log     *slog.Logger
	ch      chan queuedEvent
	kick    func() // wakes the Sync loop after an event found its order in flight (the Service's Wake)
	retries []time.Duration
	done    func(fulfillment.HookEvent, fulfillment.EventOutcome) // tests
	// catchUp: serve catches up from Okta's System Log, which records
	// an event the queue gave up on (RecordEvent marks an event only
	// once its order is saved) provided that the store is a
	// fulfillment.EventChecker.
	catchUp bool
	// marksFirst: the store is no fulfillment.EventChecker, so RecordEvent
	// marks an event before saving its order: an event whose save failed
	// is marked, and the catch-up takes it for handled.
	marksFirst bool

	mu      sync.Mutex
	pending map[string]bool // event IDs queued or being recorded
	closed  bool
	wg      sync.WaitGroup
}

func newHookQueue(svc *fulfillment.Service, m *metrics, log *slog.Logger, size int, kick func()) *hookQueue {
	return &hookQueue{svc: svc, m: m, log: log, ch: make(chan queuedEvent, size), kick: kick,
		pending: map[string]bool{}, retries: []time.Duration{time.Second, 4 * time.Second, 15 * time.Second}}
}

func (q *hookQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// queuedEvent is an event in the queue and the ID of the request that
// delivered it ("" if none).
type queuedEvent struct {
	ev        fulfillment.HookEvent
	requestID string
}

// errShuttingDown is wrapped with ErrQueueFull: a delivery during shutdown
// is answered 503, so Okta tries again (another instance may take it).
var errShuttingDown = fmt.Errorf("serve: shutting down: %w", fulfillment.ErrQueueFull)

// enqueue is given to Service.QueuedEventHandler; it never blocks.
func (q *hookQueue) enqueue(ctx context.Context, evs []fulfillment.HookEvent) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errShuttingDown
	}
	var fresh []fulfillment.HookEvent
	seen := map[string]bool{}
	for _, ev := range evs {
		if !q.pending[ev.ID] && !seen[ev.ID] {
			fresh = append(fresh, ev)
			seen[ev.ID] = true
		}
	}
	if len(fresh) == 0 {
		noteDelivery(ctx, "duplicate")
		return nil
	}
	if free := cap(q.ch) - len(q.ch); len(fresh) > free {
		return fmt.Errorf("serve: %d events, room for %d: %w", len(fresh), free, fulfillment.ErrQueueFull)
	}
	requestID, _ := ctx.Value(requestIDKey{}).(string)
	for _, ev := range fresh {
		q.pending[ev.ID] = true
		q.ch <- queuedEvent{ev, requestID} // cannot block: room checked under q.mu, and only enqueue sends
	}
	noteDelivery(ctx, "accepted")
	return nil
}

func (q *hookQueue) finished(ev fulfillment.HookEvent, out fulfillment.EventOutcome) {
	if q.done != nil {
		q.done(ev, out)
	}
}

// start runs n workers until the queue is closed and drained.
func (q *hookQueue) start(ctx context.Context, n int) {
	for range n {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			for qe := range q.ch {
				rctx := ctx
				if qe.requestID != "" {
					rctx = context.WithValue(ctx, requestIDKey{}, qe.requestID)
				}
				q.record(rctx, qe.ev)
			}
		}()
	}
}

// close stops taking deliveries; the workers finish what is queued.
func (q *hookQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// wait waits for the workers (after close).
func (q *hookQueue) wait() { q.wg.Wait() }

// record records one event, trying again after a failure to ask Okta or
// the store (Okta was answered 200: it will not deliver the event again).
// The Service logs the outcomes it decides (a rejection too, at warn, with
// why); record logs only the failures it handles itself.
func (q *hookQueue) record(ctx context.Context, ev fulfillment.HookEvent) {
	defer func() {
		q.mu.Lock()
		delete(q.pending, ev.ID)
		q.mu.Unlock()
	}()
	attrs := []slog.Attr{slog.String("event", ev.ID), slog.String("user", ev.UserID)}
	for attempt := 0; ; attempt++ {
		out, err := q.svc.RecordEvent(ctx, ev)
		switch out {
		case fulfillment.EventRecorded:
			q.m.orders.Inc() // RecordEvent woke the Sync loop (the Service's Run)
		case fulfillment.EventInFlight:
			// Most often the order this event reports was made with
			// Service.Order or OrderBatch (the console) on this instance,
			// which woke the Sync loop, or on another instance, heard
			// through the store's change feed; not with a store that has
			// none (SQLite shared with `preenroll order`): the event wakes
			// the loop.
			q.kick()
		case fulfillment.EventFailed:
			if ctx.Err() == nil && attempt < len(q.retries) {
				q.log.LogAttrs(ctx, slog.LevelWarn, "serve: recording an event failed; trying again",
					append(attrs, slog.String("error", err.Error()), slog.String("in", q.retries[attempt].String()))...)
				t := time.NewTimer(q.retries[attempt])
				select {
				case <-ctx.Done():
					t.Stop()
				case <-t.C:
				}
				continue
			}
			outcome := "failed"
			if ctx.Err() != nil {
				outcome = "abandoned"
			}
			q.m.events.WithLabelValues(outcome).Inc()
			attrs = append(attrs, slog.String("error", fmt.Sprint(err)))
			switch {
			case q.catchUp && !q.marksFirst:
				q.log.LogAttrs(ctx, slog.LevelWarn, "serve: event not recorded yet (Okta will not deliver it again; the next catch-up from its System Log records it)", attrs...)
			case q.catchUp:
				q.log.LogAttrs(ctx, slog.LevelError, "serve: event NOT recorded (Okta will not deliver it again, and the store, no fulfillment.EventChecker, may have marked it handled, so that the catch-up skips it: order the key with preenroll order)", attrs...)
			default:
				q.log.LogAttrs(ctx, slog.LevelError, "serve: event NOT recorded (Okta will not deliver it again and the catch-up is off: order the key with preenroll order)", attrs...)
			}
			q.finished(ev, out)
			return
		}
		q.m.events.WithLabelValues(out.String()).Inc()
		q.finished(ev, out)
		return
	}
}

// delivery notes, per request, what the queue did with a delivery, for
// the deliveries metric.
type deliveryNote struct{ outcome string }

type noteKey struct{}

func noteDelivery(ctx context.Context, outcome string) {
	if n, ok := ctx.Value(noteKey{}).(*deliveryNote); ok {
		n.outcome = outcome
	}
}

// countDeliveries wraps the event hook handler: it counts each request by
// outcome.
func countDeliveries(m *metrics, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note := &deliveryNote{}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), noteKey{}, note)))
		outcome := note.outcome
		if outcome == "" {
			switch s := sw.status; {
			case s == http.StatusOK && r.Method == http.MethodGet:
				outcome = "verification"
			case s == http.StatusOK:
				outcome = "ignored" // no system.mfa.preregister.initiate event in it
			case s == http.StatusUnauthorized:
				outcome = "unauthorized"
			case s == http.StatusServiceUnavailable:
				outcome = "overloaded"
			case s >= 500:
				outcome = "error"
			default:
				outcome = "invalid"
			}
		}
		m.deliveries.WithLabelValues(outcome).Inc()
	})
}

// statusWriter remembers the status written. Unwrap lets
// http.NewResponseController reach the connection's writer (the console's
// event stream flushes and lifts its write deadline through it).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FlushError sends what was written so far and reports whether it could
// (http.ResponseController.Flush calls it).
func (w *statusWriter) FlushError() error {
	w.wrote = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for handlers that assert http.Flusher.
func (w *statusWriter) Flush() { _ = w.FlushError() }
