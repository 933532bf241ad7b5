package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/test/harness"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// workloadConfig runs one container that prints a numbered line every
// second, restarted always, and the TLS API on a forwarded port.
const workloadConfig = `hostname: wlbox
` + apiUplink + `containers:
  - name: ticker
    image: oci-layout:images/busybox
    command: [sh, -c, "i=0; while :; do echo TICK-$i; i=$((i+1)); sleep 1; done"]
    restart: always
    stop-timeout: 1s
`

// TestWorkloadControl manages a container of a running box from the
// host: logs -f streams its new lines, stop stops it and it stays
// stopped although its policy is always, start runs it again and
// restart counts one restart. The container's memory on /metrics is its
// cgroup's memory.current as the box reads it.
func TestWorkloadControl(t *testing.T) {
	harness.Require(t)
	m, bin, remote := bootContainerBox(t, "workload.yaml", workloadConfig)

	// status polls until want accepts the box's status, within timeout.
	status := func(what string, timeout time.Duration, want func(w api.Workload, st *api.Status) bool) (api.Workload, *api.Status) {
		t.Helper()
		var ticker api.Workload
		st := pollStatus(t, bin, remote, what, timeout, func(st *api.Status) bool {
			for _, w := range st.Workloads {
				if w.Name == "ticker" && want(w, st) {
					ticker = w
					return true
				}
			}
			return false
		})
		return ticker, st
	}
	running := func(w api.Workload, _ *api.Status) bool { return w.State == "running" && w.PID > 0 }

	first, st := status("ticker running", 60*time.Second, running)
	t.Logf("ticker: pid %d, %d restarts", first.PID, first.Restarts)
	if l := st.UplinkLease; l == nil || l.Address == "" || l.Server == "" || l.Expiry.IsZero() || l.Obtained.IsZero() {
		t.Errorf("status lacks the uplink's DHCP lease: %+v", l)
	}

	// The container's figures come from its cgroup.
	checkMetrics(t, apiClient(), "https://"+m.HostAddr(8443),
		`nucbox_workload_cpu_seconds_total{kind="container",name="ticker"} `,
		`nucbox_workload_resident_memory_bytes{kind="container",name="ticker"} `)
	checkContainerMemoryMetric(t, m, "ticker", first.PID)

	// logs -f: the backlog's lines carry no time, lines that arrive
	// while following carry the box's uptime; one of those is a line the
	// container wrote after the follow started.
	follow := exec.Command(bin, append([]string{"logs", "ticker", "-f"}, remote...)...)
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	follow.Stderr = io.Discard
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	streamed := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		live := regexp.MustCompile(`^\[\s*[1-9]\d*\.\d{6}\] TICK-\d+$`)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if live.MatchString(sc.Text()) {
				streamed <- sc.Text()
				return
			}
		}
		streamed <- "the stream ended after:\n" + strings.Join(seen, "\n")
	}()
	select {
	case l := <-streamed:
		if !strings.Contains(l, "TICK-") || strings.HasPrefix(l, "the stream ended") {
			t.Errorf("logs -f: %s", l)
		} else {
			t.Logf("logs -f streamed: %s", l)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("logs -f streamed no new line within 60s")
	}
	follow.Process.Kill()
	follow.Wait()

	// stop: stopped and held, and it stays so although its policy is
	// always (the backoff would have restarted it within a second).
	stdout, stderr, code := cli(t, bin, append([]string{"stop", "ticker"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "container ticker: stopped (held)") {
		t.Fatalf("nucbox stop ticker: exit %d\n%s%s", code, stdout, stderr)
	}
	status("ticker stopped", 10*time.Second, func(w api.Workload, _ *api.Status) bool { return w.State == "stopped" && w.Held && w.PID == 0 })
	stayed := time.Now().Add(5 * time.Second)
	for time.Now().Before(stayed) {
		status("ticker still stopped", 10*time.Second, func(w api.Workload, _ *api.Status) bool {
			if w.State != "stopped" || w.PID != 0 {
				t.Fatalf("ticker came back after nucbox stop: %+v", w)
			}
			return true
		})
		time.Sleep(500 * time.Millisecond) // the polling interval
	}
	stdout, _, _ = cli(t, bin, append([]string{"status"}, remote...)...)
	if !regexp.MustCompile(`container\s+ticker\s+stopped \(held\)`).MatchString(stdout) {
		t.Errorf("human status does not show ticker held stopped:\n%s", stdout)
	}

	// start: running again.
	stdout, stderr, code = cli(t, bin, append([]string{"start", "ticker"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "container ticker:") {
		t.Fatalf("nucbox start ticker: exit %d\n%s%s", code, stdout, stderr)
	}
	started, _ := status("ticker running after start", 60*time.Second, func(w api.Workload, st *api.Status) bool {
		return running(w, st) && !w.Held && w.PID != first.PID
	})

	// restart: a new process and one more restart.
	stdout, stderr, code = cli(t, bin, append([]string{"restart", "ticker"}, remote...)...)
	if code != 0 {
		t.Fatalf("nucbox restart ticker: exit %d\n%s%s", code, stdout, stderr)
	}
	restarted, _ := status("ticker running after restart", 60*time.Second, func(w api.Workload, st *api.Status) bool {
		return running(w, st) && w.PID != started.PID
	})
	if restarted.Restarts != started.Restarts+1 {
		t.Errorf("restarts after nucbox restart: %d, want %d", restarted.Restarts, started.Restarts+1)
	}

	_, stderr, code = cli(t, bin, append([]string{"stop", "nosuch"}, remote...)...)
	if code != 1 || !strings.Contains(stderr, "404") || !strings.Contains(stderr, `no VM or container named "nosuch"`) {
		t.Errorf("stop of an unknown workload: exit %d\n%s", code, stderr)
	}
	_, stderr, code = cli(t, bin, "stop", "ticker", "--host", "https://"+m.HostAddr(8443), "--token", "wrong-token-0123456789", "--insecure")
	if code != 1 || !strings.Contains(stderr, "401") {
		t.Errorf("stop with a wrong token: exit %d\n%s", code, stderr)
	}
}

// consoleVMConfig runs one tiny guest that answers every line typed on
// its serial console, and the TLS API on a forwarded port.
const consoleVMConfig = `hostname: conbox
` + apiUplink + `vms:
  - name: echo
    memory: 160MiB
    kernel: images/vmlinuz
    initrd: images/echo.cpio.gz
    append: "` + innerAppend + `"
    restart: never
    shutdown-timeout: 2s
`

const echoScript = `echo ECHO-READY
while read -r line; do echo "got: $line" | tr a-z A-Z; done
`

// TestWorkloadVMConsole types into a nested guest's serial console from the host
// with nucbox console, over TLS with the token, and reads its answer;
// the serial log, followed with logs -f, records the exchange too.
func TestWorkloadVMConsole(t *testing.T) {
	harness.Require(t)
	k, err := harness.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	echo := tinyGuest(t, echoScript)
	cfgPath := harness.WriteConfig(t, "console.yaml", consoleVMConfig)
	img := harness.BuildImage(t, cfgPath, harness.BuildArgs(
		"--add-file", guestState+"/images/vmlinuz="+k.Path,
		"--add-file", guestState+"/images/echo.cpio.gz="+echo,
	))
	bin := harness.Nucbox(t)
	m := img.Boot(t, harness.Options{NICs: []harness.NIC{{User: &harness.UserNet{
		Forward: []harness.Forward{{GuestPort: 8443}},
	}}}, MemoryMiB: 1024})
	remote, _ := apiReady(t, m, vmReadyTimeout)

	// Follow the serial log from now on.
	follow := exec.Command(bin, append([]string{"logs", "echo", "-f"}, remote...)...)
	followed := &syncbuf.Buffer{}
	follow.Stdout, follow.Stderr = followed, io.Discard
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		follow.Process.Kill()
		follow.Wait()
	}()
	waitFor := func(what string, timeout time.Duration, buf *syncbuf.Buffer, want string) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !strings.Contains(buf.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in %s within %v:\n%s", want, what, timeout, buf.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("the followed serial log", nestedTimeout, followed, "ECHO-READY")

	con := exec.Command(bin, append([]string{"console", "echo"}, remote...)...)
	stdin, err := con.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, msgs := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	con.Stdout, con.Stderr = out, msgs
	if err := con.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor("the console's messages", 30*time.Second, msgs, "Press ctrl-] to detach")
	if _, err := stdin.Write([]byte("hello nucbox\r")); err != nil {
		t.Fatal(err)
	}
	waitFor("the console", 60*time.Second, out, "GOT: HELLO NUCBOX")
	if _, err := stdin.Write([]byte{0x1d}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- con.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(msgs.String(), "Detached from echo") {
			t.Errorf("nucbox console after ctrl-]: %v\n%s", err, msgs.String())
		}
	case <-time.After(30 * time.Second):
		con.Process.Kill()
		t.Fatalf("ctrl-] did not end nucbox console:\n%s", msgs.String())
	}
	t.Logf("console showed:\n%s", out.String())
	waitFor("the followed serial log", 30*time.Second, followed, "GOT: HELLO NUCBOX")

	// Stop holds the VM stopped and its console refuses; start runs a new
	// QEMU whose output the same follow goes on to show; restart counts.
	stdout, stderr, code := cli(t, bin, append([]string{"stop", "echo"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "vm echo: stopped (held)") {
		t.Fatalf("nucbox stop echo: exit %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = cli(t, bin, append([]string{"console", "echo"}, remote...)...)
	if code != 1 || !strings.Contains(stderr, "409") || !strings.Contains(stderr, "not running") {
		t.Errorf("console of a stopped VM: exit %d\n%s", code, stderr)
	}
	qemuStarts := func() int { return strings.Count(followed.String(), "QEMU pid") }
	before := qemuStarts()
	stdout, stderr, code = cli(t, bin, append([]string{"start", "echo"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "vm echo: running, restarts 0") {
		t.Fatalf("nucbox start echo: exit %d\n%s%s", code, stdout, stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for qemuStarts() <= before && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if qemuStarts() <= before {
		t.Errorf("logs -f did not go on across the stop and start:\n%s", followed.String())
	}
	stdout, stderr, code = cli(t, bin, append([]string{"restart", "echo"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "vm echo: running, restarts 1") {
		t.Errorf("nucbox restart echo: exit %d\n%s%s", code, stdout, stderr)
	}

	_, stderr, code = cli(t, bin, "console", "echo", "--host", "https://"+m.HostAddr(8443), "--token", "wrong-token-0123456789", "--insecure")
	if code != 1 || !strings.Contains(stderr, "401") {
		t.Errorf("console with a wrong token: exit %d\n%s", code, stderr)
	}
	_, stderr, code = cli(t, bin, append([]string{"console", "nosuch"}, remote...)...)
	if code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("console of an unknown VM: exit %d\n%s", code, stderr)
	}
}

// metricValue is the value of one series on the box's /metrics, as
// `name{labels}` exactly as Prometheus' text format writes it.
func metricValue(t *testing.T, hc *http.Client, host, series string) float64 {
	t.Helper()
	return metricValues(t, hc, host, series)[series]
}

// metricValues reads the named series from one scrape; a series missing
// from it fails t.
func metricValues(t *testing.T, hc *http.Client, host string, series ...string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", host+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		for _, n := range series {
			if s, ok := strings.CutPrefix(l, n+" "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil {
					t.Fatalf("metrics: %s: %v", l, err)
				}
				v[n] = f
			}
		}
	}
	for _, n := range series {
		if _, ok := v[n]; !ok {
			t.Fatalf("metrics (%d) lack %s", resp.StatusCode, n)
		}
	}
	return v
}

// checkContainerMemoryMetric compares the memory /metrics reports for a
// running container with memory.current of its cgroup as the box reads
// it, found from the container's pid, not from the product's bookkeeping.
// The box reads before and after the scrape, since the container's
// memory moves a little as it runs; the metric must lie within 5 % of
// that range.
func checkContainerMemoryMetric(t *testing.T, m *harness.Machine, name string, pid int) {
	t.Helper()
	start := time.Now()
	openShell(t, m)
	read := func() float64 {
		t.Helper()
		v := shellValue(t, m, fmt.Sprintf("cat /sys/fs/cgroup$(cut -d: -f3 /proc/%d/cgroup)/memory.current", pid))
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s's memory.current as the box reads it: %q", name, v)
		}
		return f
	}
	before := read()
	metric := metricValue(t, apiClient(), "https://"+m.HostAddr(8443),
		fmt.Sprintf(`nucbox_workload_resident_memory_bytes{kind="container",name=%q}`, name))
	after := read()
	lo, hi := min(before, after), max(before, after)
	t.Logf("%s memory: /metrics %.0f bytes, the box's memory.current %.0f and %.0f around the scrape (%.1fs)",
		name, metric, before, after, time.Since(start).Seconds())
	// A running busybox shell has charged its cgroup some hundreds of
	// KiB; a dead container or an unread cgroup would show far less.
	if lo < 64<<10 {
		t.Errorf("%s's cgroup holds %.0f bytes: not a running container", name, lo)
	}
	if metric < 0.95*lo || metric > 1.05*hi {
		t.Errorf("/metrics says %s uses %.0f bytes; its cgroup's memory.current read %.0f to %.0f bytes: more than 5 %% apart", name, metric, lo, hi)
	}
}
