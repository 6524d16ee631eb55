package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// The files testdata/batch-rows-*.json (a rows document's JSON, before
// gzip) and testdata/batch-summary-*.json (a summary document) were
// written by batches.save of the console at commit 4018e0d: they stand
// for the documents already in stores, so they are never regenerated.
// "full" sets every field (a done batch with an item, an error and rows
// of every result, a profile row among them), "plain" leaves the optional
// ones out (a checking batch without an item).
var batchGoldens = []string{"full", "plain"}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestBatchSummaryFormat: a stored summary document reads and is written
// again byte for byte.
func TestBatchSummaryFormat(t *testing.T) {
	for _, name := range batchGoldens {
		t.Run(name, func(t *testing.T) {
			golden := readGolden(t, "batch-summary-"+name+".json")
			s, err := decodeSummary(fulfillment.Document{ID: name, Data: golden})
			if err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(golden), string(again)); diff != "" {
				t.Errorf("the summary written again (-stored +written):\n%s", diff)
			}
		})
	}
}

// TestBatchRowsFormat: a stored rows document reads and is written again
// with the same JSON: the same keys with the same values, and as many
// bytes (nothing escaped otherwise). Item and Rows come after the fields
// a rows document shares with its summary (batchInfo, embedded), where
// the console of 4018e0d wrote them between; encoding/json reads keys in
// any order, so either console reads the other's documents.
func TestBatchRowsFormat(t *testing.T) {
	for _, name := range batchGoldens {
		t.Run(name, func(t *testing.T) {
			golden := readGolden(t, "batch-rows-"+name+".json")
			var zipped bytes.Buffer
			zw := gzip.NewWriter(&zipped)
			if _, err := zw.Write(golden); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			d, err := decodeBatch(zipped.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			data, err := encodeBatch(d)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			again, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			var stored, written any
			if err := json.Unmarshal(golden, &stored); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &written); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(stored, written); diff != "" {
				t.Errorf("the rows document written again (-stored +written):\n%s", diff)
			}
			if len(again) != len(golden) {
				t.Errorf("the rows document written again is %d bytes, stored %d:\n%s\n%s", len(again), len(golden), again, golden)
			}
		})
	}
}
