package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// readSteps reads the steps every user goes through, with the status after
// each, from testdata/steps.csv, as "step status" strings.
func readSteps(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/steps.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs[1:] {
		out = append(out, r[0]+" "+r[1])
	}
	return out
}

// timelineRow matches a timeline row: time, user, status, step, detail.
var timelineRow = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d)  (\S+)\s+(Not ordered|Fulfillment started|Fulfillment errored|Shipped|Active|Deleted)\s+(\S+)\s+(.*)$`)

func TestRunTimeline(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), "demo", Options{Users: 2, Concurrency: 4}, &stdout, &stderr); code != 0 {
		t.Fatalf("run = %d, stderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	wantSteps := readSteps(t)
	steps := map[string][]string{}
	details := map[string]map[string]string{}
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		m := timelineRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		user, status, step, detail := m[2], m[3], m[4], m[5]
		steps[user] = append(steps[user], step+" "+status)
		if details[user] == nil {
			details[user] = map[string]string{}
		}
		details[user][step] = detail
	}
	users := []string{"jan.lindberg@example.com", "ada.okafor@example.com"}
	if len(steps) != len(users) {
		t.Fatalf("timeline has users %v, want %v:\n%s", keys(steps), users, stdout.String())
	}
	for _, u := range users {
		if diff := cmp.Diff(wantSteps, steps[u]); diff != "" {
			t.Errorf("%s: steps (-want +got):\n%s", u, diff)
		}
		if d := details[u]["verify"]; !strings.Contains(d, "PIN wiped in Okta (presetPinAvailable=false)") || !strings.Contains(d, "send-pin now refused: 400") {
			t.Errorf("%s: verify detail %q", u, d)
		}
		if d := details[u]["pin-email"]; !strings.Contains(d, "PIN ••••••••") {
			t.Errorf("%s: pin-email detail %q does not show the masked PIN", u, d)
		}
		if d := details[u]["factory"]; !strings.Contains(d, "shipment 10 Sent to Fulfillment") || !strings.Contains(d, "YubiKey 5 NFC serial") {
			t.Errorf("%s: factory detail %q", u, d)
		}
		if d := details[u]["deliver"]; !strings.Contains(d, "shipment 104 Delivered") {
			t.Errorf("%s: deliver detail %q", u, d)
		}
	}
	if d := details["jan.lindberg@example.com"]["prepare"]; !strings.Contains(d, "STAGED") || !strings.Contains(d, "US") {
		t.Errorf("new hire prepare detail %q", d)
	}
	if d := details["jan.lindberg@example.com"]["sign-in"]; !strings.Contains(d, "account activated") ||
		!strings.Contains(d, "key refused the preset PIN until changed") || !strings.Contains(d, "signed in to Okta (SUCCESS)") {
		t.Errorf("new hire sign-in detail %q", d)
	}
	if d := details["ada.okafor@example.com"]["prepare"]; !strings.Contains(d, "existing ACTIVE employee (signed in before)") || !strings.Contains(d, "DE") {
		t.Errorf("existing employee prepare detail %q", d)
	}
	// The PIN goes to the new hire's secondary email and to the employee's
	// work mailbox: having signed in, the employee needs no secondary email.
	for u, to := range map[string]string{"jan.lindberg@example.com": "jan.lindberg@home.example.net", "ada.okafor@example.com": "ada.okafor@example.com"} {
		if d := details[u]["pin-email"]; !strings.HasPrefix(d, "mail to "+to+" ") {
			t.Errorf("%s: pin-email detail %q, want the mail to %s", u, d, to)
		}
	}
	if !strings.Contains(stdout.String(), "2 users: 2 Active, PIN wiped in Okta for 2\nfake time 3d 19h 30m, wall time ") {
		t.Errorf("no summary in:\n%s", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPINNeverPrinted plays the demo and checks that no PIN from the
// outbox appears in the output, in either format, nor in the Service's
// log.
func TestPINNeverPrinted(t *testing.T) {
	t.Parallel()
	for _, asJSON := range []bool{false, true} {
		var out, logs bytes.Buffer
		var s sink = newTimeline(&out)
		if asJSON {
			s = newJSONLines(&out)
		}
		d, err := newDemo(3, 2, s, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err != nil {
			t.Fatal(err)
		}
		sum, err := d.play(t.Context())
		if err != nil {
			d.Close()
			t.Fatal(err)
		}
		if !sum.ok() || sum.active != 3 {
			t.Errorf("summary %s, want all 3 Active and wiped", sum)
		}
		pins := 0
		for _, m := range d.okta.Outbox() {
			pin, err := m.PIN()
			if err != nil {
				continue
			}
			pins++
			if strings.Contains(out.String(), pin) {
				t.Errorf("json=%t: PIN of %s printed:\n%s", asJSON, m.To, out.String())
			}
			if strings.Contains(logs.String(), pin) {
				t.Errorf("json=%t: PIN of %s logged:\n%s", asJSON, m.To, logs.String())
			}
		}
		d.Close()
		if !strings.Contains(logs.String(), `"step":"pin-sent"`) {
			t.Errorf("json=%t: the Service logged no pin-sent step:\n%.2000s", asJSON, logs.String())
		}
		if pins != 3 {
			t.Errorf("json=%t: %d PIN emails, want 3", asJSON, pins)
		}
	}
}

func TestRunJSON(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), "demo", Options{Users: 4, Concurrency: 4, JSON: true}, &stdout, &stderr); code != 0 {
		t.Fatalf("run = %d, stderr:\n%s", code, stderr.String())
	}
	last := map[string]map[string]any{}
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(stdout.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, k := range []string{"time", "user", "status", "step", "detail"} {
			if _, ok := e[k]; !ok {
				t.Errorf("line %q has no %q", line, k)
			}
		}
		last[e["user"].(string)] = e
		n++
	}
	if steps := len(readSteps(t)); len(last) != 4 || n != 4*steps {
		t.Fatalf("%d events for %d users, want %d for 4", n, len(last), 4*steps)
	}
	for u, e := range last {
		if e["status"] != "ACTIVE" || e["step"] != "verify" || !strings.HasPrefix(e["detail"].(string), "PIN wiped in Okta") {
			t.Errorf("%s: last event %v", u, e)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := Run(ctx, "demo", Options{Users: 2, Concurrency: 4}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("run(cancelled) = %d, stderr %q; want 1 and context canceled", code, stderr.String())
	}
}

// TestUndeliverable has Yubico find one address undeliverable: that user's
// key ends Fulfillment errored and is reported as failed; the other
// user's key still ends Active.
func TestUndeliverable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	d, err := newDemo(2, 1, newTimeline(&out), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.yubico.InjectShipmentFaultNext(yubicotest.ShipmentFaultUndeliverable); err != nil {
		t.Fatal(err)
	}
	sum, err := d.play(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.ok() || sum.users != 2 || sum.active != 1 || sum.wiped != 1 {
		t.Errorf("summary %+v, want 1 of 2 Active and wiped", sum)
	}
	var failed []string
	for line := range strings.SplitSeq(out.String(), "\n") {
		if m := timelineRow.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[5], "FAILED: ") {
			failed = append(failed, m[3]+" "+m[4]+" "+m[5])
		}
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], "Fulfillment errored validate FAILED: fulfillment: step failed at shipment-created: ") ||
		!strings.Contains(strings.ToLower(failed[0]), "undeliverable") {
		t.Errorf("failures %q, want one undeliverable at validate:\n%s", failed, out.String())
	}
	if got := sum.String(); got != "2 users: 1 Active, PIN wiped in Okta for 1" {
		t.Errorf("summary %q", got)
	}
}
