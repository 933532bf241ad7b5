package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/test/harness"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// soakEnv sets how long TestSoak drives the box: a Go duration in whole
// minutes, at least 2m. CI runs the default; `make soak` sets an hour.
// Three minutes give two samples after the warmup, enough for the
// slack below to catch a leak per apply or per looper run.
const (
	soakEnv     = "NUCBOX_SOAK"
	soakDefault = 3 * time.Minute
)

// The load: status polled at soakPollRate, an apply every soakApplyEvery
// alternating soakA and soakB, and PID 1 sampled every soakAppliesPerMinute
// applies, that is each minute. An even number of applies a minute ends
// every run on soakA, the config of the start.
const (
	soakPollRate         = 10 // requests per second
	soakApplyEvery       = 15 * time.Second
	soakAppliesPerMinute = int(time.Minute / soakApplyEvery)
)

// The bounds, checked on every sample after the first minute against the
// sample at one minute (the warmup: the inner guest boots, the runtime's
// heap and the API's connections settle):
//   - RSS at most +10 %.
//   - goroutines at most +soakGoroutineSlack, descriptors at most
//     +soakFDSlack.
//
// A sample is the least of each figure over the minute's reads: soakReads
// reads about 0.3 s apart every soakApplyEvery, before each apply. The least, so
// that a sample counts neither what a container start or stop, an apply
// or a request holds for a moment nor the heap's peak between two
// collections; a leak raises the least as much as the rest. The slack
// covers the rare minute whose every read lands in such a moment (a
// container start holds a few descriptors and goroutines for about a
// second). A leak of one goroutine or descriptor per looper run (some 10
// a minute) or per apply (2 a minute) passes the slack within a minute
// or two.
const (
	soakRSSGrowth      = 0.10
	soakGoroutineSlack = 4
	soakFDSlack        = 2
	soakReads          = 5
)

// soakA is the box: a tiny VM and steady on VLAN 10, and looper, which
// exits 2 s after each start under restart: always. soakB, which every
// other apply puts in its place, moves looper to VLAN 20 (so that every
// apply replaces it, which also resets its restart backoff, 1 s
// doubling, and it keeps restarting every few seconds), gives the VM a
// second NIC on VLAN 20 (so that every apply restarts the VM and creates
// or removes a TAP) and the box an address on VLAN 20 (a VLAN link).
// steady is the same in both.
var (
	soakA = soakConfig("", "", "a", 10)
	soakB = soakConfig("    - {vlan: 20, address: 10.0.20.1/24}\n", ", {vlan: 20}", "b", 20)
)

func soakConfig(address, vmNIC, env string, vlan int) string {
	return strings.NewReplacer("{ADDRESS}", address, "{VMNIC}", vmNIC, "{ENV}", env, "{VLAN}", strconv.Itoa(vlan)).Replace(`hostname: soakbox
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  addresses:
    - {vlan: 10, address: 10.0.10.1/24}
{ADDRESS}api:
  listen: ":8443"
  token: ` + apiToken + `
vms:
  - name: tiny
    memory: 128MiB
    kernel: images/vmlinuz
    initrd: images/tiny.cpio.gz
    append: "` + innerAppend + `"
    nics: [{vlan: 10}{VMNIC}]
    restart: never
    shutdown-timeout: 2s
containers:
  - name: steady
    image: oci-layout:images/busybox
    command: [sleep, "100000"]
    nics: [{vlan: 10, ipv4: {address: 10.0.10.5/24}}]
    stop-timeout: 1s
  - name: looper
    image: oci-layout:images/busybox
    command: [sh, -c, "echo LOOP-RUN $SOAK $(cut -d' ' -f1 /proc/uptime); sleep 2"]
    env: {SOAK: {ENV}}
    nics: [{vlan: {VLAN}, ipv4: {address: 10.0.{VLAN}.6/24}}]
    restart: always
    stop-timeout: 1s
`)
}

const soakVMScript = `ip link set eth0 up
echo TINY-UP
while :; do sleep 3600; done
`

// soakSample is PID 1 at one minute of the soak.
type soakSample struct {
	minute int
	// rss is the least of the reads; heap and kept (the runtime's idle
	// heap not yet returned to the kernel) are of the same read.
	rss, heap, kept float64 // bytes
	// anon and files split the RSS the kernel counts into anonymous
	// memory and pages of files (RssFile and RssShmem: the binary is a
	// file of the initramfs, which the kernel counts as shared memory),
	// at the minute's last read.
	anon, files           float64 // bytes
	goroutines, fds       int     // least of the reads
	maxGoroutines, maxFDs int
	// fdKinds counts PID 1's descriptors by what they are (socket, pipe,
	// a path), from the last read.
	fdKinds                map[string]int
	runs, applies, polls   int
	pollErrors, followRuns int
}

// TestSoak drives a box with two containers and a tiny VM for
// soakDuration (3 minutes in CI, which takes about 4; `make soak` an
// hour): status polled at 10 requests/s, a container that exits every
// 2 s under restart: always, its log followed with logs -f, and an apply
// alternating two configs every 15 s, which replaces that container and
// restarts the VM. PID 1's RSS, goroutines and descriptors, sampled each
// minute, stay within the bounds above after the first minute; the
// links (TAPs, veths, VLANs), cgroups and mounts after the load are
// those of the start (same config, looper stopped both times), and so
// are PID 1's goroutines and descriptors; steady runs on untouched; the
// followed log shows every run. It prints the samples as a table.
func TestSoak(t *testing.T) {
	harness.Require(t)
	dur := soakDuration(t)
	began := time.Now()
	k, err := harness.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	oci := busyboxLayout(t)
	tiny := tinyGuest(t, soakVMScript)
	cfgA := harness.WriteConfig(t, "soak-a.yaml", soakA)
	cfgB := harness.WriteConfig(t, "soak-b.yaml", soakB)
	img := harness.BuildImage(t, cfgA, harness.BuildArgs(
		"--add-file", guestState+"/images/vmlinuz="+k.Path,
		"--add-file", guestState+"/images/tiny.cpio.gz="+tiny,
		"--add-file", guestState+"/images/busybox="+oci,
	))
	bin := harness.Nucbox(t)
	m := img.Boot(t, harness.Options{NICs: []harness.NIC{{User: &harness.UserNet{
		Forward: []harness.Forward{{GuestPort: 8443}},
	}}}, MemoryMiB: 1536, CPUs: 2, Quiet: true})
	remote, ri := apiReady(t, m, vmReadyTimeout)
	t.Logf("ready after %.1fs (PID 1 RSS %d KiB); the console goes to %s", time.Since(began).Seconds(), ri.RSSKiB, harness.ArtifactsDir(t))
	host := "https://" + m.HostAddr(8443)
	openShell(t, m)

	ws := soakStatus(t, bin, remote, "every workload running", 90*time.Second, func(ws map[string]api.Workload) bool {
		return ws["steady"].PID > 0 && ws["tiny"].PID > 0 && ws["looper"].State != ""
	})
	steady, vm := ws["steady"], ws["tiny"]

	// The start's lists and counts, with looper stopped.
	workload(t, bin, remote, "stop", "looper", "container looper: stopped (held)")
	soakStatus(t, bin, remote, "looper stopped", 30*time.Second, func(ws map[string]api.Workload) bool {
		return ws["looper"].State == "stopped" && ws["looper"].PID == 0
	})
	hc := apiClient()
	soakMountNamespace(t, m, "at the start")
	before := soakInventory(t, m)
	g0, f0 := soakCounts(t, m, hc, host)
	// The lists see what runs: the VM's TAP, steady's veth, both
	// cgroups and steady's rootfs.
	for _, want := range []string{"link " + config.TAPName("tiny", 0), "link " + config.VethName("steady", 0), "link " + config.VLANIfName(10),
		"cgroup /sys/fs/cgroup/" + config.ContainerCgroup("steady"), "cgroup /sys/fs/cgroup/" + config.VMCgroup("tiny")} {
		if !slices.Contains(before, want) {
			t.Errorf("the inventory at the start lacks %q: it reads nothing\n%s", want, strings.Join(before, "\n"))
		}
	}
	if !slices.ContainsFunc(before, func(s string) bool { return strings.HasPrefix(s, "mount overlay ") && strings.Contains(s, "/steady/") }) {
		t.Errorf("the inventory at the start lacks steady's rootfs overlay:\n%s", strings.Join(before, "\n"))
	}
	t.Logf("at the start, looper stopped: %d goroutines, %d descriptors; %d links, cgroups and mounts:\n  %s", g0, f0, len(before), strings.Join(before, "\n  "))
	workload(t, bin, remote, "start", "looper", "container looper:")

	// The load.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	poll := &soakPoller{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); poll.run(ctx, host) }()
	follow := exec.Command(bin, append([]string{"logs", "looper", "-f"}, remote...)...)
	followed := &syncbuf.Buffer{}
	follow.Stdout, follow.Stderr = followed, io.Discard
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	followDone := make(chan struct{})
	go func() { follow.Wait(); close(followDone) }()
	stopFollow := func() {
		follow.Process.Kill()
		<-followDone
	}
	defer stopFollow()

	load := time.Now()
	// Every soakApplyEvery: read PID 1 (soakReads reads of each
	// figure), then apply the next config, B first; each minute the
	// reads since the last sample make one. The last tick only reads:
	// the last apply, A, came one tick before.
	var samples []soakSample
	var pending *soakSample
	tick := time.NewTicker(soakApplyEvery)
	defer tick.Stop()
	applies, cfgs, names := 0, []string{cfgB, cfgA}, []string{"B", "A"}
	for n := 0; ; n++ {
		if n > 0 {
			<-tick.C
		}
		pending = soakTake(t, m, hc, host, pending)
		if n%soakAppliesPerMinute == 0 {
			s := *pending
			s.minute, s.applies = n/soakAppliesPerMinute, applies
			s.polls, s.pollErrors, s.runs = poll.counts()
			s.followRuns = len(liveRun.FindAllString(followed.String(), -1))
			samples, pending = append(samples, s), nil
			t.Logf("minute %d: rss %.1f MiB (heap %.1f, kept %.1f), %d goroutines, %d descriptors (%s), looper runs %d, applies %d, polls %d",
				s.minute, s.rss/(1<<20), s.heap/(1<<20), s.kept/(1<<20), s.goroutines, s.fds, fdKindsText(s.fdKinds), s.runs, s.applies, s.polls)
		}
		if n == int(dur/soakApplyEvery) {
			break
		}
		stdout, _, code := cli(t, bin, append([]string{"apply", cfgs[n%2]}, remote...)...)
		if code != 0 || !strings.Contains(stdout, "~ container looper") || !strings.Contains(stdout, "~ vm tiny") || !strings.Contains(stdout, "applied: the box runs config") {
			t.Fatalf("apply %d (config %s): exit %d\n%s\nPID 1 until then:\n%s", n+1, names[n%2], code, stdout, soakTable(samples))
		}
		applies++
		// The control for the list at the end: B's VLAN 20 link and the
		// VM's second TAP are there after B and gone after A.
		links := soakLinks(t, m)
		for _, l := range []string{config.VLANIfName(20), config.TAPName("tiny", 1)} {
			if got, wantB := slices.Contains(links, l), n%2 == 0; got != wantB {
				t.Errorf("after apply %d (config %s): %s present %v, want %v", n+1, names[n%2], l, got, wantB)
			}
		}
	}
	cancel()
	wg.Wait()
	stopFollow()
	loadFor := time.Since(load)
	t.Logf("load ended after %s: %d applies; %s", loadFor.Round(time.Second), applies, poll.summary(loadFor))
	t.Logf("PID 1 during the soak (each figure the least of the minute's reads, %d every %s; the most in brackets):\n%s", soakReads, soakApplyEvery, soakTable(samples))

	// Nothing left behind: the same config as at the start (the last
	// apply was A), looper stopped again.
	workload(t, bin, remote, "stop", "looper", "container looper: stopped (held)")
	end := soakStatus(t, bin, remote, "looper stopped, the VM running", 60*time.Second, func(ws map[string]api.Workload) bool {
		return ws["looper"].State == "stopped" && ws["looper"].PID == 0 && ws["tiny"].State == "running" && ws["tiny"].PID > 0
	})
	soakMountNamespace(t, m, "after the soak")
	after := soakInventory(t, m)
	if gone, extra := soakDiff(before, after); len(gone)+len(extra) > 0 {
		t.Errorf("links, cgroups and mounts after the soak differ from the start's with the same config:\nleft behind:\n  %s\ngone:\n  %s",
			strings.Join(extra, "\n  "), strings.Join(gone, "\n  "))
	}
	soakSettle(t, m, hc, host, g0, f0)

	// steady ran through every apply and restart around it.
	if w := end["steady"]; w.PID != steady.PID || w.Restarts != steady.Restarts || w.State != "running" {
		t.Errorf("steady: pid %d restarts %d %s at the end, pid %d restarts %d at the start: an apply or looper's restarts touched it",
			w.PID, w.Restarts, w.State, steady.PID, steady.Restarts)
	}
	if end["tiny"].PID == vm.PID {
		t.Errorf("the VM has the pid it had at the start (%d): the applies did not restart it", vm.PID)
	}
	soakCheck(t, samples, poll, loadFor, applies)
	t.Logf("TestSoak took %s (load %s)", time.Since(began).Round(time.Second), loadFor.Round(time.Second))
}

// soakDuration reads soakEnv.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv(soakEnv)
	if v == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 2*time.Minute || d%time.Minute != 0 {
		t.Fatalf("%s=%q: want whole minutes, at least 2m (such as 5m or 1h)", soakEnv, v)
	}
	return d
}

// soakStatus polls nucbox status until want accepts the workloads by name.
func soakStatus(t *testing.T, bin string, remote []string, what string, timeout time.Duration, want func(map[string]api.Workload) bool) map[string]api.Workload {
	t.Helper()
	var ws map[string]api.Workload
	pollStatus(t, bin, remote, what, timeout, func(st *api.Status) bool {
		ws = map[string]api.Workload{}
		for _, w := range st.Workloads {
			ws[w.Name] = w
		}
		return want(ws)
	})
	return ws
}

// workload runs nucbox start, stop or restart of name.
func workload(t *testing.T, bin string, remote []string, action, name, want string) {
	t.Helper()
	stdout, stderr, code := cli(t, bin, append([]string{action, name}, remote...)...)
	if code != 0 || !strings.Contains(stdout, want) {
		t.Fatalf("nucbox %s %s: exit %d\n%s%s", action, name, code, stdout, stderr)
	}
}

// soakPoller asks for the status soakPollRate times a second on one
// connection and counts looper's runs by their pids.
type soakPoller struct {
	mu          sync.Mutex
	polls, errs int
	lastErr     string
	slowest     time.Duration
	total       time.Duration
	runs, vms   map[int]bool
}

func (p *soakPoller) run(ctx context.Context, host string) {
	hc := apiClient()
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(time.Second / soakPollRate)
	defer tick.Stop()
	p.mu.Lock()
	p.runs, p.vms = map[int]bool{}, map[int]bool{}
	p.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		st, err := soakGetStatus(ctx, hc, host)
		took := time.Since(start)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.polls++
		p.total += took
		p.slowest = max(p.slowest, took)
		if err != nil {
			p.errs++
			p.lastErr = err.Error()
		} else {
			for _, w := range st.Workloads {
				if w.Name == "looper" && w.PID > 0 {
					p.runs[w.PID] = true
				}
				if w.Name == "tiny" && w.PID > 0 {
					p.vms[w.PID] = true
				}
			}
		}
		p.mu.Unlock()
	}
}

func soakGetStatus(ctx context.Context, hc *http.Client, host string) (*api.Status, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", host+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status: %s", resp.Status)
	}
	var st api.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("status JSON: %w", err)
	}
	return &st, nil
}

func (p *soakPoller) counts() (polls, errs, runs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.polls, p.errs, len(p.runs)
}

func (p *soakPoller) summary(d time.Duration) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	mean := time.Duration(0)
	if p.polls > 0 {
		mean = p.total / time.Duration(p.polls)
	}
	return fmt.Sprintf("%d status requests (%.1f/s, mean %s, slowest %s), %d failed (last: %q); looper ran %d times, the VM %d times",
		p.polls, float64(p.polls)/d.Seconds(), mean.Round(time.Millisecond), p.slowest.Round(time.Millisecond), p.errs, p.lastErr, len(p.runs), len(p.vms))
}

// liveRun is a line of looper's that logs -f received as it came (such
// lines carry the box's uptime; the backlog's do not).
var liveRun = regexp.MustCompile(`(?m)^\[\s*\d+\.\d{6}\] LOOP-RUN [ab] \d+\.\d+\s*$`)

// soakTake reads PID 1 soakReads times: RSS and goroutines from
// /metrics, descriptors from /proc/1/fd in the console shell. It folds
// the reads into s (a new sample when nil): the least of each figure,
// and the most goroutines and descriptors.
func soakTake(t *testing.T, m *harness.Machine, hc *http.Client, host string, s *soakSample) *soakSample {
	t.Helper()
	if s == nil {
		s = &soakSample{rss: math.Inf(1), goroutines: math.MaxInt, fds: math.MaxInt}
	}
	for i := range soakReads {
		if i > 0 {
			time.Sleep(300 * time.Millisecond) // spreads the reads; waits for nothing
		}
		v := metricValues(t, hc, host, "process_resident_memory_bytes", "go_goroutines",
			"go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes")
		g := int(v["go_goroutines"])
		if rss := v["process_resident_memory_bytes"]; rss < s.rss {
			s.rss, s.heap = rss, v["go_memstats_heap_inuse_bytes"]
			s.kept = v["go_memstats_heap_idle_bytes"] - v["go_memstats_heap_released_bytes"]
		}
		s.goroutines, s.maxGoroutines = min(s.goroutines, g), max(s.maxGoroutines, g)
	}
	fds, kinds := soakFDs(t, m)
	for _, f := range fds {
		s.fds, s.maxFDs = min(s.fds, f), max(s.maxFDs, f)
	}
	s.fdKinds = kinds
	split := strings.Fields(shellValue(t, m, `grep -E '^Rss(Anon|File|Shmem):' /proc/1/status | awk '{printf "%s ", $2}'`))
	if len(split) == 3 {
		anon, _ := strconv.ParseFloat(split[0], 64)
		file, _ := strconv.ParseFloat(split[1], 64)
		shmem, _ := strconv.ParseFloat(split[2], 64)
		s.anon, s.files = anon*1024, (file+shmem)*1024
	}
	return s
}

// soakCounts is the least goroutine and descriptor counts of soakReads
// reads each.
func soakCounts(t *testing.T, m *harness.Machine, hc *http.Client, host string) (goroutines, fds int) {
	t.Helper()
	for i := range soakReads {
		g := int(metricValues(t, hc, host, "go_goroutines")["go_goroutines"])
		if i == 0 || g < goroutines {
			goroutines = g
		}
	}
	counts, _ := soakFDs(t, m)
	return goroutines, slices.Min(counts)
}

// soakSettle waits, after the load, until PID 1 holds no more
// goroutines and descriptors than at the start plus the slack: the
// poller's and the follower's connections are closed, and the server
// must let go of them.
func soakSettle(t *testing.T, m *harness.Machine, hc *http.Client, host string, g0, f0 int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, f := soakCounts(t, m, hc, host)
		if g <= g0+soakGoroutineSlack && f <= f0+soakFDSlack {
			t.Logf("after the soak, looper stopped: %d goroutines, %d descriptors (%d and %d at the start)", g, f, g0, f0)
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after the soak, looper stopped and the load's connections closed: %d goroutines and %d descriptors, "+
				"at the start %d and %d (slack %d and %d): something the soak started was left running or open", g, f, g0, f0, soakGoroutineSlack, soakFDSlack)
			return
		}
		time.Sleep(time.Second) // the polling interval
	}
}

var (
	fdLine     = regexp.MustCompile(`(?m)^nbx-fd:(\d+)\s*$`)
	fdKindLine = regexp.MustCompile(`(?m)^nbx-fdk:(\S*)\s*$`)
)

// soakFDs counts PID 1's open descriptors soakReads times, 0.3 s apart,
// and then counts them by what they are: socket, pipe, anon_inode:[...]
// or the path of a file or device.
func soakFDs(t *testing.T, m *harness.Machine) (counts []int, kinds map[string]int) {
	t.Helper()
	out := mustShell(t, m, fmt.Sprintf("for i in $(seq %d); do echo nbx-fd:$(ls /proc/1/fd | wc -l); usleep 300000; done; "+
		`echo "nbx-fdk:$(ls -l /proc/1/fd | sed -n 's/.* -> //p' | sed 's/:\[[0-9]*\]$//' | sort | uniq -c | awk '{printf "%%s=%%s,", $2, $1}')"`, soakReads))
	for _, f := range fdLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(f[1])
		counts = append(counts, n)
	}
	if len(counts) == 0 {
		t.Fatalf("no descriptor count in:\n%s", out)
	}
	kinds = map[string]int{}
	if k := fdKindLine.FindStringSubmatch(out); k != nil {
		for _, kv := range strings.Split(strings.TrimSuffix(k[1], ","), ",") {
			if name, n, ok := strings.Cut(kv, "="); ok {
				kinds[name], _ = strconv.Atoi(n)
			}
		}
	}
	return counts, kinds
}

// fdKindsText is the kinds as kind=count, sorted.
func fdKindsText(kinds map[string]int) string {
	var d []string
	for k, n := range kinds {
		d = append(d, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(d)
	return strings.Join(d, " ")
}

// fdKindsDiff says how the descriptors of two samples differ by kind.
func fdKindsDiff(from, to map[string]int) string {
	var d []string
	for k := range maps.Keys(from) {
		if to[k] != from[k] {
			d = append(d, fmt.Sprintf("%s %d→%d", k, from[k], to[k]))
		}
	}
	for k := range maps.Keys(to) {
		if _, ok := from[k]; !ok {
			d = append(d, fmt.Sprintf("%s 0→%d", k, to[k]))
		}
	}
	sort.Strings(d)
	if len(d) == 0 {
		return "the same kinds"
	}
	return strings.Join(d, ", ")
}

// soakLinks lists the box's network links.
func soakLinks(t *testing.T, m *harness.Machine) []string {
	t.Helper()
	return strings.Fields(shellValue(t, m, "ls /sys/class/net | tr '\\n' ' '"))
}

// soakInventory lists what workloads and applies create on the box:
// links ("link NAME"), cgroups ("cgroup PATH") and PID 1's mounts
// ("mount TYPE POINT"), sorted. Each kind is one line on the console
// (one write), so that a log line of PID 1 cannot land inside a name.
func soakInventory(t *testing.T, m *harness.Machine) []string {
	t.Helper()
	var inv []string
	for _, l := range soakLinks(t, m) {
		inv = append(inv, "link "+l)
	}
	for _, c := range strings.Fields(shellValue(t, m, "find /sys/fs/cgroup -mindepth 1 -type d | tr '\\n' ' '")) {
		inv = append(inv, "cgroup "+c)
	}
	mounts := shellValue(t, m, `awk '{for (i = 7; $i != "-"; i++) ; printf "%s:%s;", $(i+1), $5}' /proc/1/mountinfo`)
	for _, mt := range strings.Split(mounts, ";") {
		if typ, point, ok := strings.Cut(mt, ":"); ok {
			inv = append(inv, "mount "+typ+" "+point)
		}
	}
	sort.Strings(inv)
	return inv
}

// soakMountNamespace checks that PID 1 is in the box's mount namespace,
// the one the console shell's commands run in, so that /proc/1/mountinfo
// lists the box's mounts: the kernel shows a process's namespaces as
// those of its main thread, which a container start once left parked in
// the container's namespace. The shell's own namespace is the control: a
// container's init, read the same way, is in another.
func soakMountNamespace(t *testing.T, m *harness.Machine, when string) {
	t.Helper()
	got := strings.Fields(shellValue(t, m, "echo $(readlink /proc/1/ns/mnt) $(readlink /proc/self/ns/mnt)"))
	if len(got) != 2 || got[0] != got[1] {
		t.Errorf("%s: PID 1's mount namespace and the console shell's: %q; want the same one", when, got)
	}
	ct := shellValue(t, m, fmt.Sprintf("readlink /proc/$(head -n 1 /sys/fs/cgroup/%s/cgroup.procs)/ns/mnt", config.ContainerCgroup("steady")))
	if len(got) == 2 && ct == got[1] {
		t.Errorf("%s: steady's process is in the box's mount namespace (%s): the check above proves nothing", when, ct)
	}
}

// soakDiff is what before has that after lacks, and what after has more,
// counting duplicates (a mount stacked twice on one point).
func soakDiff(before, after []string) (gone, extra []string) {
	n := map[string]int{}
	for _, s := range before {
		n[s]++
	}
	for _, s := range after {
		n[s]--
	}
	for s, c := range n {
		for ; c > 0; c-- {
			gone = append(gone, s)
		}
		for ; c < 0; c++ {
			extra = append(extra, s)
		}
	}
	sort.Strings(gone)
	sort.Strings(extra)
	return gone, extra
}

// soakTable is the samples as a table.
func soakTable(samples []soakSample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6s %8s %7s %9s %10s %9s %9s %11s %12s %11s %8s %8s %9s\n", "minute", "RSS MiB", "ΔRSS", "anon MiB", "files MiB", "heap MiB", "kept MiB",
		"goroutines", "descriptors", "looper runs", "followed", "applies", "polls")
	var base soakSample
	for i, s := range samples {
		d := "-"
		if i == 1 {
			base = s
		}
		if i > 1 {
			d = fmt.Sprintf("%+.1f%%", 100*(s.rss/base.rss-1))
		}
		fmt.Fprintf(&b, "%6d %8.1f %7s %9.1f %10.1f %9.1f %9.1f %11s %12s %11d %8d %8d %9d\n", s.minute, s.rss/(1<<20), d,
			s.anon/(1<<20), s.files/(1<<20), s.heap/(1<<20), s.kept/(1<<20),
			fmt.Sprintf("%d [%d]", s.goroutines, s.maxGoroutines), fmt.Sprintf("%d [%d]", s.fds, s.maxFDs), s.runs, s.followRuns, s.applies, s.polls)
	}
	return b.String()
}

// soakCheck applies the bounds to the samples and checks that the load
// was what it claims.
func soakCheck(t *testing.T, samples []soakSample, p *soakPoller, d time.Duration, applies int) {
	t.Helper()
	if len(samples) < 3 {
		t.Fatalf("%d samples: the soak needs at least two minutes", len(samples))
	}
	warm := samples[1]
	for _, s := range samples[2:] {
		if s.rss > (1+soakRSSGrowth)*warm.rss {
			t.Errorf("minute %d: PID 1's RSS %.1f MiB, more than %.0f %% over the %.1f MiB at minute %d",
				s.minute, s.rss/(1<<20), 100*soakRSSGrowth, warm.rss/(1<<20), warm.minute)
		}
		if s.goroutines > warm.goroutines+soakGoroutineSlack {
			t.Errorf("minute %d: %d goroutines, %d at minute %d (slack %d): a goroutine leak", s.minute, s.goroutines, warm.goroutines, warm.minute, soakGoroutineSlack)
		}
		if s.fds > warm.fds+soakFDSlack {
			t.Errorf("minute %d: %d open descriptors, %d at minute %d (slack %d): a descriptor leak (by kind: %s)",
				s.minute, s.fds, warm.fds, warm.minute, soakFDSlack, fdKindsDiff(warm.fdKinds, s.fdKinds))
		}
	}
	polls, errs, runs := p.counts()
	p.mu.Lock()
	vms := len(p.vms)
	p.mu.Unlock()
	last := samples[len(samples)-1]
	minutes := d.Minutes()
	// What the load claims: polls at nearly the rate (a slow answer
	// under TCG delays the next tick), none failed; looper restarting
	// every few seconds; logs -f received a line of every run.
	if rate := float64(polls) / d.Seconds(); rate < 0.8*soakPollRate || errs > 0 {
		t.Errorf("status polling: %d requests in %s (%.1f/s, want about %d/s), %d failed", polls, d.Round(time.Second), rate, soakPollRate, errs)
	}
	if float64(runs) < 4*minutes {
		t.Errorf("looper ran %d times in %.0f minutes: want at least 4 a minute", runs, minutes)
	}
	if vms < applies {
		t.Errorf("the status showed %d pids of the VM over %d applies, each of which restarts it", vms, applies)
	}
	if last.followRuns < last.runs-1 {
		t.Errorf("logs -f received %d lines of looper's runs as they came, the status saw %d runs by minute %d", last.followRuns, last.runs, last.minute)
	}
}
