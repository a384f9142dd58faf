package verify

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// Expect is the parsed form of a check's `expect:` field: what the single
// value returned by the check's query must look like for the check to pass.
// The zero Expect is invalid; build one with ParseExpect.
type Expect struct {
	kind expectKind
	op   string   // comparison operator, for kindCompare
	num  *big.Rat // right-hand side, for kindCompare
	lit  string   // the number as written, so String round-trips
}

type expectKind int

const (
	kindInvalid expectKind = iota
	kindTrue
	kindFalse
	kindNonEmpty
	kindCompare
)

const expectForms = "want true, false, non-empty, or one of = != > >= < <= followed by a number"

// Operators longest first, so ">=" is not read as ">" followed by "=1".
var expectOps = []string{">=", "<=", "!=", ">", "<", "="}

// expectNumber is the literal a comparison accepts: an integer or a decimal,
// optionally negative. big.Rat.SetString alone would also take "1/3", "0x10"
// and exponents, which are not part of the config language.
var expectNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// observedNumber is what a numeric column's text form may look like: numeric
// and integer types print plain decimals, float types may use an exponent.
// The exponent is bounded so a hostile value cannot make big.Rat allocate
// an enormous integer.
var observedNumber = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?$`)

// ParseExpect parses one of: true, false, non-empty, "= N", "!= N", "> N",
// ">= N", "< N", "<= N", where N is an integer or decimal that may be
// negative. Whitespace around the operator is optional (">=1" is fine).
func ParseExpect(s string) (Expect, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "":
		return Expect{}, errors.New("required: " + expectForms)
	case "true":
		return Expect{kind: kindTrue}, nil
	case "false":
		return Expect{kind: kindFalse}, nil
	case "non-empty":
		return Expect{kind: kindNonEmpty}, nil
	}
	for _, op := range expectOps {
		rest, ok := strings.CutPrefix(t, op)
		if !ok {
			continue
		}
		lit := strings.TrimSpace(rest)
		if lit == "" {
			return Expect{}, fmt.Errorf("expect form %q: want a number after %q", t, op)
		}
		if !expectNumber.MatchString(lit) {
			return Expect{}, fmt.Errorf("expect form %q: %q is not a number (want an integer or decimal such as 10, -3 or 0.5)", t, lit)
		}
		num, ok := new(big.Rat).SetString(lit)
		if !ok {
			return Expect{}, fmt.Errorf("expect form %q: %q is not a number", t, lit)
		}
		return Expect{kind: kindCompare, op: op, num: num, lit: lit}, nil
	}
	return Expect{}, fmt.Errorf("unknown expect form %q: %s", t, expectForms)
}

// String returns the canonical form, e.g. "true", "non-empty" or ">= 1".
func (e Expect) String() string {
	switch e.kind {
	case kindTrue:
		return "true"
	case kindFalse:
		return "false"
	case kindNonEmpty:
		return "non-empty"
	case kindCompare:
		return e.op + " " + e.lit
	}
	return ""
}

// Eval reports whether observed, the text form of the single value the check
// query returned, satisfies e. isNull marks a SQL NULL, which fails every form.
// Booleans are expected as "true"/"false" (Postgres' "t"/"f" are accepted
// too) and numbers as decimal text. A value of the wrong type for the form
// returns false and an error that says why.
func (e Expect) Eval(observed string, isNull bool) (bool, error) {
	if e.kind == kindInvalid {
		return false, errors.New("expect: not parsed (use ParseExpect)")
	}
	if isNull {
		return false, nil
	}
	switch e.kind {
	case kindNonEmpty:
		return observed != "", nil
	case kindTrue, kindFalse:
		b, ok := parseBool(observed)
		if !ok {
			return false, fmt.Errorf("expect %s: observed %s is not a boolean", e, quoteShort(observed))
		}
		return b == (e.kind == kindTrue), nil
	}

	cmp, err := compareObserved(observed, e.num)
	if err != nil {
		return false, fmt.Errorf("expect %s: %w", e, err)
	}
	switch e.op {
	case "=":
		return cmp == 0, nil
	case "!=":
		return cmp != 0, nil
	case ">":
		return cmp > 0, nil
	case ">=":
		return cmp >= 0, nil
	case "<":
		return cmp < 0, nil
	case "<=":
		return cmp <= 0, nil
	}
	return false, fmt.Errorf("expect: unknown operator %q", e.op)
}

func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t":
		return true, true
	case "false", "f":
		return false, true
	}
	return false, false
}

// compareObserved compares the observed text with n, returning -1, 0 or +1.
// Postgres' numeric and float types may print Infinity and -Infinity, which
// order beyond every finite number; NaN compares with nothing.
func compareObserved(observed string, n *big.Rat) (int, error) {
	s := strings.TrimSpace(observed)
	switch strings.ToLower(s) {
	case "infinity", "+infinity", "inf", "+inf":
		return 1, nil
	case "-infinity", "-inf":
		return -1, nil
	case "nan":
		return 0, errors.New("observed NaN cannot be compared with a number")
	}
	if !observedNumber.MatchString(s) {
		return 0, fmt.Errorf("observed %s is not a number", quoteShort(observed))
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("observed %s is not a number", quoteShort(observed))
	}
	return v.Cmp(n), nil
}

// quoteShort quotes s for an error message, cutting long values so a check
// that returns a whole document does not flood the run log.
func quoteShort(s string) string {
	const limit = 64
	if r := []rune(s); len(r) > limit {
		return fmt.Sprintf("%q…", string(r[:limit]))
	}
	return fmt.Sprintf("%q", s)
}
