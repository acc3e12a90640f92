package hooks

import "testing"

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"  Mina  ", "Mina"},
		{"Mina\t\n Kim", "Mina Kim"},
		{"evil\u202Egnp.exe", "evilgnp.exe"},
		{"a\u2066b\u2069c\u200Fd\u061Ce", "abcde"},
		{"bell\x07\x00name", "bellname"},
		{"\u1100\u1161", "\uAC00"}, // Hangul jamo compose to 가 (NFC)
		{"👩\u200D💻 dev", "👩\u200D💻 dev"},
		{"\u00A0\u3000", ""},
	}
	for _, tt := range tests {
		if got := normalizeName(tt.in); got != tt.want {
			t.Errorf("normalizeName(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
