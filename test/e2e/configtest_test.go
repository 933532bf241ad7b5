package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/harness"
)

// labTestConfig is a Box Lab box for `nucbox test`: a VM and containers on
// VLAN 10 (served DHCP and DNS by the box, NATed to the uplink), two
// containers alone on VLAN 20, one on VLAN 30, which the uplink carries
// tagged to the lab, and one on the uplink's LAN. It has no
// api.listen: nucbox test adds one for its run.
const labTestConfig = `hostname: lab
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  vlans: [30]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, nat: true, dhcp: {range: 10.0.10.100-10.0.10.199, lease: 10m}}
dns: {domain: lab}
vms:
  - name: vm10
    memory: 128MiB
    kernel: images/vmlinuz
    initrd: images/idle.cpio.gz
    append: "` + innerAppend + `"
    nics: [{vlan: 10, ipv4: {address: 10.0.10.10/24}}]
    restart: never
containers:
  - {name: ct10, image: "oci-layout:images/busybox", command: [sleep, "100000"], nics: [{vlan: 10, ipv4: dhcp}], stop-timeout: 1s}
  - {name: ct20, image: "oci-layout:images/busybox", command: [sleep, "100000"], nics: [{vlan: 20, ipv4: {address: 10.0.20.5/24}}], stop-timeout: 1s}
  - {name: ct20b, image: "oci-layout:images/busybox", command: [sleep, "100000"], nics: [{vlan: 20, ipv4: {address: 10.0.20.6/24}}], stop-timeout: 1s}
  - {name: ct30, image: "oci-layout:images/busybox", command: [sleep, "100000"], nics: [{vlan: 30, ipv4: {address: 10.0.30.9/24}}], stop-timeout: 1s}
  - {name: ctup, image: "oci-layout:images/busybox", command: [sleep, "100000"], nics: [{ipv4: dhcp}], stop-timeout: 1s}
`

// labChecks are fourteen checks that hold for labTestConfig. The %s line
// is where the deliberately wrong expectation goes in the failing file.
// Checks that something is unreachable stay inside the box: what leaves
// through QEMU's user network is answered by whatever the host reaches
// (ctup pinging 10.0.10.10 got an echo reply from the host's side), so
// ctup's negative is the box's own uplink address, where nothing but the
// API listens (10.0.2.15: QEMU's DHCP server gives its first client that).
const labChecks = `within: 30s
checks:
  - {from: ct10, ping: 10.0.10.1}
  - {from: ct10, resolve: vm10.lab, answer: 10.0.10.10}
  - {from: ct10, connect: "10.0.10.1:53"}
  - {from: ct10, ping: 10.0.2.2}
  - {from: ct10, connect: "10.0.10.1:8443", expect: unreachable}
  - {from: ct20, ping: 10.0.20.6}
  - {from: ct20, ping: 10.0.10.1, expect: %s}
  - {from: ct20, ping: 10.0.2.2, expect: unreachable}
  - {from: ctup, ping: 10.0.2.2}
  - {from: ctup, connect: "10.0.2.15:22", expect: unreachable}
  - {from: box, resolve: vm10.lab, server: 10.0.10.1, answer: 10.0.10.10}
  - {status: vm10, state: running}
  - {from: ct30, ping: 10.0.30.5}
  - {from: ct30, ping: 10.0.30.6, expect: unreachable}
lab:
  - {vlan: 30, address: 10.0.30.5}
  - {vlan: 31, address: 10.0.30.6}
`

// TestConfigTests runs `nucbox test` as a lab's CI would, over the Box
// Lab config with two test files in one boot: one whose fourteen checks
// hold passes (among them a container on VLAN 30 reaching a lab host on
// VLAN 30 through the uplink, and not one on VLAN 31); the same with one expectation turned wrong fails, naming
// that check by file and line, and the command exits 1.
func TestConfigTests(t *testing.T) {
	harness.Require(t)
	k, err := harness.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	oci := busyboxLayout(t)
	idle := tinyGuest(t, "ip link set eth0 up\nwhile :; do sleep 3600; done\n")
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("lab.yaml", labTestConfig)
	good := write("lab.test.yaml", strings.Replace(labChecks, "%s", "unreachable", 1))
	bad := write("wrong.test.yaml", strings.Replace(labChecks, "%s", "reachable", 1))
	bin := harness.Nucbox(t)
	stdout, stderr, code := cli(t, bin, "test", cfg, good, bad, "--cache", filepath.Join(dir, "cache"), "--platform-cache", harness.CacheDir(t, "platform"),
		"--accel", "tcg", "--memory", "2048", "--cpus", "2", "--keep-console",
		"--add-file", guestState+"/images/vmlinuz="+k.Path,
		"--add-file", guestState+"/images/idle.cpio.gz="+idle,
		"--add-file", guestState+"/images/busybox="+oci)
	if code != 1 {
		t.Errorf("nucbox test exited %d, want 1 (one check of wrong.test.yaml fails)", code)
	}
	if !strings.Contains(stdout, "ok  \t"+good+"\t14 checks") {
		t.Errorf("lab.test.yaml did not pass all fourteen checks:\n%s", stdout)
	}
	for _, want := range []string{
		"--- FAIL: " + bad + ":9: ct20 ping 10.0.10.1 (",
		"FAIL\t" + bad + "\t1 of 14 checks failed",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(stdout, "--- FAIL"); n != 1 {
		t.Errorf("%d checks failed, want exactly the wrong one", n)
	}
	if !strings.Contains(stderr, "1 of 28 checks failed") || !regexp.MustCompile(`console is kept in \S+`).MatchString(stderr) {
		t.Errorf("stderr does not sum up the failure and keep the console:\n%s", stderr)
	}
}
