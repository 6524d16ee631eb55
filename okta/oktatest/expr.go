package oktatest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The list endpoints' search and filter parameters take Okta's SCIM-like
// expressions (https://developer.okta.com/docs/api/#filter):
//
//	expression := term { "or" term }
//	term       := factor { "and" factor }
//	factor     := "(" expression ")" | attribute operator value
//
// with "and" binding tighter than "or" (SCIM, RFC 7644 §3.4.2.2). Values
// are double-quoted strings (with \" and \\ escapes), true, false, null or
// numbers. Which attributes and operators a parameter accepts, and whether
// values compare case-insensitively, is the parameter's exprDialect.

// exprDialect is what one query parameter accepts: a table, read by
// [exprDialect.attr] and [exprDialect.op].
type exprDialect struct {
	// param is "search" or "filter" (named in error causes): search takes
	// every operator, co only on the co attributes; filter takes eq only
	// (every operator on dates).
	param   string
	strs    []string // string attributes
	dates   []string // date attributes
	profile bool     // every profile.<attribute> too, as a string
	co      []string // search: the attributes co applies to
	fold    bool     // compare values case-insensitively (search)
}

// attr reports whether name is an attribute d accepts and whether it is a
// date.
func (d exprDialect) attr(name string) (date, ok bool) {
	switch {
	case slices.Contains(d.dates, name):
		return true, true
	case slices.Contains(d.strs, name):
		return false, true
	}
	attr, ok := strings.CutPrefix(name, "profile.")
	return false, d.profile && ok && attr != ""
}

// op reports whether operator op may be used on attribute name.
func (d exprDialect) op(name, op string) bool {
	if d.param == "search" {
		return op != "co" || slices.Contains(d.co, name)
	}
	return op == "eq" || slices.Contains(d.dates, name)
}

// attrValue is one attribute of one record: the candidate values (several
// for an array attribute, none when absent or null) or a time.
type attrValue struct {
	strs []string
	t    time.Time // a date attribute; zero when absent
}

// strAttr is a string attribute: absent when empty.
func strAttr(v string) attrValue {
	if v == "" {
		return attrValue{}
	}
	return attrValue{strs: []string{v}}
}

// attrTable names the attributes of a record type T for expressions:
// string attributes (absent when empty) and date attributes (absent when
// zero), each read by a function. A table is built once, at package
// initialisation, not per lookup: looking an attribute up runs for every
// record a list request scans. BenchmarkAttrLookup measures a lookup: a
// string attribute, a named profile one included, allocates once (its
// one-value slice of candidates) and a date not at all; only an Extra
// profile attribute, decoded from its raw JSON, allocates more (four).
type attrTable[T any] struct {
	strs  map[string]func(T) string
	dates map[string]func(T) time.Time
}

// get returns attribute name of x; ok is false when the table has no such
// attribute.
func (a attrTable[T]) get(x T, name string) (v attrValue, ok bool) {
	if f, ok := a.strs[name]; ok {
		return strAttr(f(x)), true
	}
	if f, ok := a.dates[name]; ok {
		return attrValue{t: f(x)}, true
	}
	return attrValue{}, false
}

// expr is a parsed expression, evaluated against one record.
type expr interface {
	eval(get func(name string) attrValue) bool
}

type orExpr []expr

func (o orExpr) eval(get func(string) attrValue) bool {
	for _, e := range o {
		if e.eval(get) {
			return true
		}
	}
	return false
}

type andExpr []expr

func (a andExpr) eval(get func(string) attrValue) bool {
	for _, e := range a {
		if !e.eval(get) {
			return false
		}
	}
	return true
}

// cmpExpr is "attr op value".
type cmpExpr struct {
	attr, op string
	value    string    // for strings (folded when the dialect folds)
	t        time.Time // for dates
	date     bool
	null     bool // value null: eq matches an absent attribute
	fold     bool
}

func (c cmpExpr) eval(get func(string) attrValue) bool {
	v := get(c.attr)
	if c.date {
		if v.t.IsZero() {
			return c.null && c.op == "eq"
		}
		switch c.op {
		case "eq":
			return v.t.Equal(c.t)
		case "lt":
			return v.t.Before(c.t)
		case "le":
			return !v.t.After(c.t)
		case "gt":
			return v.t.After(c.t)
		case "ge":
			return !v.t.Before(c.t)
		}
		return false
	}
	if len(v.strs) == 0 {
		return c.null && c.op == "eq"
	}
	for _, s := range v.strs {
		if c.fold {
			s = strings.ToLower(s)
		}
		var ok bool
		switch c.op {
		case "eq":
			ok = s == c.value
		case "sw":
			ok = strings.HasPrefix(s, c.value)
		case "co":
			ok = strings.Contains(s, c.value)
		case "lt":
			ok = s < c.value
		case "le":
			ok = s <= c.value
		case "gt":
			ok = s > c.value
		case "ge":
			ok = s >= c.value
		}
		if ok {
			return true
		}
	}
	return false
}

// errExpr is a search or filter expression the dialect refuses; the
// message names the problem and is sent as the error cause.
type errExpr struct{ msg string }

func (e *errExpr) Error() string { return e.msg }

// errExprDate marks a date value that does not parse (Okta's E0000030).
var errExprDate = errors.New("invalid date")

// parseExpr parses s in dialect d.
func parseExpr(s string, d exprDialect) (expr, error) {
	toks, err := lexExpr(s)
	if err != nil {
		return nil, &errExpr{d.param + ": " + err.Error()}
	}
	p := &exprParser{toks: toks, d: d}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.pos].text)
	}
	return e, nil
}

type exprToken struct {
	text   string
	quoted bool // a string literal
}

// lexExpr splits s into words, parentheses and quoted strings.
func lexExpr(s string) ([]exprToken, error) {
	var toks []exprToken
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, exprToken{text: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, errors.New("unterminated string")
				}
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, exprToken{text: b.String(), quoted: true})
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()\"", rune(s[j])) {
				j++
			}
			toks = append(toks, exprToken{text: s[i:j]})
			i = j
		}
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	return toks, nil
}

type exprParser struct {
	toks []exprToken
	pos  int
	d    exprDialect
}

func (p *exprParser) errorf(format string, args ...any) error {
	return &errExpr{p.d.param + ": " + fmt.Sprintf(format, args...)}
}

// keyword reports whether the next token is the bare word w (operators
// and logical words are case-insensitive, as in Okta).
func (p *exprParser) keyword(w string) bool {
	if p.pos < len(p.toks) && !p.toks[p.pos].quoted && strings.EqualFold(p.toks[p.pos].text, w) {
		p.pos++
		return true
	}
	return false
}

func (p *exprParser) or() (expr, error)  { return joined[orExpr](p, "or", p.and) }
func (p *exprParser) and() (expr, error) { return joined[andExpr](p, "and", p.factor) }

// joined parses one or more terms, each parsed by next, joined by the
// keyword w: a single term is itself, more are a J of them.
func joined[J interface {
	~[]expr
	expr
}](p *exprParser, w string, next func() (expr, error)) (expr, error) {
	var terms J
	for {
		t, err := next()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !p.keyword(w) {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *exprParser) factor() (expr, error) {
	if p.pos >= len(p.toks) {
		return nil, p.errorf("expression ends early")
	}
	if p.keyword("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.keyword(")") {
			return nil, p.errorf("missing )")
		}
		return e, nil
	}
	if p.pos+3 > len(p.toks) {
		return nil, p.errorf("expected attribute, operator and value")
	}
	attr, op, val := p.toks[p.pos], p.toks[p.pos+1], p.toks[p.pos+2]
	p.pos += 3
	if attr.quoted || op.quoted {
		return nil, p.errorf("expected attribute and operator before %q", val.text)
	}
	date, ok := p.d.attr(attr.text)
	if !ok {
		return nil, p.errorf("attribute %q is not supported", attr.text)
	}
	opName := strings.ToLower(op.text)
	switch opName {
	case "eq", "sw", "co", "lt", "le", "gt", "ge":
	default:
		return nil, p.errorf("operator %q is not supported", op.text)
	}
	if !p.d.op(attr.text, opName) {
		return nil, p.errorf("operator %q is not supported for %s", opName, attr.text)
	}
	c := cmpExpr{attr: attr.text, op: opName, date: date, fold: p.d.fold}
	switch {
	case !val.quoted && val.text == "null":
		c.null = true
	case date:
		if !val.quoted {
			return nil, p.errorf("value of %s must be a quoted date", attr.text)
		}
		t, err := time.Parse(time.RFC3339Nano, val.text)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %q", errExprDate, attr.text, val.text)
		}
		c.t = t
	default:
		if !val.quoted && val.text != "true" && val.text != "false" && !isNumber(val.text) {
			return nil, p.errorf("value %q of %s is not a quoted string, number, true, false or null", val.text, attr.text)
		}
		c.value = val.text
		if c.fold {
			c.value = strings.ToLower(c.value)
		}
	}
	return c, nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for i, r := range s {
		switch {
		case r == '-' && i == 0:
		case r == '.' && !dot:
			dot = true
		case r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return s != "-" && s != "."
}
