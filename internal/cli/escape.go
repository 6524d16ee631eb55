package cli

import "github.com/preenroll/preenroll/internal/batchcsv"

// safe returns s for printing on a terminal or into a report: unchanged if
// every character is printable, otherwise Go-quoted (batchcsv.Safe) so
// that no escape sequence, bidi override or line break from outside data
// reaches the terminal. Logins, profile values and Okta's error texts all
// pass through it.
func safe(s string) string { return batchcsv.Safe(s) }
