package pgstore

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// FuzzReadNotice decodes arbitrary notification payloads (anybody who can
// connect to the database can NOTIFY the channel): no payload panics; one
// that is read is another schema's (ignored), or a change of this one
// with a user ID every Store accepts, a positive version (0 for a delete,
// with no status or step) and a status and step of at most
// maxNoticeFieldLen bytes; an error is short. A payload built as the
// trigger builds it from the fuzzed fields reads back as those fields.
func FuzzReadNotice(f *testing.F) {
	f.Add(`{"schema":"preenroll","op":"UPDATE","user":"00u1","version":3,"status":"SHIPPED","step":"wait-delivery"}`, "preenroll", "INSERT", "00u1", int64(1), "FULFILLMENT_STARTED", "order")
	f.Add(`{"schema":"preenroll","op":"DELETE","user":"00u1","version":0,"status":null,"step":null}`, "preenroll", "DELETE", "00u1", int64(0), "", "")
	f.Add(`{"schema":"other","op":"UPDATE","user":"00u1","version":3}`, "other", "UPDATE", "00u\x00", int64(2), "", "")
	f.Add(`{"schema":"preenroll","op":"TRUNCATE","user":null,"version":-1}`, "preenroll", "UPDATE", "00u1", int64(-1), "S", "s")
	f.Add(`{"schema":"preenroll","op":"UPDATE","user":"\u0000","version":1e30}`, "preenroll", "UPDATE", "\xff", int64(1), "", "")
	f.Add(`[1]`, "", "", "", int64(0), "", "")
	f.Add(`{"schema":"preenroll","op":"UPDATE","user":"u","version":"1"}`, "preenroll", "update", "u", int64(1), "", "")
	s := &Store{schema: "preenroll"}
	f.Fuzz(func(t *testing.T, payload, schema, op, user string, version int64, status, step string) {
		check := func(payload string) (fulfillment.RecordChange, bool, error) {
			c, ours, err := s.readNotice(payload)
			if err != nil {
				if len(err.Error()) > 1024 {
					t.Fatalf("error of %d bytes: %.200q…", len(err.Error()), err)
				}
				return c, ours, err
			}
			if !ours {
				if c != (fulfillment.RecordChange{}) {
					t.Fatalf("another schema's notice read as %+v", c)
				}
				return c, ours, err
			}
			if err := fulfillment.CheckID("user ID", c.UserID); err != nil {
				t.Fatalf("read user ID %q: %v", c.UserID, err)
			}
			switch {
			case c.Version < 0:
				t.Fatalf("read version %d", c.Version)
			case c.Version == 0 && (c.Status != "" || c.Step != ""):
				t.Fatalf("a delete with status %q, step %q", c.Status, c.Step)
			case len(c.Status) > maxNoticeFieldLen || len(c.Step) > maxNoticeFieldLen:
				t.Fatalf("status %q or step %q longer than %d bytes", c.Status, c.Step, maxNoticeFieldLen)
			case c.Remote || c.Resync || c.Login != "":
				t.Fatalf("the feed sets Remote, Resync or Login: %+v", c)
			}
			return c, ours, err
		}
		check(payload)

		// The trigger's own payload (json_build_object; null for an ID
		// or a status longer than the limits).
		n := map[string]any{"schema": schema, "op": op, "user": user, "version": version, "status": status, "step": step}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		c, ours, err := check(string(b))
		valid := schema != "" && fulfillment.CheckID("user ID", user) == nil &&
			(op == "DELETE" || ((op == "INSERT" || op == "UPDATE") && version > 0))
		if schema != s.schema || !valid {
			return
		}
		// json.Marshal turns invalid UTF-8 into U+FFFD: compare with
		// what the payload holds.
		var back struct{ Status, Step string }
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		want := fulfillment.RecordChange{UserID: user}
		if op != "DELETE" {
			want.Version = version
			if len(back.Status) <= maxNoticeFieldLen {
				want.Status = fulfillment.Status(back.Status)
			}
			if len(back.Step) <= maxNoticeFieldLen {
				want.Step = fulfillment.Step(back.Step)
			}
		}
		if err != nil || !ours {
			t.Fatalf("the trigger's payload %s: ours %v, %v", b, ours, err)
		}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("the trigger's payload %s (-want +got):\n%s", b, diff)
		}
	})
}
