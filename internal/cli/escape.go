package cli

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// safe returns s for printing on a terminal or into a report: unchanged if
// every character is printable, otherwise Go-quoted ("\x1b[31mjan") so
// that no escape sequence (colours, OSC window titles, cursor moves), bidi
// override or line break from outside data reaches the terminal. Logins,
// profile values and Okta's error texts all pass through it.
func safe(s string) string {
	if !needsQuoting(s) {
		return s
	}
	return strconv.QuoteToGraphic(s)
}

// needsQuoting reports whether s has a character that is not graphic:
// a control or format character, or invalid UTF-8.
func needsQuoting(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r == utf8.RuneError || (!unicode.IsGraphic(r) && r != ' ')
	})
}
