package boot

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func texts(ls []LogLine) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Text)
	}
	return out
}

func TestLogRingWraps(t *testing.T) {
	r := NewLogRing(3)
	if got := r.Lines(); len(got) != 0 {
		t.Fatalf("empty ring has %v", got)
	}
	for i := 1; i <= 5; i++ {
		r.Add(time.Duration(i)*time.Second, fmt.Sprint("line ", i))
	}
	got := r.Lines()
	if strings.Join(texts(got), ",") != "line 3,line 4,line 5" {
		t.Fatalf("lines = %v", texts(got))
	}
	if got[0].Seq != 3 || got[2].Seq != 5 || got[2].Time != 5*time.Second {
		t.Errorf("seq/time wrong: %+v", got)
	}
}

func TestLogRingFollow(t *testing.T) {
	r := NewLogRing(10)
	r.Add(0, "old")
	ctx, cancel := context.WithCancel(context.Background())
	backlog, ch := r.Follow(ctx)
	if strings.Join(texts(backlog), ",") != "old" {
		t.Fatalf("backlog = %v", texts(backlog))
	}
	r.Add(time.Second, "new")
	select {
	case l := <-ch:
		if l.Text != "new" || l.Seq != 2 {
			t.Errorf("followed %+v", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no line followed")
	}
	cancel()
	for range ch { // closed once the context ends
	}
	r.Add(2*time.Second, "after") // must not block or panic
}

func TestLogRingSlowFollowerDoesNotBlock(t *testing.T) {
	r := NewLogRing(10)
	_, _ = r.Follow(context.Background())
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10000; i++ {
			r.Add(0, "x")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a follower that never reads blocked the log")
	}
}

func TestStamp(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                      "[    0.000000]",
		3123456 * time.Microsecond:             "[    3.123456]",
		12345*time.Second + 7*time.Microsecond: "[12345.000007]",
	} {
		if got := stamp(d); got != want {
			t.Errorf("stamp(%v) = %q, want %q", d, got, want)
		}
	}
}

// withConsole captures console output for a test.
func withConsole(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	console.mu.Lock()
	old := console.out
	console.out = &buf
	console.mu.Unlock()
	t.Cleanup(func() {
		console.mu.Lock()
		console.out = old
		console.mu.Unlock()
	})
	return &buf
}

func TestLogfFormat(t *testing.T) {
	buf := withConsole(t)
	Logf("two\nlines\n")
	Logger("netcfg").Printf("uplink %s", "eno1")
	line := regexp.MustCompile(`^\[ *\d+\.\d{6}\] nucbox: (.*)$`)
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("console line %q is not timestamped like the kernel's", l)
		}
		got = append(got, m[1])
	}
	if strings.Join(got, "|") != "two|lines|netcfg: uplink eno1" {
		t.Errorf("got %q", got)
	}
	all := Log.Lines()
	if last := all[len(all)-1]; last.Text != "nucbox: netcfg: uplink eno1" {
		t.Errorf("ring has %q", last.Text)
	}
}

func TestParseKmsg(t *testing.T) {
	ts, text, ok := parseKmsg([]byte("7,1234,2596123,-;nucbox: kernel clock sync\n"))
	if !ok || ts != 2596123*time.Microsecond || text != "nucbox: kernel clock sync" {
		t.Errorf("got %v %q %v", ts, text, ok)
	}
	// Newer kernels append fields before ';', and continuation lines.
	ts, text, ok = parseKmsg([]byte("6,339,5140900,-,caller=T1;usb 1-1: new device\n SUBSYSTEM=usb\n"))
	if !ok || ts != 5140900*time.Microsecond || text != "usb 1-1: new device" {
		t.Errorf("got %v %q %v", ts, text, ok)
	}
	for _, bad := range []string{"", "no semicolon", "6,1;x", "6,1,notnum,-;x"} {
		if _, _, ok := parseKmsg([]byte(bad)); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}
