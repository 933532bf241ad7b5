package vmm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"partial", 8, []string{"abc"}, "abc"},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd"},
		{"wrap", 4, []string{"abc", "def"}, "cdef"},
		{"wrap twice", 4, []string{"ab", "cd", "ef", "gh", "i"}, "fghi"},
		{"one big write", 4, []string{"0123456789"}, "6789"},
		{"big after small", 4, []string{"x", "0123456789"}, "6789"},
		{"fill then wrap", 6, []string{"ab", "cd", "efg", "h"}, "cdefgh"},
		{"fill to one short then wrap", 6, []string{"abcde", "fg"}, "bcdefg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(tc.size)
			for _, w := range tc.writes {
				if n, err := r.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := string(r.Bytes()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A ring holds what was written, not its size: a quiet guest costs
// PID 1 a few bytes. The positive control is a ring written past its
// size, which holds all of it.
func TestRingGrowsWithWrites(t *testing.T) {
	quiet, loud := NewRing(64<<10), NewRing(64<<10)
	quiet.Write([]byte("booting\n"))
	loud.Write(bytes.Repeat([]byte("x"), 100<<10))
	if c := cap(quiet.buf); c > 1<<10 {
		t.Errorf("a ring of 64 KiB holding 8 bytes has %d bytes allocated", c)
	}
	if c := len(loud.buf); c != 64<<10 {
		t.Errorf("a ring of 64 KiB written 100 KiB holds %d bytes", c)
	}
}

func TestLogRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serial.log")
	l, err := openLog(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"12345", "67890", "abc"} {
		if _, err := l.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if string(cur) != "abc" || string(old) != "1234567890" {
		t.Errorf("serial.log %q, serial.log.1 %q", cur, old)
	}
	// Reopening appends and counts what is already there.
	l, err = openLog(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("defghijk"))
	l.Close()
	cur, _ = os.ReadFile(path)
	if string(cur) != "defghijk" {
		t.Errorf("after reopen: %q", cur)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestCopySerialSurvivesLogFailure(t *testing.T) {
	ring := NewRing(1 << 10)
	copySerial(strings.NewReader("boot ok\n"), failWriter{}, ring)
	if got := ring.Bytes(); !bytes.Contains(got, []byte("boot ok")) || !bytes.Contains(got, []byte("serial log write failed")) {
		t.Errorf("ring: %q", got)
	}
}

// Whatever the writes, the ring holds the last size bytes of them.
func TestRingKeepsTheLastBytes(t *testing.T) {
	for size := 1; size < 20; size++ {
		r := NewRing(size)
		var all []byte
		for i := range 60 {
			w := bytes.Repeat([]byte{byte('a' + i%26)}, (i*7+size)%(2*size+1))
			r.Write(w)
			all = append(all, w...)
			want := all[max(0, len(all)-size):]
			if got := r.Bytes(); !bytes.Equal(got, want) {
				t.Fatalf("size %d after %d writes: %q, want %q", size, i+1, got, want)
			}
		}
	}
}
