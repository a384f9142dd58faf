package verify

import (
	"strings"
	"testing"
)

func TestParseExpect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string // canonical String(); "" when an error is expected
		wantErr string // substring of the error
	}{
		{in: "true", want: "true"},
		{in: " TRUE ", want: "true"},
		{in: "false", want: "false"},
		{in: "non-empty", want: "non-empty"},
		{in: "= 3", want: "= 3"},
		{in: "=3", want: "= 3"},
		{in: ">=1", want: ">= 1"},
		{in: ">= 1", want: ">= 1"},
		{in: "  <=   -2.5 ", want: "<= -2.5"},
		{in: "> 0", want: "> 0"},
		{in: "< 100000000000000000000000", want: "< 100000000000000000000000"},
		{in: "!= 7", want: "!= 7"},
		{in: "", wantErr: "required: want true, false, non-empty"},
		{in: "~ 3", wantErr: `unknown expect form "~ 3": want true, false, non-empty, or one of = != > >= < <= followed by a number`},
		{in: "yes", wantErr: `unknown expect form "yes"`},
		{in: ">=", wantErr: `want a number after ">="`},
		{in: ">= abc", wantErr: `"abc" is not a number`},
		{in: "== 3", wantErr: `"= 3" is not a number`},
		{in: "> 1/3", wantErr: `"1/3" is not a number`},
		{in: "> 0x10", wantErr: `"0x10" is not a number`},
		{in: "> 1e3", wantErr: `"1e3" is not a number`},
		{in: "> 1.", wantErr: `"1." is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			e, err := ParseExpect(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseExpect(%q) = %v, want error containing %q", tt.in, e, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseExpect(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExpect(%q): %v", tt.in, err)
			}
			if got := e.String(); got != tt.want {
				t.Fatalf("ParseExpect(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			// The canonical form parses back to itself.
			again, err := ParseExpect(e.String())
			if err != nil || again.String() != tt.want {
				t.Fatalf("ParseExpect(%q) = %v, %v; want %q", e.String(), again, err, tt.want)
			}
		})
	}
}

func TestExpectEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expect   string
		observed string
		isNull   bool
		want     bool
		wantErr  string
	}{
		{expect: "true", observed: "true", want: true},
		{expect: "true", observed: "t", want: true},
		{expect: "true", observed: "false", want: false},
		{expect: "true", observed: "", isNull: true, want: false},
		{expect: "true", observed: "1", wantErr: `observed "1" is not a boolean`},
		{expect: "false", observed: "false", want: true},
		{expect: "false", observed: "f", want: true},
		{expect: "false", observed: "true", want: false},
		{expect: "false", observed: "", isNull: true, want: false},

		{expect: "non-empty", observed: "x", want: true},
		{expect: "non-empty", observed: " ", want: true},
		{expect: "non-empty", observed: "", want: false},
		{expect: "non-empty", observed: "", isNull: true, want: false},

		{expect: "= 3", observed: "3", want: true},
		{expect: "= 3", observed: "3.0", want: true},
		{expect: "= 3", observed: "4", want: false},
		{expect: "= 0.1", observed: "0.1", want: true},
		{expect: "= 0.3", observed: "0.30000000000000004", want: false},
		{expect: "!= 3", observed: "4", want: true},
		{expect: "!= 3", observed: "3", want: false},
		{expect: ">= 1", observed: "1", want: true},
		{expect: ">= 1", observed: "0", want: false},
		{expect: "> 1", observed: "1", want: false},
		{expect: "> 1", observed: "2", want: true},
		{expect: "< -2.5", observed: "-3", want: true},
		{expect: "< -2.5", observed: "-2.5", want: false},
		{expect: "<= -2.5", observed: "-2.5", want: true},
		{expect: "<= -2.5", observed: "-2.4", want: false},
		// Counts beyond float64's exact range still compare exactly.
		{expect: "> 9007199254740992", observed: "9007199254740993", want: true},
		{expect: "= 9007199254740993", observed: "9007199254740992", want: false},
		{expect: "> 1000", observed: "1.5e3", want: true},
		{expect: "> 1000", observed: "Infinity", want: true},
		{expect: "> 1000", observed: "-Infinity", want: false},
		{expect: "> 1000", observed: "NaN", wantErr: "NaN cannot be compared"},
		{expect: ">= 1", observed: "", isNull: true, want: false},
		{expect: ">= 1", observed: "", wantErr: `observed "" is not a number`},
		{expect: ">= 1", observed: "many", wantErr: `expect >= 1: observed "many" is not a number`},
		{expect: ">= 1", observed: "0x10", wantErr: "not a number"},
		{expect: ">= 1", observed: "1/2", wantErr: "not a number"},
		{expect: ">= 1", observed: "1e99999", wantErr: "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.expect+"/"+tt.observed, func(t *testing.T) {
			t.Parallel()
			e, err := ParseExpect(tt.expect)
			if err != nil {
				t.Fatalf("ParseExpect(%q): %v", tt.expect, err)
			}
			got, err := e.Eval(tt.observed, tt.isNull)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Eval(%q) = %v, nil; want error containing %q", tt.observed, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Eval(%q) error = %q, want it to contain %q", tt.observed, err, tt.wantErr)
				}
				if got {
					t.Fatalf("Eval(%q) passed alongside an error", tt.observed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.observed, err)
			}
			if got != tt.want {
				t.Fatalf("%s .Eval(%q, null=%v) = %v, want %v", e, tt.observed, tt.isNull, got, tt.want)
			}
		})
	}
}

func TestExpectZeroValue(t *testing.T) {
	t.Parallel()
	var e Expect
	ok, err := e.Eval("true", false)
	if err == nil || ok {
		t.Fatalf("zero Expect.Eval = %v, %v; want false and an error", ok, err)
	}
}

func TestExpectErrorTruncatesLongObserved(t *testing.T) {
	t.Parallel()
	e, err := ParseExpect("> 1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Eval(strings.Repeat("x", 10_000), false)
	if err == nil {
		t.Fatal("Eval of non-numeric text returned no error")
	}
	if len(err.Error()) > 200 {
		t.Fatalf("error is %d bytes long, want the observed value cut short", len(err.Error()))
	}
}
