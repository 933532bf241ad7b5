package vmm

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

func TestRingFollow(t *testing.T) {
	r := NewRing(8)
	r.Write([]byte("abc"))
	backlog, more, cancel := r.Follow()
	if string(backlog) != "abc" {
		t.Fatalf("backlog %q", backlog)
	}
	r.Write([]byte("defghij"))
	select {
	case b := <-more:
		if string(b) != "defghij" {
			t.Errorf("followed %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no write reached the follower")
	}
	cancel()
	cancel()
	if _, ok := <-more; ok {
		t.Error("the channel is open after cancel")
	}
	r.Write([]byte("k")) // no follower left: must not block or panic
}

func TestRingFollowerTooSlowIsDropped(t *testing.T) {
	r := NewRing(8)
	_, more, cancel := r.Follow()
	defer cancel()
	for i := 0; i < followBuffer+1; i++ {
		r.Write([]byte("x"))
	}
	n := 0
	for range more {
		n++
	}
	if n != followBuffer {
		t.Errorf("received %d writes before the end, want %d", n, followBuffer)
	}
}

func TestConsoleNotRunning(t *testing.T) {
	g := NewGuest(vm1(func(s *Spec) { s.Name = "idle" }), Options{})
	if _, err := g.OpenConsole(); err != ErrNotRunning {
		t.Errorf("OpenConsole on a guest never started: %v", err)
	}
	if _, err := g.WriteConsole([]byte("x")); err != ErrNotRunning {
		t.Errorf("WriteConsole on a guest never started: %v", err)
	}
}

// consoleInit is an init that answers every line typed on the serial
// console with the line in capitals.
const consoleInit = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
echo NUCBOX-CONSOLE-READY
while read -r line; do echo "got: $line" | tr a-z A-Z; done
`

// TestHostConsole types into a real guest's serial console through a
// Console and reads the guest's answer, while the serial log goes on
// being captured.
func TestHostConsole(t *testing.T) {
	hostTier(t, false)
	s := tinySpec(t, "")
	s.Initrd = buildConsoleInitramfs(t, t.TempDir())
	// The init ignores the power button: quit after a short wait.
	s.ShutdownTimeout = time.Second
	g := startGuest(t, s, Options{})
	waitSerial(t, g, "NUCBOX-CONSOLE-READY")

	c, err := g.OpenConsole()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan []byte, 64)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				got <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	if _, err := c.Write([]byte("hello nucbox\r")); err != nil {
		t.Fatal(err)
	}
	var seen []byte
	deadline := time.After(60 * time.Second)
	for !bytes.Contains(seen, []byte("GOT: HELLO NUCBOX")) {
		select {
		case b, ok := <-got:
			if !ok {
				t.Fatalf("the console ended; it showed:\n%s", seen)
			}
			seen = append(seen, b...)
		case <-deadline:
			t.Fatalf("no answer on the console after 60s; it showed:\n%s", seen)
		}
	}
	if !bytes.Contains(seen, []byte("hello nucbox")) {
		t.Errorf("the guest's echo of the typed line is missing:\n%s", seen)
	}
	if !bytes.Contains(g.Serial(), []byte("GOT: HELLO NUCBOX")) {
		t.Errorf("the answer is not in the serial ring:\n%s", g.Serial())
	}
	waitFor(t, 10*time.Second, "the answer in serial.log", func() bool {
		b, _ := os.ReadFile(s.Paths().Serial)
		return bytes.Contains(b, []byte("GOT: HELLO NUCBOX"))
	})

	// Closing the session leaves the guest running; stopping the guest
	// ends a session still open.
	c2, err := g.OpenConsole()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if st := g.Status(); st.State != StateRunning {
		t.Errorf("after closing a console the guest is %s", st.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.Stop(ctx)
	if _, err := io.ReadAll(c2); err != nil {
		t.Errorf("reading a console after the stop: %v", err)
	}
	if _, err := c2.Write([]byte("x")); err == nil {
		t.Error("typing into a stopped guest did not fail")
	}
}

func buildConsoleInitramfs(t *testing.T, dir string) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	recs := []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("proc", 0o755),
		cpio.StaticFile("bin/busybox", string(bb), 0o755),
		cpio.StaticFile("init", consoleInit, 0o755),
	}
	return writeInitramfs(t, filepath.Join(dir, "console.cpio"), recs)
}
