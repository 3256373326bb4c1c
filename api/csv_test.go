package api

import "testing"

func TestAppendCSVCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"KAZTELECOM-AS", "KAZTELECOM-AS"},
		{"", ""},
		{`=HYPERLINK("http://x","y")`, `"'=HYPERLINK(""http://x"",""y"")"`},
		{"+cmd", `"'+cmd"`},
		{"-cmd", `"'-cmd"`},
		{"@SUM(A1)", `"'@SUM(A1)"`},
		{"\tx", "\"'\tx\""},
		{"\rx", "\"'\rx\""},
		{"-", `"'-"`},
		{"-1+2", `"'-1+2"`},
		{"-1e", `"'-1e"`},
		// The server's numbers stay numbers.
		{"-3", "-3"},
		{"-0.25", "-0.25"},
		{"1e-05", "1e-05"},
		{"+7", "+7"},
		// Plain RFC 4180 quoting.
		{"a,b", `"a,b"`},
		{`say "hi"`, `"say ""hi"""`},
		{"two\nlines", "\"two\nlines\""},
		{" lead", `" lead"`},
	} {
		if got := string(appendCSVCell(nil, tc.in)); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := string(appendCSVRow(nil, []string{"1", "", "=x"})); got != "1,,\"'=x\"\n" {
		t.Errorf("row: %q", got)
	}
}
