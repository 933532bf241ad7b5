package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/test/harness"
)

// limitsConfig runs two tenants that try to take the box, neither with a
// limit in the config (so each has the box's defaults, 1 GiB and 1024
// processes), and a canary on VLAN 30 that answers on TCP port 7000.
//
// bomb is the classic fork bomb; a sleep forked first keeps the
// container's first process in the builtin wait, so the bomb's own
// exits do not end the container. hog allocates a 1100 MiB buffer and
// fills it from /dev/zero, round after round: each round runs into the
// 1 GiB limit and is OOM-killed, the shell goes on.
const limitsConfig = `hostname: limitbox
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  addresses:
    - {vlan: 30, address: 10.0.30.1/24}
api:
  listen: ":8443"
  token: ` + apiToken + `
containers:
  - name: bomb
    image: oci-layout:images/busybox
    command: [sh, -c, "sleep 100000 & f(){ f|f& }; f; wait"]
    restart: always
    stop-timeout: 1s
  - name: hog
    image: oci-layout:images/busybox
    command: [sh, -c, "` + hogScript + `"]
    restart: always
    stop-timeout: 1s
  - name: canary
    image: oci-layout:images/busybox
    command: [sh, -c, "while :; do echo CANARY-ALIVE | busybox nc -l -p 7000; done"]
    nics: [{vlan: 30, ipv4: {address: 10.0.30.5/24}}]
    restart: always
    stop-timeout: 1s
`

// hogScript fills an 1100 MiB output buffer from 1 MiB reads: the copy
// touches the pages from user space, where the OOM killer can end it (a
// read straight into the big buffer would only fail with EFAULT).
const hogScript = `n=0; while :; do n=$((n+1)); echo HOG-ROUND-$n; busybox dd if=/dev/zero of=/dev/null ibs=1M obs=1100M count=1100; done`

// loadWindow is how long the box must keep working once both tenants
// run into their limits.
const loadWindow = 60 * time.Second

// TestTenantsHitLimits boots a box whose fork bomb and memory hog run
// with no limits of their own in the config, and checks, from the moment
// the box reports both at their limits and for a minute after: PID 1
// stays up, the console shell answers, an authenticated nucbox status
// over the TLS API answers, the canary on VLAN 30 answers from the box
// and restarts on request; the status, /metrics and the log name bomb
// for its pids limit and hog for its memory limit with OOM kills, and
// the canary for none (the control of those counters).
func TestTenantsHitLimits(t *testing.T) {
	harness.Require(t)
	start := time.Now()
	oci := busyboxLayout(t)
	cfgPath := harness.WriteConfig(t, "limits.yaml", limitsConfig)
	img := harness.BuildImage(t, cfgPath, harness.BuildArgs("--add-file", guestState+"/images/busybox="+oci))
	bin := harness.Nucbox(t)
	// Enough memory that hog's default 1 GiB limit, not the limit of
	// all workloads (memory minus the box's reserve), is what stops it.
	m := img.Boot(t, harness.Options{MemoryMiB: 1536, NICs: []harness.NIC{{User: &harness.UserNet{
		Forward: []harness.Forward{{GuestPort: 8443}},
	}}}})
	remote, _ := apiReady(t, m, readyTimeout)
	t.Logf("ready after %.1fs", time.Since(start).Seconds())
	openShell(t, m)
	hc, host := apiClient(), "https://"+m.HostAddr(8443)
	// poll asks the API (quietly: the CLI's JSON each time would bury the
	// console in the test's output) until want accepts the status.
	poll := func(what string, timeout time.Duration, want func(*api.Status) bool) *api.Status {
		t.Helper()
		var last string
		for deadline := time.Now().Add(timeout); ; time.Sleep(500 * time.Millisecond) {
			st, err := apiStatus(hc, host)
			if err == nil && want(st) {
				return st
			}
			if err != nil {
				last = err.Error()
			} else {
				b, _ := json.Marshal(st.Workloads)
				last = string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v; last: %s", what, timeout, last)
			}
		}
	}

	byName := func(st *api.Status) map[string]api.Workload {
		out := map[string]api.Workload{}
		for _, w := range st.Workloads {
			out[w.Name] = w
		}
		return out
	}
	atLimits := func(st *api.Status) bool {
		ws := byName(st)
		b, h := ws["bomb"].Limits, ws["hog"].Limits
		return b != nil && h != nil && b.PIDs.Max > 0 && h.Memory.OOMKill > 0
	}
	// The load's duration is measured from here: the box says both
	// tenants reached their limits.
	loadStart := time.Now()
	st := poll("bomb and hog at their limits", 4*time.Minute, atLimits)
	reached := time.Now()
	t.Logf("bomb and hog at their limits %.1fs after ready", reached.Sub(loadStart).Seconds())
	ws := byName(st)
	if l := ws["bomb"].Limits; l.PIDs.Limit != 1024 {
		t.Errorf("bomb's pids limit %d, want the default 1024", l.PIDs.Limit)
	}
	if l := ws["hog"].Limits; l.Memory.Limit != 1<<30 {
		t.Errorf("hog's memory limit %d, want the default 1 GiB", l.Memory.Limit)
	}

	canary := func() error {
		out, err := m.Shell(shellTimeout, "timeout 10 nc -w 5 10.0.30.5 7000 </dev/null")
		if err == nil && !strings.Contains(out, "CANARY-ALIVE") {
			err = fmt.Errorf("no answer: %q", out)
		}
		return err
	}
	rounds := 0
	for time.Since(reached) < loadWindow {
		select {
		case <-m.Exited():
			t.Fatalf("the box went down under load:\n%s", tail(m.Output(), 40))
		default:
		}
		if v := shellValue(t, m, "cat /proc/1/comm"); v == "" {
			t.Fatalf("the console shell read no PID 1")
		}
		if err := canary(); err != nil {
			t.Fatalf("round %d, %.0fs into the load: the canary on VLAN 30 does not answer the box: %v", rounds, time.Since(reached).Seconds(), err)
		}
		if stdout, _, code := cli(t, bin, append([]string{"status"}, remote...)...); code != 0 || !strings.HasPrefix(stdout, "limitbox: ready\n") {
			t.Fatalf("round %d: authenticated nucbox status over the API under load: exit %d", rounds, code)
		}
		rounds++
	}
	t.Logf("%d rounds of shell, canary and API checks in %v of load", rounds, loadWindow)

	// The canary restarts under load, and answers again.
	before := byName(poll("canary running", shellTimeout, func(*api.Status) bool { return true }))["canary"]
	if stdout, stderr, code := cli(t, bin, append([]string{"restart", "canary"}, remote...)...); code != 0 {
		t.Fatalf("nucbox restart canary under load: exit %d\n%s%s", code, stdout, stderr)
	}
	after := byName(poll("canary restarted", 2*time.Minute, func(st *api.Status) bool {
		c := byName(st)["canary"]
		return c.State == "running" && c.PID > 0 && c.PID != before.PID
	}))["canary"]
	if after.Restarts != before.Restarts+1 {
		t.Errorf("canary restarts %d after nucbox restart, want %d", after.Restarts, before.Restarts+1)
	}
	var err error
	for deadline := time.Now().Add(time.Minute); ; {
		if err = canary(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Errorf("the restarted canary does not answer: %v", err)
	}

	// Which container hit which limit: the status, the log, the metrics.
	st = poll("final status", shellTimeout, atLimits)
	ws = byName(st)
	t.Logf("limits: bomb %+v, hog %+v, canary %+v, all workloads %+v", *ws["bomb"].Limits, *ws["hog"].Limits, ws["canary"].Limits, st.WorkloadLimits)
	if c := ws["canary"].Limits; c == nil || c.Any() {
		t.Errorf("canary's limits %+v: want them shown, and never reached", c)
	}
	if b := ws["bomb"].Limits; b.Memory.OOMKill != 0 {
		t.Errorf("bomb had %d OOM kills: its pids limit should stop it first", b.Memory.OOMKill)
	}
	if st.WorkloadLimits == nil {
		t.Errorf("no limits of the workloads' group in the status")
	}
	// The CLI, authenticated over TLS, under load.
	stdout, _, code := cli(t, bin, append([]string{"status"}, remote...)...)
	if code != 0 {
		t.Errorf("nucbox status under load: exit %d", code)
	}
	for _, re := range []string{`container bomb\s+pids 1024: \d+ forks refused`, `container hog\s+memory 1024 MiB: reached \d+ times, [1-9]\d* OOM kills`} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("nucbox status lacks %s:\n%s", re, stdout)
		}
	}
	out := m.Output()
	for _, re := range []string{
		`limits: container bomb: pids limit 1024 hit, \d+ forks? refused`,
		`limits: container hog: memory limit 1GiB hit, \d+ process(es)? OOM-killed`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the log lacks %s", re)
		}
	}
	if n := len(regexp.MustCompile(`limits: container bomb: pids limit`).FindAllString(out, -1)); n > int(time.Since(reached)/limitsQuiet)+3 {
		t.Errorf("%d log lines about bomb's pids limit in %v: not rate-limited", n, time.Since(reached).Round(time.Second))
	}
	if strings.Contains(out, "limits: container canary") {
		t.Errorf("the log says the canary hit a limit")
	}
	if v := metricValue(t, hc, host, `nucbox_workload_pids_limit_hits_total{kind="container",name="bomb"}`); v <= 0 {
		t.Errorf("bomb's pids limit hits on /metrics: %v", v)
	}
	if v := metricValue(t, hc, host, `nucbox_workload_oom_kills_total{kind="container",name="hog"}`); v <= 0 {
		t.Errorf("hog's OOM kills on /metrics: %v", v)
	}
	if v := metricValue(t, hc, host, `nucbox_workload_pids_limit_hits_total{kind="container",name="canary"}`); v != 0 {
		t.Errorf("canary's pids limit hits on /metrics: %v", v)
	}
	if strings.Contains(out, "Kernel panic") {
		t.Errorf("the kernel panicked")
	}
	t.Logf("test took %.0fs", time.Since(start).Seconds())
}

// limitsQuiet is the box's least time between two log lines about one
// workload's limit (boot/box).
const limitsQuiet = 30 * time.Second

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// apiStatus is GET /v1/status with the test's token.
func apiStatus(hc *http.Client, host string) (*api.Status, error) {
	req, _ := http.NewRequest("GET", host+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var st api.Status
	return &st, json.Unmarshal(b, &st)
}
