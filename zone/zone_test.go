package zone

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		label string
		ok    bool
	}{
		{"", true},
		{"rack1", true},
		{"dc1/row4/rack12", true},
		{"eu-west-1:a/r_2/rack.3", true},
		{"a/b/c/d", true},
		{"a/b/c/d/e", false}, // five levels
		{"/rack1", false},
		{"rack1/", false},
		{"dc1//rack1", false},
		{"dc1/rack 1", false},
		{"dc1/rack\x1b[2J", false},
		{"dc1/räck", false},
		{strings.Repeat("a", MaxLen), true},
		{strings.Repeat("a", MaxLen+1), false},
	} {
		err := Check(tc.label)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.label, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) = %v, not ErrInvalid", tc.label, err)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\x1b\n") {
			t.Errorf("Check(%q) error %q carries control characters", tc.label, err)
		}
	}
}

func TestCommonAndLevels(t *testing.T) {
	for _, tc := range []struct {
		a, b   string
		common int
	}{
		{"", "", 0},
		{"dc1", "", 0},
		{"dc1", "dc1", 1},
		{"dc1", "dc2", 0},
		{"dc1/row4/rack12", "dc1/row4/rack12", 3},
		{"dc1/row4/rack12", "dc1/row4/rack13", 2},
		{"dc1/row4/rack12", "dc1/row5/rack12", 1},
		{"dc1/row4/rack12", "dc2/row4/rack12", 0},
		{"dc1/row4", "dc1/row4/rack12", 2},
		{"dc1/row", "dc1/row4", 1}, // segments, not string prefixes
	} {
		if got := Common(tc.a, tc.b); got != tc.common {
			t.Errorf("Common(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.common)
		}
		if got := Common(tc.b, tc.a); got != tc.common {
			t.Errorf("Common(%q, %q) = %d, want %d (not symmetric)", tc.b, tc.a, got, tc.common)
		}
	}
	for label, want := range map[string]int{"": 0, "a": 1, "a/b": 2, "a/b/c/d": 4} {
		if got := Levels(label); got != want {
			t.Errorf("Levels(%q) = %d, want %d", label, got, want)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "dc1/row4/rack12", "a//b", "/", strings.Repeat("a/", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, label string) {
		if err := Check(label); err != nil {
			return
		}
		if len(label) > MaxLen || Levels(label) > MaxLevels {
			t.Fatalf("Check accepted %q: %d bytes, %d levels", label, len(label), Levels(label))
		}
		if label != "" && Common(label, label) != Levels(label) {
			t.Fatalf("Common(%q, itself) = %d, want %d", label, Common(label, label), Levels(label))
		}
	})
}
