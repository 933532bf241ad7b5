package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/test/harness"
	"github.com/nucbox/nucbox/test/syncbuf"
)

const rfbBanner = "RFB 003.008\n"

// checkScreen checks that a running VM's screen is reachable only
// through the API: from the host, the API's WebSocket and nucbox vnc
// both carry QEMU's RFB banner (the positive control), the WebSocket
// refuses a caller without the token, and on the box nothing listens on
// a TCP port of VNC's range (5900-5999), while the API's 8443 is seen
// listening by the same read.
func checkScreen(t *testing.T, m *harness.Machine, bin string, remote []string, vm string) {
	t.Helper()
	host := "https://" + m.HostAddr(8443)
	cl, err := api.NewClient(api.ClientOptions{Host: host, Token: apiToken, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cl.VNC(ctx, vm)
	if err != nil {
		t.Fatalf("the screen of %s through the API: %v", vm, err)
	}
	readBanner(t, "the API's WebSocket", c)
	c.Close()

	anon, err := api.NewClient(api.ClientOptions{Host: host, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = anon.VNC(ctx, vm)
	var he *api.HTTPError
	if !errors.As(err, &he) || he.Code != 401 {
		t.Errorf("the screen without a token: %v, want 401", err)
	}

	// nucbox vnc: a local port a viewer connects to.
	cmd := exec.Command(bin, append([]string{"vnc", vm, "--listen", "127.0.0.1:0"}, remote...)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addr := regexp.MustCompile(`is at (127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for addr.FindStringSubmatch(out.String()) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("nucbox vnc printed no address:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	v, err := net.DialTimeout("tcp", addr.FindStringSubmatch(out.String())[1], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	readBanner(t, "nucbox vnc's port", v)
	v.Close()

	// The page's screen viewer, in the image when build/web was there.
	resp, err := apiClient().Get(host + "/static/vendor/novnc/core/rfb.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	switch {
	case harness.WebAssets() == "" && ci.Enforced():
		t.Errorf("build/web is missing: the test targets run make web-assets first")
	case harness.WebAssets() == "":
		t.Logf("no build/web (make web-assets): the image has no viewers for the page")
	case resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript"):
		t.Errorf("noVNC from the box: %d %q, want 200 text/javascript", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// What listens on TCP on the box, IPv4 and IPv6 (state 0A is LISTEN).
	ls := shellValue(t, m, `cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == "0A" { split($2, a, ":"); print a[2] }' | sort -u | tr '\n' ' '`)
	var ports []int
	for _, h := range strings.Fields(ls) {
		p, err := strconv.ParseUint(h, 16, 16)
		if err != nil {
			t.Fatalf("listening ports %q: %v", ls, err)
		}
		ports = append(ports, int(p))
	}
	t.Logf("TCP ports listening on the box: %v", ports)
	api8443 := false
	for _, p := range ports {
		if p == 8443 {
			api8443 = true
		}
		if p >= 5900 && p <= 5999 {
			t.Errorf("TCP port %d listens on the box: VNC must be on a unix socket only", p)
		}
	}
	if !api8443 {
		t.Errorf("the API's port 8443 is not among the listening ports %v: the check above proves nothing", ports)
	}
}

func readBanner(t *testing.T, via string, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, len(rfbBanner))
	if _, err := io.ReadFull(c, b); err != nil || string(b) != rfbBanner {
		t.Fatalf("%s: banner %q, %v; want QEMU's %q", via, b, err, rfbBanner)
	}
	t.Logf("%s: %q", via, b)
}

// labVNCChecks is what ct10, on VLAN 10 with the box at 10.0.10.1, prints
// last: whether it pings the box (the positive control) and how nc ends
// on the box's port 5901, where QEMU's VNC for display 1 used to listen
// on every address (1: refused or filtered).
const labVNCChecks = `if ping -c 1 -W 1 10.0.10.1 >/dev/null 2>&1; then echo LAB-CT10-BOX-PING-OK; else echo LAB-CT10-BOX-PING-FAILED; fi; ` +
	`timeout 4 nc -w 2 10.0.10.1 5901 </dev/null; echo LAB-CT10-VNC=$?; `

func checkLabVNCFromVLAN(t *testing.T, m *harness.Machine) {
	t.Helper()
	out := waitLog(t, m, 2*time.Minute, guestState+"/containers/ct10.log", "LAB-CT10-VNC=", "LAB-CT10-")
	if !strings.Contains(out, "LAB-CT10-BOX-PING-OK") {
		t.Errorf("ct10 on VLAN 10 does not ping the box at 10.0.10.1: the VNC check proves nothing: %q", out)
	}
	if !strings.Contains(out, "LAB-CT10-VNC=1") {
		t.Errorf("ct10 on VLAN 10 connecting to the box's 10.0.10.1:5901: %q, want exit 1 (nothing to reach)", out)
	}
}
