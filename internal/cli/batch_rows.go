package cli

import (
	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/batchcsv"
)

// row is one user row of the input (package batchcsv reads it).
type row struct {
	line    int    // 1-based line of the row in the file
	login   string // as written (trimmed); empty if the row has none
	profile *fulfillment.Profile
	userID  string // Okta user ID, once known
	problem string // why the row is bad; empty for a good row
}

// rowsOf converts the rows batchcsv read.
func rowsOf(in []batchcsv.Row) []row {
	out := make([]row, len(in))
	for i, r := range in {
		out[i] = row{line: r.Line, login: r.Login, profile: r.Profile, problem: r.Problem}
	}
	return out
}
