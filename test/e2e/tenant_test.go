package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/containers/imagetest"
	"github.com/nucbox/nucbox/test/harness"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// rotatedToken replaces apiToken in TestTenantsAndLiveAPI's last apply.
const rotatedToken = "e2e-rotated-token-0123456789abcdef"

// tenantScript is the hostile tenant on VLAN 10: it pings the box's
// VLAN 10 address, tries the API there, then waits for the test's go
// (a file the box's shell writes into its root) and sends a datagram to
// the lab's gateway with its own source, two with forged sources (a
// foreign address and a lab address), its own again, and an IPv6 router
// advert onto VLAN 10. One line of YAML string: no double quotes.
const tenantScript = `n=0; until ping -c 1 -W 1 10.0.10.1 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 30 ]; then break; fi; done; echo T10-PING=$n; ` +
	`timeout 4 nc -w 2 10.0.10.1 8443 </dev/null; echo T10-API=$?; ` +
	`until [ -e /tmp/go ]; do sleep 1; done; ` +
	`rawsend udp 10.0.10.5 10.0.2.2 9 NUCBOX-REAL-1; rawsend udp 192.0.2.66 10.0.2.2 9 NUCBOX-SPOOF-1; ` +
	`rawsend udp 10.0.2.99 10.0.2.2 9 NUCBOX-SPOOF-2; rawsend udp 10.0.10.5 10.0.2.2 9 NUCBOX-REAL-2; ` +
	`rawsend ra eth0 2001:db8:66::; echo T10-DONE; exec sleep 100000`

// vlan20Script is a tenant on VLAN 20, which api.vlans opens the API to.
const vlan20Script = `n=0; until ping -c 1 -W 1 10.0.20.1 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 30 ]; then break; fi; done; echo T20-PING=$n; ` +
	`timeout 4 nc -w 2 10.0.20.1 8443 </dev/null; echo T20-API=$?; exec sleep 100000`

// tenantConfig has a NAT segment on VLAN 10 with the hostile tenant and
// a neighbour, VLAN 20 with the API opened to it, and the API forwarded
// to the host. late adds a VM and a container (applied under the
// connection flood).
func tenantConfig(token string, late bool) string {
	c := `hostname: tenantbox
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, nat: true}
    - {vlan: 20, address: 10.0.20.1/24}
api:
  listen: ":8443"
  token: ` + token + `
  vlans: [20]
containers:
  - name: t10
    image: oci-layout:images/tools
    command: [sh, -c, "` + tenantScript + `"]
    # The port's own guards are off: this tenant tests the box's
    # defences behind them (forward filter, ignored adverts).
    nics: [{vlan: 10, ipv4: {address: 10.0.10.5/24, gateway: 10.0.10.1}, policy: {spoof-guard: false, ra-guard: false}}]
    restart: never
    stop-timeout: 1s
  - name: n10
    image: oci-layout:images/tools
    command: [sleep, "100000"]
    nics: [{vlan: 10, ipv4: {address: 10.0.10.6/24, gateway: 10.0.10.1}}]
    restart: never
    stop-timeout: 1s
  - name: t20
    image: oci-layout:images/tools
    command: [sh, -c, "` + vlan20Script + `"]
    nics: [{vlan: 20, ipv4: {address: 10.0.20.5/24, gateway: 10.0.20.1}}]
    restart: never
    stop-timeout: 1s
`
	if late {
		c += `  - name: late
    image: oci-layout:images/tools
    command: [sleep, "100000"]
    restart: never
    stop-timeout: 1s
vms:
  - name: echo
    memory: 160MiB
    kernel: images/vmlinuz
    initrd: images/echo.cpio.gz
    append: "` + innerAppend + `"
    restart: never
    shutdown-timeout: 2s
`
	}
	return c
}

// TestTenantsAndLiveAPI boots one box with untrusted tenants on two
// VLANs and the API forwarded to the host, and checks:
//   - api.vlans: the VLAN 20 tenant reaches the API at the box's VLAN 20
//     address while the VLAN 10 tenant, which pings its own box address,
//     does not reach it there;
//   - spoofing: datagrams with forged sources from VLAN 10 do not leave
//     the uplink (QEMU's dump of the uplink NIC), while the same tenant's
//     datagrams with its own source do, masqueraded, before and after;
//   - router adverts: one from VLAN 10 changes the routes of the
//     neighbour container on VLAN 10 but not the box's (two layers keep
//     it out: the input filter, which takes only echo requests and
//     neighbour discovery from a VLAN, and accept_ra 0 there);
//   - 2,000 idle and trickling connections without a token: a VM and a
//     container still start by apply, nucbox status answers within a
//     deadline, and PID 1's descriptors come back near their baseline;
//   - token rotation by apply: the old token gets 401 at once, the new
//     one 200, and a log followed with the old token ends.
func TestTenantsAndLiveAPI(t *testing.T) {
	harness.Require(t)
	start := time.Now()
	k, err := harness.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	echo := tinyGuest(t, echoScript)
	tools := toolsLayout(t)
	cfgPath := harness.WriteConfig(t, "tenants.yaml", tenantConfig(apiToken, false))
	// QEMU for the VM that only a later apply adds.
	img := harness.BuildImage(t, cfgPath, harness.BuildArgs("--qemu",
		"--add-file", guestState+"/images/tools="+tools,
		"--add-file", guestState+"/images/vmlinuz="+k.Path,
		"--add-file", guestState+"/images/echo.cpio.gz="+echo,
	))
	bin := harness.Nucbox(t)
	dump := filepath.Join(harness.ArtifactsDir(t), "uplink.pcap")
	m := img.Boot(t, harness.Options{NICs: []harness.NIC{{User: &harness.UserNet{
		Forward: []harness.Forward{{GuestPort: 8443}},
	}}}, MemoryMiB: 1024, Extra: []string{"-object", "filter-dump,id=dump0,netdev=net0,file=" + dump}})
	remote, _ := apiReady(t, m, vmReadyTimeout)
	t.Logf("ready after %.1fs", time.Since(start).Seconds())
	openShell(t, m)

	// api.vlans: positive on VLAN 20, negative on VLAN 10; both ping.
	t10 := waitLog(t, m, 90*time.Second, guestState+"/containers/t10.log", "T10-API=", "T10-")
	t20 := waitLog(t, m, 90*time.Second, guestState+"/containers/t20.log", "T20-API=", "T20-")
	t.Logf("t10:\n%s\nt20:\n%s", t10, t20)
	if !strings.Contains(t10, "T10-API=1") || regexp.MustCompile(`T10-PING=30`).MatchString(t10) {
		t.Errorf("VLAN 10 tenant: want its box address pinged and the API there filtered (exit 1):\n%s", t10)
	}
	if !regexp.MustCompile(`T20-API=(0|143)\b`).MatchString(t20) || regexp.MustCompile(`T20-PING=30`).MatchString(t20) {
		t.Errorf("VLAN 20 tenant with api.vlans [20]: want the API at 10.0.20.1:8443 to connect (exit 0 or 143):\n%s", t20)
	}

	checkSpoofAndAdverts(t, m, dump)
	checkFlood(t, m, bin, remote)
	checkRotation(t, m, bin, remote)
	t.Logf("done after %.1fs", time.Since(start).Seconds())
}

// workloadPIDs asks the box for its workloads' pids, waiting until the
// named ones run. It polls the API itself, without the CLI, to keep the
// status documents out of the test log.
func workloadPIDs(t *testing.T, m *harness.Machine, names ...string) map[string]int {
	t.Helper()
	hc := apiClient()
	pids := map[string]int{}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		req, _ := http.NewRequest("GET", "https://"+m.HostAddr(8443)+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		var st api.Status
		if resp, err := hc.Do(req); err == nil {
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		missing := []string{}
		for _, n := range names {
			for _, w := range st.Workloads {
				if w.Name == n && w.State == "running" && w.PID > 0 {
					pids[n] = w.PID
				}
			}
			if pids[n] == 0 {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("workloads %v not running within 3m: %+v", missing, st.Workloads)
		}
		time.Sleep(time.Second)
	}
}

// advertRoutes are the routes of an ipv6_route table that a router
// advert for 2001:db8:66::/64 received on iface adds: the prefix, and a
// default route through iface. (The box's own uplink may have a default
// route from the lab's adverts; that one is not on iface.)
func advertRoutes(table, iface string) []string {
	var out []string
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) < 10 {
			continue
		}
		if strings.HasPrefix(f[0], "20010db80066") || (f[0] == strings.Repeat("0", 32) && f[1] == "00" && f[9] == iface) {
			out = append(out, l)
		}
	}
	return out
}

func checkSpoofAndAdverts(t *testing.T, m *harness.Machine, dump string) {
	pids := workloadPIDs(t, m, "t10", "n10")
	boxBefore := mustShell(t, m, "cat /proc/net/ipv6_route")
	if r := advertRoutes(boxBefore, "vlan10"); len(r) > 0 {
		t.Fatalf("the box has advert routes before the advert: %q", r)
	}
	mustShell(t, m, fmt.Sprintf("touch /proc/%d/root/tmp/go", pids["t10"]))
	t10 := waitLog(t, m, 60*time.Second, guestState+"/containers/t10.log", "T10-DONE", "RAWSEND-")
	t.Logf("t10 sent:\n%s", t10)
	if strings.Contains(t10, "RAWSEND-FAILED") {
		t.Errorf("the tenant could not send every packet: the checks below prove nothing for those")
	}

	// The second datagram with the tenant's own source left after the
	// forged ones were sent: once it is in the dump, they would be too.
	var frames []dumpFrame
	deadline := time.Now().Add(30 * time.Second)
	for {
		frames = readDump(t, dump)
		if hasMarker(frames, "NUCBOX-REAL-2") != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, marker := range []string{"NUCBOX-REAL-1", "NUCBOX-REAL-2"} {
		f := hasMarker(frames, marker)
		if f == nil {
			t.Errorf("positive control: %s (the tenant's own source) never left the uplink", marker)
		} else if !strings.HasPrefix(f.src, "10.0.2.") {
			t.Errorf("%s left with source %s, want the box's uplink address (masqueraded)", marker, f.src)
		}
	}
	for _, marker := range []string{"NUCBOX-SPOOF-1", "NUCBOX-SPOOF-2"} {
		if f := hasMarker(frames, marker); f != nil {
			t.Errorf("a datagram with a forged source left the uplink: %s from %s", marker, f.src)
		}
	}
	t.Logf("uplink dump: %d frames", len(frames))

	// The advert reached VLAN 10: the neighbour's kernel took it.
	var nb string
	deadline = time.Now().Add(30 * time.Second)
	for {
		nb = mustShell(t, m, fmt.Sprintf("cat /proc/%d/net/ipv6_route", pids["n10"]))
		if len(advertRoutes(nb, "eth0")) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(advertRoutes(nb, "eth0")) == 0 {
		t.Errorf("positive control: the neighbour on VLAN 10 did not take the advert's routes:\n%s", nb)
	}
	boxAfter := mustShell(t, m, "cat /proc/net/ipv6_route")
	if r := advertRoutes(boxAfter, "vlan10"); len(r) > 0 {
		t.Errorf("a tenant's router advert changed the box's routes: %q", r)
	}
}

// checkFlood holds 2,000 connections without a token on the API while a
// VM and a container are applied, and checks that the box keeps
// answering and gives the descriptors back.
func checkFlood(t *testing.T, m *harness.Machine, bin string, remote []string) {
	fds := func() int {
		n, err := strconv.Atoi(shellValue(t, m, "ls /proc/1/fd | wc -l"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	baseline := fds()
	f := startFlood(m.HostAddr(8443), 2000)
	defer f.stop()
	// Wait until the flood is on: every client connected once.
	deadline := time.Now().Add(60 * time.Second)
	for f.connects.Load() < 2000 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	during := fds()
	t.Logf("flood: %d connections made, PID 1 holds %d descriptors (baseline %d)", f.connects.Load(), during, baseline)
	// The API holds at most 32 connections without a token (256 in all):
	// the rest of the flood must not cost PID 1 descriptors.
	if during > baseline+100 {
		t.Errorf("PID 1 holds %d descriptors under the flood, baseline %d: the connections without a token are not capped", during, baseline)
	}

	// A client with the token gets its answer within the deadline; one
	// whose connection the flood's churn closes before its hello arrived
	// tries again, as a script would.
	timed := func(what string, args ...string) (string, time.Duration) {
		t0 := time.Now()
		for attempt := 1; ; attempt++ {
			stdout, stderr, code := cli(t, bin, append(args, remote...)...)
			d := time.Since(t0)
			if code == 0 {
				if attempt > 1 {
					t.Logf("%s under the flood: answered at attempt %d", what, attempt)
				}
				return stdout, d
			}
			if !strings.Contains(stderr, unreachable) || d > 20*time.Second {
				t.Errorf("%s under the flood: exit %d after %v (attempt %d)\n%s", what, code, d, attempt, stderr)
				return stdout, d
			}
		}
	}
	var worst time.Duration
	_, worst = timed("status", "status")
	late := harness.WriteConfig(t, "tenants-late.yaml", tenantConfig(apiToken, true))
	out, d := timed("apply adding a VM and a container", "apply", late)
	t.Logf("apply under the flood took %v", d)
	if !strings.Contains(out, "+ vm echo") || !strings.Contains(out, "+ container late") {
		t.Errorf("apply output:\n%s", out)
	}
	// Started: QEMU runs the guest (the box saw it running over QMP) and
	// the container's process runs. The nested guest's own boot, under
	// TCG twice over, is TestWorkloadVMConsole's to wait for.
	pids := workloadPIDs(t, m, "echo", "late")
	t.Logf("under the flood: VM echo pid %d, container late pid %d", pids["echo"], pids["late"])
	for i := 0; i < 3; i++ {
		_, d := timed("status", "status")
		worst = max(worst, d)
	}
	if worst > 20*time.Second {
		t.Errorf("status under the flood took up to %v, want at most 20s", worst)
	}
	t.Logf("flood: %d connections made, %d ended by the box; status took up to %v; PID 1 holds %d descriptors",
		f.connects.Load(), f.closedByBox.Load(), worst, fds())
	if f.closedByBox.Load() == 0 {
		t.Errorf("the box ended none of the connections: the flood did not reach the limits")
	}
	f.stop()

	// The descriptors come back: what is left are the socket and the
	// workloads' own (a VM and a container more than at the baseline).
	var now int
	deadline = time.Now().Add(60 * time.Second)
	for {
		now = fds()
		if now <= baseline+64 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("PID 1 descriptors: baseline %d, after the flood %d", baseline, now)
	if now > baseline+64 {
		t.Errorf("PID 1 holds %d descriptors a minute after the flood, baseline %d:\n%s", now, baseline, mustShell(t, m, "ls -l /proc/1/fd | tail -50"))
	}
}

// checkRotation applies the same config with a new token: the old token
// is refused at once, the new one works, and a log stream opened with
// the old one ends.
func checkRotation(t *testing.T, m *harness.Machine, bin string, remote []string) {
	follow := exec.Command(bin, append([]string{"logs", "-f"}, remote...)...)
	followed := &syncbuf.Buffer{}
	follow.Stdout, follow.Stderr = followed, followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- follow.Wait() }()
	defer func() {
		follow.Process.Kill()
		<-ended
	}()
	// The stream is open once the recent lines came.
	for deadline := time.Now().Add(30 * time.Second); followed.String() == ""; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nucbox logs -f showed nothing within 30s")
		}
	}
	rotated := harness.WriteConfig(t, "tenants-rotated.yaml", tenantConfig(rotatedToken, true))
	stdout, stderr, code := cli(t, bin, append([]string{"apply", rotated}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "api.token") {
		t.Fatalf("apply with a new token: exit %d\n%s%s", code, stdout, stderr)
	}
	host := "https://" + m.HostAddr(8443)
	hc := apiClient()
	for _, c := range []struct {
		token string
		want  int
	}{{apiToken, 401}, {rotatedToken, 200}, {"", 401}} {
		req, _ := http.NewRequest("GET", host+"/v1/status", nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Errorf("status after the rotation: %v", err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("status with token %.12q right after the rotation: %d, want %d", c.token, resp.StatusCode, c.want)
		}
	}
	select {
	case err := <-ended:
		ended <- err
		t.Logf("the log followed with the old token ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Errorf("a log followed with the old token is still open 30s after the rotation")
	}
}

// flood holds n connections without a token to addr: half idle after
// the TCP handshake, half trickling a TLS handshake a byte every two
// seconds. A client whose connection the box ends connects again after
// a pause, as an attacker would.
type flood struct {
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	connects    atomic.Int64
	closedByBox atomic.Int64
	once        sync.Once
}

func startFlood(addr string, n int) *flood {
	ctx, cancel := context.WithCancel(context.Background())
	f := &flood{cancel: cancel}
	for i := range n {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for ctx.Err() == nil {
				f.hold(ctx, addr, i%2 == 1)
				select {
				case <-ctx.Done():
				case <-time.After(5*time.Second + rand.N(5*time.Second)):
				}
			}
		}()
	}
	return f
}

func (f *flood) hold(ctx context.Context, addr string, trickle bool) {
	c, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	f.connects.Add(1)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	if !trickle {
		if _, err := c.Read(make([]byte, 1)); err != nil && ctx.Err() == nil {
			f.closedByBox.Add(1)
		}
		return
	}
	// A TLS handshake record that never ends: its header, then its body
	// a byte at a time.
	for _, b := range append([]byte{0x16, 0x03, 0x01, 0x02, 0x00}, make([]byte, 512)...) {
		if _, err := c.Write([]byte{b}); err != nil {
			if ctx.Err() == nil {
				f.closedByBox.Add(1)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (f *flood) stop() {
	f.once.Do(func() {
		f.cancel()
		f.wg.Wait()
	})
}

// dumpFrame is an IPv4 frame of QEMU's dump of a NIC.
type dumpFrame struct {
	src  string
	data []byte
}

// readDump reads the IPv4 frames of a pcap file that QEMU's filter-dump
// writes (Ethernet link type); a record cut short at the end is left
// for the next read.
func readDump(t *testing.T, path string) []dumpFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 24 {
		return nil
	}
	var out []dumpFrame
	for p := 24; p+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[p+8:]))
		p += 16
		if p+n > len(b) {
			break
		}
		fr := b[p : p+n]
		p += n
		if len(fr) >= 34 && binary.BigEndian.Uint16(fr[12:]) == 0x0800 {
			out = append(out, dumpFrame{src: net.IP(fr[26:30]).String(), data: fr})
		}
	}
	return out
}

func hasMarker(frames []dumpFrame, marker string) *dumpFrame {
	for i := range frames {
		if bytes.Contains(frames[i].data, []byte(marker)) {
			return &frames[i]
		}
	}
	return nil
}

// toolsLayout is the busybox image with rawsend added, written as an OCI
// layout into the build cache under a name derived from its digest.
func toolsLayout(t *testing.T) string { return goToolsLayout(t, "oci-tools", "rawsend") }

// goToolsLayout is the busybox image with the static Go programs
// testdata/PROG added as /bin/PROG, written as the OCI layout name.
func goToolsLayout(t *testing.T, name string, progs ...string) string {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, prog := range progs {
		bin := filepath.Join(t.TempDir(), prog)
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/"+prog)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", prog, err, out)
		}
		body, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: "bin/" + prog, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.Close()
	data := tb.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(imagetest.Busybox(t, []string{"sh"}, []string{"PATH=/bin"}), l)
	if err != nil {
		t.Fatal(err)
	}
	return writeLayout(t, name, img)
}

// writeLayout writes img as an OCI layout into the build cache, under
// name and the image's digest, once: later runs reuse it.
func writeLayout(t testing.TB, name string, img v1.Image) string {
	t.Helper()
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(harness.CacheDir(t, "guests"), name+"-"+dg.Hex[:16])
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return dir
	}
	tmp := fmt.Sprintf("%s.tmp%d", dir, os.Getpid())
	os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(filepath.Join(dir, "index.json")); serr != nil {
			t.Fatal(err)
		}
	}
	return dir
}
