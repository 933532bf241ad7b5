package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// Nested TCG is slow: the inner Debian kernel takes a minute or two to
// reach its init inside the appliance. The deadlines bound a hang.
const (
	vmReadyTimeout = 240 * time.Second // a bigger initramfs (QEMU) to unpack and copy
	nestedTimeout  = 300 * time.Second
)

// guestState is where the appliance keeps guest files; the tiny guests'
// kernel and initrds are baked into the image under it.
const guestState = "/var/lib/nucbox"

// innerAppend keeps the inner kernel's console short: every character is
// an emulated UART write inside an emulated machine.
const innerAppend = "console=ttyS0 quiet panic=-1 mitigations=off"

// vmConfig has two guests: g1 on VLAN 10 with the box's VLAN 10 address as
// its peer and a cloud-init seed, g2 on VLAN 20 with an address in VLAN
// 10's subnet too, so that only the VLAN separates it from g1. g1 takes
// the accelerator the box picks, which must be TCG: the appliance itself
// runs on TCG, whose emulated SVM loads kvm_amd and passes a speed probe
// but has frozen the whole box with a nested KVM guest. g2 is pinned to
// TCG in the config.
const vmConfig = `hostname: vmbox
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  addresses:
    - {vlan: 10, address: 10.0.10.1/24}
    - {vlan: 20, address: 10.0.20.1/24}
vms:
  - name: g1
    memory: 160MiB
    kernel: images/vmlinuz
    initrd: images/g1.cpio.gz
    append: "` + innerAppend + `"
    nics: [{vlan: 10, ipv4: {address: 10.0.10.10/24, gateway: 10.0.10.1}}]
    cloud-init: {user-data: "#cloud-config\n# ` + g1UserData + `\n"}
    restart: never
    shutdown-timeout: 5s
  - name: g2
    memory: 160MiB
    kernel: images/vmlinuz
    initrd: images/g2.cpio.gz
    append: "` + innerAppend + `"
    # TCG whatever the box offers: the image's TCG module and firmware
    # must work, and this is the slow case to time.
    accel: tcg
    nics: [{vlan: 20}]
    restart: never
    shutdown-timeout: 5s
`

// The guests print markers on their serial console; the test reads them
// from the serial logs through the appliance's console shell. Their
// scripts never end, so that g1 stays up to be probed. Once its network
// checks are done, g1 finds its cloud-init seed by label, as cloud-init's
// NoCloud source does, and prints the files with its NIC's MAC.
const g1Script = `ip link set eth0 up
ip addr add 10.0.10.10/24 dev eth0
echo G1-BOOTED
n=0
until ping -c 1 -W 1 10.0.10.1 >/dev/null 2>&1; do
  n=$((n+1))
  if [ $n -ge 60 ]; then echo G1-PING-FAILED; break; fi
done
[ $n -lt 60 ] && echo G1-PING-OK
echo G1-MAC $(cat /sys/class/net/eth0/address)
` + harness.LoadLateModules + `
n=0
until seed=$(findfs LABEL=cidata 2>/dev/null); do
  n=$((n+1))
  if [ $n -ge 60 ]; then echo G1-SEED-NONE; break; fi
  sleep 1
done
if [ -n "$seed" ] && mkdir -p /seed && mount -t iso9660 -o ro "$seed" /seed; then
  for f in meta-data network-config user-data; do sed "s/^/G1-SEED-$f /" /seed/$f; done
  echo G1-SEED-DONE $seed
else
  echo G1-SEED-FAILED $seed
fi
while :; do sleep 3600; done
`

// g1UserData is a line of g1's user-data, to find in the seed it reads.
const g1UserData = "nucbox-e2e-user-data"

// g1SeedModules read g1's seed from q35's AHCI CD drive. They are loaded
// after g1's network checks, which they would delay by about a minute
// under nested TCG.
var g1SeedModules = []string{"ahci", "sr_mod", "isofs"}

const g2Script = `ip link set eth0 up
ip addr add 10.0.20.11/24 dev eth0
ip addr add 10.0.10.11/24 dev eth0
echo G2-BOOTED
n=0
until ping -c 1 -W 1 10.0.20.1 >/dev/null 2>&1; do
  n=$((n+1))
  if [ $n -ge 60 ]; then echo G2-BOX-FAILED; break; fi
done
[ $n -lt 60 ] && echo G2-BOX-OK
n=0
while :; do
  n=$((n+1))
  if ping -c 1 -W 1 10.0.10.10 >/dev/null 2>&1; then echo G2-REACHED-G1; else echo G2-PROBE-$n; fi
done
`

// stableCopy copies a generated file to a name derived from its content
// in the build cache, so that the image (keyed by the build flags, which
// name the file) is rebuilt only when the content changes.
func stableCopy(t *testing.T, src, ext string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	dst := filepath.Join(harness.CacheDir(t, "guests"), hex.EncodeToString(sum[:10])+ext)
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	tmp := fmt.Sprintf("%s.tmp%d", dst, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func tinyGuest(t *testing.T, script string) string {
	t.Helper()
	p := harness.TinyInitramfs(t, harness.Tiny{Script: script, Modules: []string{"virtio_pci", "virtio_net"}})
	return stableCopy(t, p, ".cpio.gz")
}

// openVMShell takes the console shell PID 1 offers after ready.
func openVMShell(t *testing.T, m *harness.Machine) {
	t.Helper()
	m.MustExpect(shellTimeout, `press Enter for a shell`)
	if err := m.Send("\n"); err != nil {
		t.Fatal(err)
	}
}

// waitSerial waits until a guest's serial log, as the appliance keeps it,
// has a line matching pattern, and returns the log's marker lines (prefix).
func waitSerial(t *testing.T, m *harness.Machine, timeout time.Duration, vm, pattern, prefix string) string {
	t.Helper()
	return waitLog(t, m, timeout, guestState+"/vms/"+vm+"/serial.log", pattern, prefix)
}

// TestNestedVMs boots the appliance with two tiny guests and checks, all
// through the appliance: both run under the accelerator it chose, each
// QEMU in its own memory-limited cgroup with its sandbox on, g1 on
// VLAN 10 reaches the box's VLAN 10 address, g2 on VLAN 20 reaches the
// box's VLAN 20 address but not g1, g1 mounts its cloud-init seed and
// finds what the config says in it, and a powerdown of the box stops the
// guests before the box powers off.
func TestNestedVMs(t *testing.T) {
	harness.Require(t)
	k, err := harness.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	g1 := stableCopy(t, harness.TinyInitramfs(t, harness.Tiny{Script: g1Script,
		Modules: []string{"virtio_pci", "virtio_net"}, LateModules: g1SeedModules}), ".cpio.gz")
	g2 := tinyGuest(t, g2Script)
	cfg := harness.WriteConfig(t, "vms.yaml", vmConfig)
	img := harness.BuildImage(t, cfg, harness.BuildArgs(
		"--add-file", guestState+"/images/vmlinuz="+k.Path,
		"--add-file", guestState+"/images/g1.cpio.gz="+g1,
		"--add-file", guestState+"/images/g2.cpio.gz="+g2,
	))
	if sz, err := img.Sizes(); err == nil {
		t.Logf("image with QEMU and the guests: initramfs %.1f MiB (%.1f MiB unpacked)",
			float64(sz.Initramfs)/(1<<20), float64(sz.InitramfsUncompressed)/(1<<20))
	}

	start := time.Now()
	m := img.Boot(t, harness.Options{NICs: uplink(), MemoryMiB: 2048, CPUs: 2})
	ri := m.ExpectReady(vmReadyTimeout)
	t.Logf("appliance ready after %.1fs: %s", time.Since(start).Seconds(), ri.Line)
	if ri.VMs != 2 || len(ri.Guests) != 2 {
		t.Fatalf("ready summary: vms=%d guests=%+v, want 2 of each", ri.VMs, ri.Guests)
	}
	for _, g := range ri.Guests {
		if g.State != "running" || g.PID == 0 {
			t.Errorf("guest %s: state %q pid %d (error %q), want running", g.Name, g.State, g.PID, g.Error)
		}
		if g.Accel != "tcg" {
			t.Errorf("guest %s: accel %q, want tcg on a box that runs on TCG", g.Name, g.Accel)
		}
	}
	if !regexp.MustCompile(`vms: accelerator chosen vm=g1 accel=tcg reason=auto: KVM not usable \(host CPU: this machine runs on QEMU's TCG`).MatchString(m.Output()) {
		t.Errorf("the appliance did not log why auto chose TCG for g1")
	}

	openVMShell(t, m)
	ready := time.Now()
	// Each QEMU runs in its own cgroup under the workloads' parent,
	// limited to the guest's memory and QEMU's overhead, with its seccomp
	// sandbox on.
	for _, g := range ri.Guests {
		got := shellValue(t, m, fmt.Sprintf("echo $(cut -d: -f3 /proc/%d/cgroup) $(cat /sys/fs/cgroup/nucbox.workloads/vm-%s/memory.max) $(grep Seccomp: /proc/%[1]d/status | cut -f2)", g.PID, g.Name))
		if want := fmt.Sprintf("/nucbox.workloads/vm-%s %d 2", g.Name, 160<<20+512<<20); got != want {
			t.Errorf("QEMU of %s: cgroup, memory.max, seccomp mode %q, want %q", g.Name, got, want)
		}
		// Unprivileged: its own uid and gid (not root), no capabilities,
		// no_new_privs; the box's PID 1 (root, full capabilities) read the
		// same way is the control.
		got = strings.Join(strings.Fields(shellValue(t, m, fmt.Sprintf("echo $(grep -E '^(Uid|Gid|CapEff|CapPrm|NoNewPrivs):' /proc/%d/status)", g.PID))), " ")
		t.Logf("QEMU of %s (pid %d): %s", g.Name, g.PID, got)
		f := regexp.MustCompile(`^Uid: (\d+) (\d+) (\d+) (\d+) Gid: (\d+) \d+ \d+ \d+ CapPrm: (\w+) CapEff: (\w+) NoNewPrivs: (\d)`).FindStringSubmatch(got)
		if f == nil || f[1] == "0" || f[1] != f[2] || f[1] != f[3] || f[1] != f[4] || f[5] == "0" || f[6] != "0000000000000000" || f[7] != "0000000000000000" || f[8] != "1" {
			t.Errorf("QEMU of %s is not unprivileged: %s", g.Name, got)
		}
		if ctl := strings.Join(strings.Fields(shellValue(t, m, "echo $(grep -E '^(Uid|CapEff):' /proc/1/status)")), " "); !strings.HasPrefix(ctl, "Uid: 0 0 0 0 CapEff: 000001ff") {
			t.Errorf("PID 1 read the same way: %q, want root with every capability (the check above proves nothing)", ctl)
		}
	}
	if a, b := ri.Guests[0].PID, ri.Guests[1].PID; a > 0 && b > 0 {
		uids := shellValue(t, m, fmt.Sprintf("echo $(stat -c %%u /proc/%d) $(stat -c %%u /proc/%d)", a, b))
		if f := strings.Fields(uids); len(f) != 2 || f[0] == f[1] {
			t.Errorf("the two QEMUs run as uids %q: want one each", uids)
		}
	}
	out := waitSerial(t, m, nestedTimeout, "g1", "G1-PING-", "G1-")
	t.Logf("g1 (VLAN 10) %.1fs after ready: %q", time.Since(ready).Seconds(), out)
	if !strings.Contains(out, "G1-BOOTED") || !strings.Contains(out, "G1-PING-OK") {
		t.Fatalf("g1 on VLAN 10 did not reach the box's VLAN 10 address 10.0.10.1; its markers: %q", out)
	}
	// g1 answers on VLAN 10: the box reaches it, so g2 failing to is the
	// VLAN's doing.
	if _, err := m.Shell(shellTimeout, "ping -c 2 -W 5 10.0.10.10"); err != nil {
		t.Fatalf("box cannot ping g1 on VLAN 10: %v", err)
	}
	out = waitSerial(t, m, nestedTimeout, "g2", "G2-BOX-", "G2-B")
	t.Logf("g2 (VLAN 20) %.1fs after ready: %q", time.Since(ready).Seconds(), out)
	if !strings.Contains(out, "G2-BOX-OK") {
		t.Fatalf("g2 on VLAN 20 did not reach the box's VLAN 20 address 10.0.20.1; its markers: %q", out)
	}

	// g1 is up and answering now; g2 must fail several more probes of it.
	log2 := guestState + "/vms/g2/serial.log"
	out, err = m.Shell(nestedTimeout, fmt.Sprintf(
		"n=$(grep -ac G2-PROBE- %[1]s); until [ $(grep -ac G2-PROBE- %[1]s) -ge $((n+3)) ]; do sleep 1; done; "+
			"echo probes=$(grep -ac G2-PROBE- %[1]s) reached=$(grep -ac G2-REACHED-G1 %[1]s)", log2))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("g2 probing g1 across VLANs: %s", strings.TrimSpace(out))
	var probes, reached int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "probes=%d reached=%d", &probes, &reached); err != nil {
		t.Fatalf("probe count %q: %v", out, err)
	}
	if reached != 0 || probes < 3 {
		t.Errorf("g2 on VLAN 20 reached g1 on VLAN 10 %d times (%d failed probes): VLANs do not separate guests", reached, probes)
	}

	checkSeed(t, m, "vmbox", "g1", ready)

	// Box shutdown: the guests ignore the ACPI button (no acpid), so each
	// is quit after its 5 s shutdown-timeout, both at once.
	if err := m.Powerdown(); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitExit(90 * time.Second); err != nil {
		t.Fatalf("appliance did not power off: %v", err)
	}
	for _, vm := range []string{"g1", "g2"} {
		if !regexp.MustCompile(`vms: VM stopped vm=` + vm + ` by=(quit|powerdown)`).MatchString(m.Output()) {
			t.Errorf("no orderly stop of %s logged before power-off", vm)
		}
	}
}

// TestVMFailureKeepsBoxUp boots a box whose only guest cannot start (its
// kernel is not there): the box still gets ready, the guest is reported
// failed with the reason, and PID 1's shell answers.
func TestVMFailureKeepsBoxUp(t *testing.T) {
	harness.Require(t)
	cfg := harness.WriteConfig(t, "vm-missing.yaml", `hostname: vmfail
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
vms:
  - name: lost
    memory: 64MiB
    kernel: images/not-there
    restart: never
`)
	img := harness.BuildImage(t, cfg)
	m := img.Boot(t, harness.Options{NICs: uplink(), MemoryMiB: 1024})
	ri := m.ExpectReady(vmReadyTimeout)
	if len(ri.Guests) != 1 {
		t.Fatalf("ready summary guests = %+v, want the one VM", ri.Guests)
	}
	g := ri.Guests[0]
	if g.State != "failed" || !strings.Contains(g.Error, "not-there") {
		t.Errorf("guest %+v: want state failed with an error naming the missing kernel", g)
	}
	if !regexp.MustCompile(`vms: lost: FAILED: .*not-there`).MatchString(m.Output()) {
		t.Errorf("the failed VM was not reported on the console")
	}
	openVMShell(t, m)
	out, err := m.Shell(shellTimeout, "echo alive-$((40+2))")
	if err != nil || !strings.Contains(out, "alive-42") {
		t.Errorf("console shell after a failed VM: %q, %v", out, err)
	}
}

// checkSeed reads, from the serial log of a guest running g1Script, the
// NoCloud seed it found by its label (cidata) on its CD drive and
// mounted, and checks it against the config: the instance-id scoped by
// box and VM, the VM's name as hostname, the user-data given, and a
// network-config that matches the guest's own NIC by the MAC the guest
// sees and gives it the configured address and gateway.
func checkSeed(t *testing.T, m *harness.Machine, box, vm string, ready time.Time) {
	t.Helper()
	start := time.Now()
	out := waitSerial(t, m, nestedTimeout, vm, "G1-SEED-[DNF]", "G1-")
	t.Logf("%s's seed %.1fs after ready (%.1fs waited):\n%s", vm, time.Since(ready).Seconds(), time.Since(start).Seconds(), out)
	if !strings.Contains(out, "G1-SEED-DONE /dev/sr") {
		t.Fatalf("%s did not find and mount a CD labelled cidata", vm)
	}
	seed := map[string][]string{}
	for _, f := range regexp.MustCompile(`(?m)^G1-SEED-(meta-data|network-config|user-data) (.*?)\s*$`).FindAllStringSubmatch(out, -1) {
		seed[f[1]] = append(seed[f[1]], f[2])
	}
	mac := regexp.MustCompile(`G1-MAC ([0-9a-f:]{17})`).FindStringSubmatch(out)
	if mac == nil {
		t.Fatalf("%s printed no MAC for eth0", vm)
	}
	has := func(file, want string) {
		t.Helper()
		for _, l := range seed[file] {
			if strings.TrimSpace(l) == want {
				return
			}
		}
		t.Errorf("%s's seed %s lacks the line %q: %q", vm, file, want, seed[file])
	}
	has("meta-data", "instance-id: nucbox-"+box+"-"+vm)
	has("meta-data", "local-hostname: "+vm)
	has("user-data", "#cloud-config")
	has("user-data", "# "+g1UserData)
	has("network-config", "version: 2")
	has("network-config", `macaddress: "`+mac[1]+`"`)
	has("network-config", "- 10.0.10.10/24")
	has("network-config", "via: 10.0.10.1")
}
