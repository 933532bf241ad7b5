package main

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
)

// vncBox is ctlBox whose VM ubuntu1 has a screen: a fake RFB server on a
// unix socket that sends QEMU's banner, takes the viewer's version and
// then echoes.
type vncBox struct {
	*ctlBox
	sock string
}

func (b *vncBox) OpenVNC(name string) (io.ReadWriteCloser, error) {
	if name != "ubuntu1" {
		return nil, api.ErrNoWorkload
	}
	return net.Dial("unix", b.sock)
}

func fakeScreen(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vnc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "RFB 003.008\n")
				io.Copy(c, c)
			}()
		}
	}()
	return sock
}

// TestVNCForward: nucbox vnc prints a local address; a viewer there gets
// the VM's screen through the API's WebSocket, with the CLI's token.
func TestVNCForward(t *testing.T) {
	box := &vncBox{ctlBox: newCtlBox(), sock: fakeScreen(t)}
	ts := serveBox(t, box)
	fp := api.Fingerprint(ts.Certificate().Raw)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr, done := runAsync(ctx, strings.NewReader(""), "vnc", "ubuntu1", "--listen", "127.0.0.1:0",
		"--host", ts.URL, "--token", cliToken, "--fingerprint", fp)
	waitText(t, "the output", stdout, "point a VNC viewer at it")
	m := regexp.MustCompile(`is at (127\.0\.0\.1:\d+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no address in %q", stdout.String())
	}
	for i := range 2 { // one after the other: each viewer gets its own connection
		c, err := net.Dial("tcp", m[1])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 12)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "RFB 003.008\n" {
			t.Fatalf("viewer %d: banner %q, %v\n%s", i, b, err, stderr.String())
		}
		io.WriteString(c, "RFB 003.008\n")
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "RFB 003.008\n" {
			t.Fatalf("viewer %d: echo %q, %v", i, b, err)
		}
		c.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("vnc ended with %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("vnc did not end after its context did")
	}
}

func TestVNCRefused(t *testing.T) {
	box := &vncBox{ctlBox: newCtlBox(), sock: fakeScreen(t)}
	ts := serveBox(t, box)
	t.Setenv("NUCBOX_TOKEN", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vnc", "ubuntu1", "--host", ts.URL, "--insecure"}, "401 Unauthorized"},
		{[]string{"vnc", "ubuntu1", "--host", ts.URL, "--token", "wrong-token-0123456789", "--insecure"}, "401 Unauthorized"},
		{[]string{"vnc", "nosuch", "--host", ts.URL, "--token", cliToken, "--insecure"}, `no VM named "nosuch"`},
	} {
		_, stderr, code := run(tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 1 with %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
}
