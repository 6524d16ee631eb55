package okta

import (
	"bytes"
	"iter"
)

// isObject reports whether the JSON value b starts with '{'.
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// members yields the members of b, a JSON object that json.Valid accepts:
// each name as its JSON string token (quotes and escapes included) and
// each value as its bytes, without the whitespace around it. Both alias b.
// On anything else it may yield nonsense, but it does not panic.
func members(b []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		i := skipSpace(b, 0)
		if i >= len(b) || b[i] != '{' {
			return
		}
		i++
		for {
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != '"' {
				return // '}' or malformed
			}
			k := stringEnd(b, i)
			key := b[i:k]
			i = skipSpace(b, k)
			if i >= len(b) || b[i] != ':' {
				return
			}
			i = skipSpace(b, i+1)
			end := valueEnd(b, i)
			if end <= i {
				return
			}
			if !yield(key, b[i:end]) {
				return
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ',' {
				return
			}
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just after the JSON string starting at
// b[i] (a '"'), or len(b) if it does not end.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just after the JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}
