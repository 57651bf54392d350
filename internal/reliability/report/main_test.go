package main

import (
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
)

func TestMet(t *testing.T) {
	for _, tc := range []struct {
		want  string
		value int64
		met   bool
	}{
		{"", 5, true}, {"= 0", 0, true}, {"= 0", 1, false}, {">= 20", 20, true}, {">= 20", 19, false},
		{"<= 2", 2, true}, {"<= 2", 3, false}, {"~ 2", 2, false}, {"= x", 0, false},
	} {
		if got := met(reliability.Figure{Value: tc.value, Want: tc.want}); got != tc.met {
			t.Errorf("met(%d %q) = %v, want %v", tc.value, tc.want, got, tc.met)
		}
	}
}

func TestRender(t *testing.T) {
	in := `{"test":"TestA","area":"faults","tried":"a fleet through faults","mode":"long","seconds":12,"passed":true,"figures":[{"name":"duplicates","value":0,"want":"= 0"},{"name":"requests","value":900}],"recorded":"2026-01-02T03:04:05Z"}
{"test":"TestB","area":"crashes","tried":"kills","mode":"long","seconds":100,"passed":true,"figures":[{"name":"kills","value":3,"want":">= 20"}],"recorded":"2026-01-02T03:04:06Z"}
{"test":"TestA","area":"faults","tried":"a fleet through faults","mode":"long","seconds":13,"passed":true,"figures":[{"name":"duplicates","value":0,"want":"= 0"},{"name":"requests","value":901}],"recorded":"2026-01-02T03:04:07Z"}
`
	reports, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 {
		t.Fatalf("%d reports, want 2 (a test reported twice keeps its last)", len(reports))
	}
	md := render(reports)
	for _, want := range []string{
		"1 of 2 tests passed", "| Faults on the network | `TestA` | passed | duplicates: 0 |",
		"| requests | 901 | (reported) |", "| kills | 3 | >= 20 **not met** |", "**passed, a figure not met**", "1.7 min",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}
