package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// Deadlines are generous: TCG on two shared cores, possibly with other
// tests and builds running, is several times slower than the ~6 s the
// Debian kernel needs alone. They bound a hang; they are not targets.
const (
	readyTimeout    = 120 * time.Second
	powerOffTimeout = 30 * time.Second // the requirement
	shellTimeout    = 30 * time.Second
)

// basicConfig is the config `make run` boots.
const basicConfig = "examples/basic.yaml"

// uplink is the NIC every appliance test boots with: QEMU's user network
// answers the DHCP request that examples/basic.yaml makes.
func uplink() []harness.NIC {
	return []harness.NIC{{User: &harness.UserNet{}}}
}

// bootBasic boots the basic image (built once per test process) and
// waits for ready.
func bootBasic(t *testing.T) (*harness.Machine, harness.ReadyInfo) {
	t.Helper()
	img := harness.BuildImage(t, basicConfig)
	m := img.Boot(t, harness.Options{NICs: uplink()})
	return m, m.ExpectReady(readyTimeout)
}

func TestBootReady(t *testing.T) {
	harness.Require(t)
	m, ri := bootBasic(t)

	root, _ := harness.RepoRoot()
	cfg, err := os.ReadFile(filepath.Join(root, basicConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^hostname:\s*(\S+)`).FindSubmatch(cfg)
	if want == nil {
		t.Fatalf("%s has no hostname line", basicConfig)
	}
	if ri.Hostname != string(want[1]) {
		t.Errorf("ready summary hostname = %q, want %q from %s", ri.Hostname, want[1], basicConfig)
	}
	sum := sha256.Sum256(cfg)
	if ri.Config != hex.EncodeToString(sum[:]) {
		t.Errorf("ready summary config = %q, want the sha256 of %s (%x)", ri.Config, basicConfig, sum)
	}
	if ri.InitMS <= 0 || ri.ReadyMS < ri.InitMS {
		t.Errorf("boot timeline init_ms=%d ready_ms=%d: want 0 < init <= ready", ri.InitMS, ri.ReadyMS)
	}
	t.Logf("ready: %s", ri.Line)
	if ri.Root != "initramfs-bind" {
		t.Errorf("ready summary root = %q, want initramfs-bind (the initramfs bind-mounted onto /, no copy)", ri.Root)
	}
	for _, p := range bootOrderProblems(m.Output()) {
		t.Errorf("boot order: %s", p)
	}
	if st, err := m.Status(); err != nil || st != "running" {
		t.Errorf("QEMU status after ready = %q, %v; want running", st, err)
	}
}

// invalidConfig has one error at a known place, so the test can check
// that the boot failure names the file, line and column.
const invalidConfig = `hostname: nucbox-bad
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  colour: blue
`

func TestInvalidConfigRescue(t *testing.T) {
	harness.Require(t)
	img := harness.BuildImage(t, harness.WriteConfig(t, "invalid.yaml", invalidConfig), harness.AllowInvalidConfig())
	m := img.Boot(t, harness.Options{NICs: uplink()})

	failed := m.MustExpect(readyTimeout, `nucbox: (?:ready|failed: (\S+): (.*))$`)
	if failed[1] != "config" {
		t.Fatalf("want a config failure, got %q", failed[0])
	}
	// The failure line or its detail lines name the error at
	// file:line:column: "colour" is line 6, column 3.
	if !strings.Contains(failed[2], ":6:3") {
		detail, err := m.Expect(10*time.Second, `\S+:6:3\b.*$`)
		if err != nil {
			t.Fatalf("no file:6:3 position for the unknown field in the failure report: %v", err)
		}
		if !strings.Contains(detail[0], "colour") {
			t.Errorf("error at 6:3 does not name the field colour: %q", detail[0])
		}
	}
	m.MustExpect(10*time.Second, harness.RescuePattern)

	// The rescue shell answers: the arithmetic proves a shell ran it,
	// since the echo of the typed line shows only the expression.
	if _, err := m.ExpectPrompt(shellTimeout, harness.ShellPromptPattern); err != nil {
		t.Fatalf("no rescue shell prompt: %v", err)
	}
	if err := m.Send("echo rescue-$((6*7))\n"); err != nil {
		t.Fatal(err)
	}
	m.MustExpect(shellTimeout, `^rescue-42\s*$`)

	// PID 1 is still there and not a zombie.
	out, err := m.Shell(shellTimeout, "kill -0 1 && grep -E '^(Name|State):' /proc/1/status")
	if err != nil {
		t.Fatalf("PID 1 check: %v", err)
	}
	if !strings.Contains(out, "State:") || strings.Contains(out, "zombie") {
		t.Errorf("PID 1 status:\n%s", out)
	}
	if st, err := m.Status(); err != nil || st != "running" {
		t.Errorf("QEMU status = %q, %v; want running", st, err)
	}
}

func TestPowerdown(t *testing.T) {
	harness.Require(t)
	m, _ := bootBasic(t)

	start := time.Now()
	if err := m.Powerdown(); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitExit(powerOffTimeout); err != nil {
		t.Fatalf("after system_powerdown: %v", err)
	}
	t.Logf("QEMU exited %.1fs after system_powerdown", time.Since(start).Seconds())
	// QEMU's own account: the guest asked to be shut down.
	if ev, err := m.WaitEvent(time.Second, "SHUTDOWN"); err != nil {
		t.Errorf("QMP: %v", err)
	} else if ev.Data["reason"] != "guest-shutdown" {
		t.Errorf("SHUTDOWN reason %v, want guest-shutdown", ev.Data["reason"])
	}
	// The console is complete now: PID 1 said it was powering off, and
	// the kernel powered down rather than rebooted or panicked (both
	// also end QEMU under -no-reboot).
	m.MustExpect(time.Second, harness.PoweringOffPattern)
	m.MustExpect(time.Second, `reboot: Power down`)
	if strings.Contains(m.Output(), "Kernel panic") {
		t.Error("kernel panic during shutdown")
	}
}

// moduleUsers parses /proc/modules into module -> the modules using it.
func moduleUsers(procModules string) map[string][]string {
	mods := map[string][]string{}
	for _, l := range strings.Split(procModules, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		var users []string
		if f[3] != "-" {
			users = strings.Split(strings.TrimSuffix(f[3], ","), ",")
		}
		mods[f[0]] = users
	}
	return mods
}

// TestModuleDependencies checks the modules PID 1 loads at boot, and
// that its hotplug loads the driver of a NIC plugged in after ready.
func TestModuleDependencies(t *testing.T) {
	harness.Require(t)
	img := harness.BuildImage(t, basicConfig)
	m := img.Boot(t, harness.Options{NICs: uplink(), Extra: hotplugPort})

	loaded := m.MustExpect(readyTimeout, `nucbox: modules: loaded \d+ in \d+ ms: (.*)$`)
	names := map[string]bool{}
	for _, n := range strings.Fields(loaded[1]) {
		names[n] = true
	}
	for _, n := range []string{"bridge", "stp", "llc"} {
		if !names[n] {
			t.Errorf("module %s not in the boot log's list: %s", n, loaded[1])
		}
	}
	m.ExpectReady(readyTimeout)
	if strings.Contains(m.Output(), "Unknown symbol") {
		t.Error("the kernel rejected a module for a missing symbol: a dependency was loaded too late")
	}

	// The kernel's own view: bridge is live, and stp and llc are held
	// by it, which only happens when they were loaded before it.
	if _, err := m.Expect(shellTimeout, `press Enter for a shell`); err != nil {
		t.Fatal(err)
	}
	if err := m.Send("\n"); err != nil {
		t.Fatal(err)
	}
	out, err := m.Shell(shellTimeout, "cat /proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	users := moduleUsers(out)
	if _, ok := users["bridge"]; !ok {
		t.Fatalf("bridge not in /proc/modules:\n%s", out)
	}
	for dep, want := range map[string][]string{"stp": {"bridge"}, "llc": {"bridge", "stp"}} {
		for _, w := range want {
			if !contains(users[dep], w) {
				t.Errorf("%s used by %v, want %s among them", dep, users[dep], w)
			}
		}
	}
	if _, ok := users["e1000e"]; ok {
		t.Fatalf("e1000e is loaded before any e1000e NIC exists: the hotplug check would prove nothing")
	}
	checkHotplugNIC(t, m)
}

// hotplugPort is an empty PCIe root port for a NIC plugged in after boot:
// devices on q35's root bus cannot be hot-added.
var hotplugPort = []string{"-device", "pcie-root-port,id=hp0,bus=pcie.0,chassis=9,slot=9"}

// hotMAC is the hot-added NIC's address, to find it among the box's links.
const hotMAC = "52:54:00:e1:00:0e"

// checkHotplugNIC plugs an e1000e NIC into the running box through QMP
// (device_add into hotplugPort) and checks that PID 1's hotplug loaded
// its driver, which nothing at boot loaded: PID 1 logs the load for the
// device's modalias, and the kernel shows a link with the NIC's MAC bound
// to e1000e next to the uplink's virtio_net.
func checkHotplugNIC(t *testing.T, m *harness.Machine) {
	t.Helper()
	start := time.Now()
	if _, err := m.QMP("netdev_add", map[string]any{"type": "user", "id": "hotnet"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.QMP("device_add", map[string]any{"driver": "e1000e", "id": "hotnic", "bus": "hp0", "netdev": "hotnet", "mac": hotMAC}); err != nil {
		t.Fatal(err)
	}
	loaded, err := m.Expect(60*time.Second, `nucbox: modules: hotplug: (.*) for (pci:v00008086\S+)$`)
	if err != nil {
		t.Fatalf("PID 1 logged no driver load for the hot-added e1000e NIC: %v", err)
	}
	if !contains(strings.Fields(loaded[1]), "e1000e") {
		t.Errorf("hotplug loaded %q for %s, want e1000e among them", loaded[1], loaded[2])
	}
	// The kernel's and PID 1's lines came after the shell's prompt: ask
	// for a fresh one.
	if err := m.Send("\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Shell(shellTimeout, "until grep -qs "+hotMAC+" /sys/class/net/*/address; do usleep 100000; done"); err != nil {
		t.Fatalf("no link with the hot-added NIC's MAC %s: %v", hotMAC, err)
	}
	links := shellValue(t, m, `for n in /sys/class/net/*; do [ -e $n/device/driver ] && echo $(basename $(readlink $n/device/driver))=$(cat $n/address); done | sort | tr '\n' ' '`)
	t.Logf("links with a device after the hot-add (%.1fs): %s", time.Since(start).Seconds(), links)
	if !strings.Contains(links, "virtio_net=") {
		t.Errorf("the uplink's virtio_net is not among the links with a driver: %q (the listing is wrong)", links)
	}
	if !strings.Contains(links, "e1000e="+hotMAC) {
		t.Errorf("no link with MAC %s bound to e1000e: %q", hotMAC, links)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
