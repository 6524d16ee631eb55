package cli

import (
	"encoding/csv"
	"errors"
	"os"
	"strconv"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/batchcsv"
)

// reportHeader is the header of the -report CSV.
var reportHeader = []string{"line", "login", "user_id", "result", "status", "problem"}

// writeReport writes one CSV row per input row to path (nothing if path is
// empty).
func writeReport(path string, out []outcome) (err error) {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	w := csv.NewWriter(f)
	if err := w.Write(reportHeader); err != nil {
		return err
	}
	for _, o := range out {
		status := ""
		if o.status != fulfillment.StatusNone {
			status = string(o.status)
		}
		if err := w.Write([]string{strconv.Itoa(o.line), cell(o.login), cell(o.userID), o.result, status, cell(o.problem)}); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// cell defuses a value a spreadsheet would run as a formula, and escapes
// control characters (batchcsv.Cell).
func cell(s string) string { return batchcsv.Cell(s) }
