package httpclient

import (
	"encoding/json"
	"testing"
)

// TestJSONString: JSONString decodes what json.Unmarshal decodes into a
// string, and fails where it fails (a token that is not a string).
func TestJSONString(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{
		`""`, `"plain"`, `"é ünïcode 😀"`, `"\"quoted\" \\ \/ \u00e9 \ud83d\ude00 \t\n"`,
		"\"bad \xff utf8\"", `"\ud800 lone surrogate"`, `5`, `null`, `true`, `{"a":"b"}`, `["x"]`,
	} {
		got, gotErr := JSONString([]byte(tok))
		var want string
		wantErr := json.Unmarshal([]byte(tok), &want)
		if (gotErr == nil) != (wantErr == nil) || got != want {
			t.Errorf("JSONString(%q) = %q, %v; json.Unmarshal: %q, %v", tok, got, gotErr, want, wantErr)
		}
	}
}
