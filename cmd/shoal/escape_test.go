package main

import (
	"bytes"
	"log/slog"
	"testing"
)

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"build-42.tar", "build-42.tar"},
		{"héllo wörld", "héllo wörld"},
		{"a\x1b[31mred\x1b[0m", `a\x1b[31mred\x1b[0m`},
		{"title\x1b]0;pwned\x07", `title\x1b]0;pwned\x07`},
		{"line\nbreak\r", `line\x0abreak\x0d`},
		{"evil\u202egnp.exe", `evil\u202egnp.exe`},
		{"c1\u009bx", `c1\x9bx`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"tab\tok", "tab\tok"},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLogsEscapeNames: the commands log through slog's text handler (see
// newLogger), which quotes a value holding control characters; a name
// logged by the client cannot reach the terminal raw either.
func TestLogsEscapeNames(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	log.With("torrent", "x\x1b]0;pwned\x07").Warn("truncated", "file", "a\x1b[2Jb", "files", []string{"c\x1bd"})
	if bytes.ContainsAny(buf.Bytes(), "\x1b\x07") {
		t.Fatalf("log line holds raw control characters: %q", buf.String())
	}
}
