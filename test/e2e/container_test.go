package e2e

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/containers/imagetest"
	"github.com/nucbox/nucbox/test/harness"
)

// ctConfig runs two containers from images baked into the initramfs:
// pinger, from the busybox OCI layout the test builds, on VLAN 10 with a
// static address next to the box's VLAN 10 address and with memory and
// pids limits; lost, whose image is not there, which must fail on its
// own while pinger runs and the box gets ready; forker, which runs into
// its pids limit; and lan, on the lab network with a DHCP lease.
const ctConfig = `hostname: ctbox
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  addresses:
    - {vlan: 10, address: 10.0.10.1/24}
containers:
  - name: pinger
    image: oci-layout:images/busybox
    command: [sh, -c, "` + ctScript + `"]
    nics: [{vlan: 10, ipv4: {address: 10.0.10.5/24, gateway: 10.0.10.1}}]
    memory: 64MiB
    pids: 16
    restart: never
    stop-timeout: 2s
  - name: lost
    image: oci-layout:images/not-there
    restart: never
  - name: forker
    image: oci-layout:images/busybox
    command: [sh, -c, "` + forkScript + `"]
    pids: 8
    restart: never
  - name: lan
    image: oci-layout:images/busybox
    command: [sh, -c, "` + lanScript + `"]
    nics: [{ipv4: dhcp}]
    restart: never
    stop-timeout: 1s
  - name: policed
    image: oci-layout:images/busybox
    command: [sh, -c, "` + policedScript + `"]
    nics:
      - vlan: 10
        ipv4: {address: 10.0.10.6/24, gateway: 10.0.10.1}
        policy:
          rate: 8Mbit
          rules: [{action: deny, proto: tcp, port: 8081}]
    restart: never
    stop-timeout: 1s
switch:
  mirrors: [{from: [pinger.0], to: capture0}]
api:
  listen: ":8443"
`

// lanScript runs in a container on the uplink's native VLAN, that is on
// the lab network itself, with an address from the lab's DHCP server
// (QEMU's): it shows its lease and resolv.conf and pings the gateway.
const lanScript = `ip -4 addr show dev eth0 | grep inet | sed 's/^ */LAN-/'; ip route | grep default | sed 's/^/LAN-route /'; ` +
	`sed 's/^/LAN-resolv /' /etc/resolv.conf; ` +
	`n=0; until ping -c 1 -W 1 10.0.2.2 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 30 ]; then break; fi; done; ` +
	`if [ $n -lt 30 ]; then echo LAN-PING-OK; else echo LAN-PING-FAILED; fi; exec sleep 100000`

// forkScript starts processes until the pids limit stops it: the shell
// then gives up with an error and the container ends. Each line reads
// pids.current with a builtin, which needs no process of its own.
const forkScript = `i=0; while [ $i -lt 40 ]; do sleep 300 & i=$((i+1)); read c < /sys/fs/cgroup/pids.current; echo CT-FORK=$i/$c; done; echo CT-FORK-UNLIMITED`

// ctScript prints the container's view of its privileges and limits,
// tries a syscall the seccomp profile refuses (unshare, for a user
// namespace, which needs no capability and which the box's kernel
// allows) and a privileged one it allows (chroot, with Docker's
// CAP_SYS_CHROOT), pings the box's VLAN 10 address and then stays up.
// One line of YAML string: no double quotes or backslashes in it.
const ctScript = `echo CT-START; ` +
	`w=/tmp/www; mkdir -p $w 2>/dev/null || w=/dev/shm/www; mkdir -p $w; echo ok > $w/ok; ` +
	`dd if=/dev/zero of=$w/blob bs=64k count=32 2>/dev/null; httpd -p 8080 -h $w; httpd -p 8081 -h $w; ` +
	`grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | sed 's/^/CT-/; s/:[[:space:]]*/=/'; ` +
	`e=$(busybox unshare -U true 2>&1); echo CT-UNSHARE=$?; echo CT-UNSHARE-SAYS: $e; ` +
	`busybox chroot / true; echo CT-CHROOT=$?; ` +
	`echo CT-MEMMAX=$(cat /sys/fs/cgroup/memory.max) CT-PIDSMAX=$(cat /sys/fs/cgroup/pids.max); ` +
	`n=0; until ping -c 1 -W 1 10.0.10.1 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 30 ]; then break; fi; done; ` +
	`if [ $n -lt 30 ]; then echo CT-PING-OK; else echo CT-PING-FAILED; fi; ` +
	`timeout 4 nc -w 2 10.0.10.1 8443 </dev/null; echo CT-API=$?; ` +
	`exec sleep 100000`

// policedScript runs behind a port policy on VLAN 10: it fetches from
// pinger's web servers on 8080 and 8081 (the same files), the second
// port denied by the policy, and then times a 2 MiB download from 8080
// through its port's 8 Mbit/s limit by the kernel's uptime.
const policedScript = `n=0; until timeout 3 wget -q -O /dev/null http://10.0.10.5:8080/ok; do n=$((n+1)); if [ $n -ge 60 ]; then break; fi; sleep 1; done; echo POL-SERVER=$n; ` +
	`timeout 4 wget -q -O /dev/null http://10.0.10.5:8081/ok; echo POL-DENIED=$?; ` +
	`timeout 4 wget -q -O /dev/null http://10.0.10.5:8080/ok; echo POL-ALLOWED=$?; ` +
	`read a x < /proc/uptime; timeout 60 wget -q -O /dev/null http://10.0.10.5:8080/blob; r=$?; read b x < /proc/uptime; ` +
	`echo POL-RATE rc=$r start=$a end=$b; exec sleep 100000`

// Docker's default capability set as a mask: CHOWN DAC_OVERRIDE FOWNER
// FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT
// MKNOD AUDIT_WRITE SETFCAP.
const dockerCaps = "00000000a80425fb"

// busyboxLayout writes an OCI layout with busybox-static in one layer
// into the build cache, under a name derived from the image's digest, so
// that the appliance image (keyed by the build flags) is rebuilt only
// when the content changes.
func busyboxLayout(t testing.TB) string {
	t.Helper()
	img := imagetest.Busybox(t, []string{"sh", "-c", "echo no command given"}, []string{"PATH=/bin"})
	return writeLayout(t, "oci-busybox", img)
}

// TestContainerOnVLAN boots the appliance with a container whose image is
// an OCI layout in the initramfs. Through the console shell and the
// local API it checks that the container runs with Docker's capabilities,
// under the default seccomp profile (a denied syscall fails with EPERM,
// an allowed one works), inside a rootfs it entered by pivot_root, and
// with the configured memory and pids limits as cgroup2 has them, that it
// reaches the box's VLAN 10 address and the box reaches it, that the
// container whose image is missing is reported failed without holding
// up the box, and that power-off stops the container.
func TestContainerOnVLAN(t *testing.T) {
	harness.Require(t)
	oci := busyboxLayout(t)
	cfg := harness.WriteConfig(t, "containers.yaml", ctConfig)
	img := harness.BuildImage(t, cfg, harness.BuildArgs("--add-file", guestState+"/images/busybox="+oci))

	start := time.Now()
	m := img.Boot(t, harness.Options{NICs: uplink(), MemoryMiB: 1024})
	ri := m.ExpectReady(readyTimeout)
	t.Logf("appliance ready after %.1fs: %s", time.Since(start).Seconds(), ri.Line)
	if ri.Containers != 5 {
		t.Errorf("ready summary containers = %d, want 5", ri.Containers)
	}
	out := m.Output()
	started := regexp.MustCompile(`containers: pinger: running pid (\d+) \(.*\) (\d+) ms after its start`).FindStringSubmatch(out)
	if started == nil {
		t.Fatalf("no running line for pinger on the console")
	}
	t.Logf("pinger: first process running %s ms after supervision began (image unpacked on first use)", started[2])
	if !regexp.MustCompile(`containers: lost: FAILED: .*not-there`).MatchString(out) {
		t.Errorf("the container with a missing image was not reported failed on the console")
	}

	openShell(t, m)
	st := mustShell(t, m, "/init status")
	if !regexp.MustCompile(`container\s+pinger\s+running\s+\d+\s+\S+\s+0\s+10\.0\.10\.5/24`).MatchString(st) {
		t.Errorf("nucbox status does not show pinger running with 10.0.10.5/24:\n%s", st)
	}
	if !regexp.MustCompile(`container\s+lost\s+failed\s+.*not-there`).MatchString(st) {
		t.Errorf("nucbox status does not show lost failed with its error:\n%s", st)
	}

	log := guestState + "/containers/pinger.log"
	res, err := m.Shell(90*time.Second, fmt.Sprintf("until grep -qa 'CT-API=' %[1]s; do sleep 1; done; grep -a 'CT-' %[1]s", log))
	if err != nil {
		t.Fatalf("waiting for the container's ping: %v", err)
	}
	t.Logf("container log:\n%s", res)
	vals := map[string]string{}
	for _, f := range regexp.MustCompile(`CT-([A-Za-z]+)=(\S+)`).FindAllStringSubmatch(res, -1) {
		vals[f[1]] = f[2]
	}
	if !strings.Contains(res, "CT-START") || !strings.Contains(res, "CT-PING-OK") {
		t.Errorf("pinger on VLAN 10 did not reach the box's 10.0.10.1")
	}
	// The box's firewall: the API listens on every box address, but a
	// workload on an internal VLAN does not reach it (busybox's nc under
	// timeout exits 1 when refused or filtered; connected, it exits 0
	// when the server hangs up and 143 when timeout ends it), while the
	// same container reaches the same address by ping, and the box itself
	// connects to that address and port.
	if vals["API"] != "1" {
		t.Errorf("pinger on VLAN 10 connecting to the box's API at 10.0.10.1:8443: exit %q, want 1 (filtered)", vals["API"])
	}
	if got := shellValue(t, m, "timeout 4 nc -w 2 10.0.10.1 8443 </dev/null; echo $?"); got != "0" && got != "143" {
		t.Errorf("the box connecting to its own API at 10.0.10.1:8443: exit %q, want 0 or 143 (connected): the check above proves nothing", got)
	}
	if vals["CapEff"] != dockerCaps || vals["CapBnd"] != dockerCaps {
		t.Errorf("capabilities eff %s bnd %s, want Docker's %s", vals["CapEff"], vals["CapBnd"], dockerCaps)
	}
	if vals["NoNewPrivs"] != "1" || vals["Seccomp"] != "2" {
		t.Errorf("no_new_privs %s seccomp %s, want 1 and 2 (filter)", vals["NoNewPrivs"], vals["Seccomp"])
	}
	if vals["MEMMAX"] != strconv.Itoa(64<<20) || vals["PIDSMAX"] != "16" {
		t.Errorf("cgroup2 in the container: memory.max %s pids.max %s, want %d and 16", vals["MEMMAX"], vals["PIDSMAX"], 64<<20)
	}
	checkSeccompBlocks(t, m, vals, res)
	checkPivotRoot(t, m, "pinger")

	// forker: 40 background processes against pids 8.
	flog := guestState + "/containers/forker.log"
	fl, err := m.Shell(60*time.Second, fmt.Sprintf("until grep -qa -e 'can.t fork' -e CT-FORK-UNLIMITED %[1]s; do sleep 1; done; grep -a -e CT-FORK -e fork %[1]s", flog))
	if err != nil {
		t.Fatalf("waiting for forker: %v", err)
	}
	forks := regexp.MustCompile(`CT-FORK=(\d+)/(\d+)`).FindAllStringSubmatch(fl, -1)
	if len(forks) == 0 || strings.Contains(fl, "CT-FORK-UNLIMITED") || !strings.Contains(fl, "can't fork") {
		t.Errorf("forker did not run into its pids limit:\n%s", fl)
	} else if last := forks[len(forks)-1]; last[2] != "8" {
		t.Errorf("forker stopped at %s processes with pids.current %s, want 8:\n%s", last[1], last[2], fl)
	}

	// lan: a lease from QEMU's DHCP server, applied by PID 1 in the
	// container's namespace, and the lab's gateway reachable.
	ll := waitLog(t, m, 90*time.Second, guestState+"/containers/lan.log", "LAN-PING-", "LAN-")
	t.Logf("lan container log:\n%s", ll)
	if !regexp.MustCompile(`LAN-inet 10\.0\.2\.\d+/24`).MatchString(ll) || !strings.Contains(ll, "LAN-route default via 10.0.2.2") ||
		!strings.Contains(ll, "LAN-resolv nameserver 10.0.2.3") || !strings.Contains(ll, "LAN-PING-OK") {
		t.Errorf("lan on the native VLAN: want a 10.0.2.x/24 lease, default route and DNS from QEMU's DHCP, and the gateway answering")
	}

	checkPortPolicy(t, m, out)
	checkPolicyLive(t, m, out)

	// The box's view of the same cgroup, and of the container's address.
	pid := started[1]
	limits := shellValue(t, m, fmt.Sprintf("g=$(cut -d: -f3 /proc/%[1]s/cgroup); echo $(cat /sys/fs/cgroup$g/memory.max) $(cat /sys/fs/cgroup$g/pids.max) $(grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f3)", pid))
	if limits != fmt.Sprintf("%d 16 cgroup2", 64<<20) {
		t.Errorf("box view of pinger's cgroup: %q, want memory.max, pids.max and a cgroup2 mount", limits)
	}
	if _, err := m.Shell(shellTimeout, "ping -c 2 -W 5 10.0.10.5"); err != nil {
		t.Errorf("box cannot ping the container on VLAN 10: %v", err)
	}

	if err := m.Powerdown(); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitExit(60 * time.Second); err != nil {
		t.Fatalf("appliance did not power off: %v", err)
	}
	if !regexp.MustCompile(`containers: pinger stopped \(was running; killed by SIG(TERM|KILL)\)`).MatchString(m.Output()) {
		t.Errorf("no orderly stop of pinger logged before power-off")
	}
}

// labConfig is the Box Lab scenario: a VM and a container on VLAN 10,
// whose box address routes and masquerades to the uplink, and a container
// on VLAN 20 holding an address in VLAN 10's subnet with the box's VLAN 10
// address as its gateway too, so that only the VLAN keeps it from the
// other two and from the uplink.
const labConfig = `hostname: lab
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64", nat: true, dhcp: {range: 10.0.10.100-10.0.10.199, lease: 10m}}
    - {vlan: 20, ipv6: "fd00:20::1/64"}
vms:
  - name: vm10
    memory: 160MiB
    kernel: images/vmlinuz
    initrd: images/vm10.cpio.gz
    append: "` + innerAppend + `"
    nics: [{vlan: 10, ipv4: {address: 10.0.10.10/24}}]
    vnc: 1
    restart: never
    shutdown-timeout: 5s
containers:
  - name: ct10
    image: oci-layout:images/busybox
    command: [sh, -c, "` + labCT10Script + `"]
    nics: [{vlan: 10, ipv4: dhcp}]
    restart: never
    stop-timeout: 1s
  - name: ct20
    image: oci-layout:images/busybox
    command: [sh, -c, "` + labCT20Script + `"]
    nics: [{vlan: 20, ipv4: {address: 10.0.10.20/24, gateway: 10.0.10.1}, ipv6: {address: "fd00:10::20/64"}}]
    restart: never
    stop-timeout: 1s
  - name: ctup
    image: oci-layout:images/busybox
    command: [sleep, "100000"]
    nics: [{ipv4: dhcp}]
    restart: never
    stop-timeout: 1s
api:
  listen: ":8443"
  token: ` + apiToken + `
`

// The VM boots long after the containers run (nested TCG), so ct10 keeps
// trying for minutes.
const labVMScript = `ip link set eth0 up
mkdir -p /etc
printf '%s\n' '#!/bin/sh' 'case "$1" in bound|renew)' \
  'ip addr add $ip/$mask dev $interface; ip route add default via $router' \
  'echo "nameserver $dns" > /etc/resolv.conf' \
  'echo "LAB-VM-LEASE ip=$ip server=$serverid router=$router dns=$dns domain=$domain";;' 'esac' > /bin/lease
chmod +x /bin/lease
n=0
until udhcpc -i eth0 -s /bin/lease -q -n -t 5 -T 2 2>/dev/null; do
  n=$((n+1))
  if [ $n -ge 30 ]; then echo LAB-VM-DHCP-FAILED; break; fi
done
echo LAB-VM-BOOTED
n=0
until ping -c 1 -W 1 ct10.lab >/dev/null 2>&1; do
  n=$((n+1))
  if [ $n -ge 120 ]; then echo LAB-VM-PING-FAILED; break; fi
  sleep 1
done
[ $n -lt 120 ] && echo LAB-VM-PING-OK
echo "LAB-VM-RESOLVED $(nslookup ct10.lab 2>&1 | tr -s '\t\n' '  ')"
n=0
until ping -c 1 -W 1 10.0.2.2 >/dev/null 2>&1; do
  n=$((n+1))
  if [ $n -ge 60 ]; then echo LAB-VM-GW-FAILED; break; fi
done
[ $n -lt 60 ] && echo LAB-VM-GW-OK
while :; do sleep 3600; done
`

// labCT10V6 waits for ct10's SLAAC address from the box's router adverts
// on VLAN 10, then pings the box's IPv6 address there and asks the box's
// DNS server at that address (the one the adverts name).
const labCT10V6 = `n=0; until ip -6 addr show dev eth0 | grep -q 'inet6 fd00:10:'; do n=$((n+1)); if [ $n -ge 60 ]; then break; fi; sleep 1; done; ` +
	`echo LAB-CT10-V6ADDR $(ip -6 addr show dev eth0 | grep -o 'inet6 fd00:10:[0-9a-f:]*/[0-9]*'); ` +
	`n=0; until ping -c 1 -W 1 fd00:10::1 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 30 ]; then break; fi; done; ` +
	`if [ $n -lt 30 ]; then echo LAB-CT10-V6-PING-OK; else echo LAB-CT10-V6-PING-FAILED; fi; ` +
	`echo LAB-CT10-V6DNS $(nslookup vm10.lab fd00:10::1 2>&1 | tr -s '\t\n' '  '); ` +
	`echo LAB-CT10-BOXNAME $(nslookup lab.lab fd00:10::1 2>&1 | tr -s '\t\n' '  '); ` +
	`n=0; until ping -c 1 -W 1 fec0::2 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 90 ]; then break; fi; sleep 1; done; ` +
	`if [ $n -lt 90 ]; then echo LAB-CT10-V6GW-OK; else echo LAB-CT10-V6GW-FAILED; fi; ` +
	`echo LAB-CT10-V6ROUTE $(ip -6 route show default | head -n 1); `

const labCT10Script = labCT10V6 + `n=0; until ping -c 1 -W 1 vm10.lab >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 600 ]; then break; fi; sleep 1; done; ` +
	`echo LAB-CT10-RESOLVED $(nslookup vm10.lab 2>&1 | tr -s '\t\n' '  '); ` +
	`if [ $n -lt 600 ]; then echo LAB-CT10-PING-OK; else echo LAB-CT10-PING-FAILED; fi; ` +
	`n=0; until ping -c 1 -W 1 10.0.2.2 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 60 ]; then break; fi; done; ` +
	`if [ $n -lt 60 ]; then echo LAB-CT10-GW-OK; else echo LAB-CT10-GW-FAILED; fi; ` + labVNCChecks + `exec sleep 100000`

const labCT20Script = `n=0; until ip -6 addr show dev eth0 | grep -q 'inet6 fd00:20:'; do n=$((n+1)); if [ $n -ge 60 ]; then break; fi; sleep 1; done; ` +
	`echo LAB-CT20-V6ONLY $(ip -6 addr show dev eth0 | grep -o 'inet6 fd00:20:[0-9a-f:]*/[0-9]*'); ` +
	// The new address is tentative for a second (duplicate address
	// detection): until then the query leaves from the static fd00:10::20,
	// which the box drops on VLAN 20 (reverse-path rule).
	`n=0; until nslookup lab.lab fd00:20::1 >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 20 ]; then break; fi; sleep 1; done; ` +
	`echo LAB-CT20-V6ONLY-DNS $(nslookup lab.lab fd00:20::1 2>&1 | tr -s '\t\n' '  '); ` +
	`while :; do ` +
	`if ping -c 1 -W 1 10.0.10.10 >/dev/null 2>&1; then echo LAB-CT20-REACHED-VM; else echo LAB-CT20-PROBE-VM; fi; ` +
	`if ping -c 1 -W 1 10.0.10.5 >/dev/null 2>&1; then echo LAB-CT20-REACHED-CT; else echo LAB-CT20-PROBE-CT; fi; ` +
	`if ping -c 1 -W 1 10.0.2.2 >/dev/null 2>&1; then echo LAB-CT20-REACHED-GW; else echo LAB-CT20-PROBE-GW; fi; ` +
	`if ping -c 1 -W 1 fd00:10::1 >/dev/null 2>&1; then echo LAB-CT20-REACHED-BOX6; else echo LAB-CT20-PROBE-BOX6; fi; ` +
	`echo LAB-CT20-V6ADDRS $(ip -6 addr show dev eth0 | grep -c 'inet6 fd00:10:'); ` +
	`done`

// waitLog waits, in the appliance's console shell, until the file has a
// line matching pattern and returns its lines matching prefix.
func waitLog(t *testing.T, m *harness.Machine, timeout time.Duration, file, pattern, prefix string) string {
	t.Helper()
	out, err := m.Shell(timeout, fmt.Sprintf("until grep -qa '%s' %s; do sleep 1; done; grep -a '%s' %s", pattern, file, prefix, file))
	if err != nil {
		t.Fatalf("waiting for %s in %s: %v", pattern, file, err)
	}
	return out
}

// TestBoxLabVLANs is the Box Lab scenario on one box: the VM and the
// container on VLAN 10 ping each other across the bridge and, through the
// box's VLAN 10 address (nat: true), the uplink's gateway, QEMU's user
// network at 10.0.2.2; the container on VLAN 20 reaches neither of them
// nor the gateway, which shows the box routes no VLAN but the one marked
// nat. Over IPv6, ct10 configures its address from the box's router
// adverts on VLAN 10 and pings the box there; ct20, with a static address
// in the same prefix on VLAN 20, gets no advert for it and never reaches
// it. VLAN 20 is IPv6-only for the box (fd00:20::1, no IPv4 address): ct20
// takes an address there from the box's adverts and asks the box's DNS at
// fd00:20::1, and no DHCP server runs on it.
func TestBoxLabVLANs(t *testing.T) {
	harness.Require(t)
	k, err := harness.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	oci := busyboxLayout(t)
	vm := tinyGuest(t, labVMScript)
	cfg := harness.WriteConfig(t, "lab.yaml", labConfig)
	img := harness.BuildImage(t, cfg, harness.BuildArgs(
		"--add-file", guestState+"/images/vmlinuz="+k.Path,
		"--add-file", guestState+"/images/vm10.cpio.gz="+vm,
		"--add-file", guestState+"/images/busybox="+oci,
	))
	start := time.Now()
	dump := filepath.Join(harness.ArtifactsDir(t), "uplink.pcap")
	m := img.Boot(t, harness.Options{NICs: []harness.NIC{{User: &harness.UserNet{
		Forward: []harness.Forward{{GuestPort: 8443}},
	}}}, MemoryMiB: 2048, CPUs: 2, Extra: []string{"-object", "filter-dump,id=dump0,netdev=net0,file=" + dump}})
	remote, ri := apiReady(t, m, vmReadyTimeout)
	t.Logf("appliance ready after %.1fs: %s", time.Since(start).Seconds(), ri.Line)
	if ri.Containers != 3 || len(ri.Guests) != 1 || ri.Guests[0].State != "running" {
		t.Fatalf("ready summary: containers %d, guests %+v; want 3 containers and vm10 running", ri.Containers, ri.Guests)
	}
	for _, ct := range []string{"ct10", "ct20", "ctup"} {
		if !regexp.MustCompile(`containers: ` + ct + `: running pid \d+`).MatchString(m.Output()) {
			t.Fatalf("%s is not running", ct)
		}
	}

	openShell(t, m)
	ready := time.Now()
	checkPlanMatchesBox(t, m, ri, "lab.yaml", labConfig)
	bin := harness.Nucbox(t)
	checkUplinkDHCP(t, bin, remote, dump)
	out := waitLog(t, m, nestedTimeout, guestState+"/vms/vm10/serial.log", "LAB-VM-RESOLVED", "LAB-VM-")
	t.Logf("vm10 %.1fs after ready: %q", time.Since(ready).Seconds(), out)
	// The VM's address is its fixed lease by MAC, with the box as
	// router and name server, with no cloud-init.
	if !strings.Contains(out, "LAB-VM-LEASE ip=10.0.10.10 server=10.0.10.1 router=10.0.10.1 dns=10.0.10.1 domain=lab") {
		t.Errorf("vm10's DHCP lease from the box is not its fixed one with the box's options: %q", out)
	}
	if !strings.Contains(out, "LAB-VM-PING-OK") || !regexp.MustCompile(`LAB-VM-RESOLVED .*Name: ?ct10\.lab Address: ?10\.0\.10\.1\d\d`).MatchString(out) {
		t.Fatalf("vm10 on VLAN 10 did not resolve or reach ct10.lab on VLAN 10")
	}
	out = waitLog(t, m, 2*time.Minute, guestState+"/containers/ct10.log", "LAB-CT10-PING-", "LAB-CT10-")
	if !strings.Contains(out, "LAB-CT10-PING-OK") || !regexp.MustCompile(`LAB-CT10-RESOLVED .*Name: ?vm10\.lab Address: ?10\.0\.10\.10\b`).MatchString(out) {
		t.Fatalf("ct10 on VLAN 10 did not resolve or reach vm10.lab: %q", out)
	}
	checkLabIPv6(t, m, out)
	checkServedDHCP(t, bin, remote, "https://"+m.HostAddr(8443))
	out = waitLog(t, m, nestedTimeout, guestState+"/vms/vm10/serial.log", "LAB-VM-GW-", "LAB-VM-")
	t.Logf("vm10 %.1fs after ready: %q", time.Since(ready).Seconds(), out)
	if !strings.Contains(out, "LAB-VM-GW-OK") {
		t.Errorf("vm10 on VLAN 10 did not reach the uplink gateway 10.0.2.2 through the box")
	}
	out = waitLog(t, m, 2*time.Minute, guestState+"/containers/ct10.log", "LAB-CT10-GW-", "LAB-CT10-")
	if !strings.Contains(out, "LAB-CT10-GW-OK") {
		t.Errorf("ct10 on VLAN 10 did not reach the uplink gateway 10.0.2.2 through the box: %q", out)
	}
	// vm10's screen: through the API only, not from VLAN 10.
	vncStart := time.Now()
	checkScreen(t, m, bin, remote, "vm10")
	checkLabVNCFromVLAN(t, m)
	if st := mustShell(t, m, "/init status"); !strings.Contains(st, "screen of vm10: /v1/vms/vm10/vnc") {
		t.Errorf("nucbox status does not say where vm10's screen is:\n%s", st)
	}
	t.Logf("screen checks took %.1fs", time.Since(vncStart).Seconds())
	if nat := shellValue(t, m, "cat /proc/sys/net/ipv4/ip_forward"); nat != "1" {
		t.Errorf("ip_forward on the box = %q, want 1 with a nat VLAN", nat)
	}

	// Both VLAN 10 workloads answer now; ct20 must fail more probes.
	log20 := guestState + "/containers/ct20.log"
	out, err = m.Shell(time.Minute, fmt.Sprintf(
		"n=$(grep -ac LAB-CT20-PROBE-GW %[1]s); until [ $(grep -ac LAB-CT20-PROBE-GW %[1]s) -ge $((n+3)) ]; do sleep 1; done; "+
			"echo probes=$(grep -ac LAB-CT20-PROBE- %[1]s) reached=$(grep -ac LAB-CT20-REACHED- %[1]s)", log20))
	if err != nil {
		t.Fatal(err)
	}
	var probes, reached int
	if _, err := fmt.Sscanf(shellLastLine(out), "probes=%d reached=%d", &probes, &reached); err != nil {
		t.Fatalf("probe count %q: %v", out, err)
	}
	t.Logf("ct20 (VLAN 20) probing VLAN 10 and the uplink gateway: %d failed probes, %d answered", probes, reached)
	if reached != 0 || probes < 12 {
		t.Errorf("ct20 on VLAN 20 reached VLAN 10, the box's IPv6 address there or the uplink gateway %d times (%d failed probes): VLANs do not separate workloads", reached, probes)
	}
	checkIPv6OnlyVLAN(t, m)
	// Its only address in VLAN 10's prefix is its static one: no advert
	// of the box's for VLAN 10 reached VLAN 20.
	if n := shellValue(t, m, "grep -a LAB-CT20-V6ADDRS "+log20+" | tail -n 1"); n != "LAB-CT20-V6ADDRS 1" {
		t.Errorf("ct20 on VLAN 20: %q, want its one static address in fd00:10::/64", n)
	}
}

// leaseOf is the first DHCP lease of a workload in st, nil for none.
func leaseOf(st *api.Status, name string) *api.Lease {
	for _, w := range st.Workloads {
		if w.Name == name && len(w.Leases) > 0 {
			return &w.Leases[0]
		}
	}
	return nil
}

// checkUplinkDHCP checks that ctup, on the uplink's VLAN, got its lease
// from the lab's server (QEMU's, 10.0.2.2: DHCP works there, the
// positive control), that the box holds no lease for it, and that no DHCP
// answer but the lab server's crossed the box's uplink (QEMU's dump of
// it): the box's server never answered the lab network.
func checkUplinkDHCP(t *testing.T, bin string, remote []string, dump string) {
	t.Helper()
	st := pollStatus(t, bin, remote, "ctup's lease", 2*time.Minute, func(st *api.Status) bool { return leaseOf(st, "ctup") != nil })
	if l := leaseOf(st, "ctup"); l.Server != "10.0.2.2" {
		t.Errorf("ctup on the uplink's VLAN got its lease from %s, want 10.0.2.2 (the lab's server)", l.Server)
	}
	for _, l := range st.ServedLeases {
		if l.Name == "ctup" {
			t.Errorf("the box holds a lease for ctup on the uplink's VLAN: %+v", l)
		}
	}
	var lab, other int
	for _, f := range readDump(t, dump) {
		fr := f.data
		ihl := int(fr[14]&0x0f) * 4
		if fr[23] != 17 || len(fr) < 14+ihl+4 || binary.BigEndian.Uint16(fr[14+ihl:]) != 67 {
			continue
		}
		if f.src == "10.0.2.2" {
			lab++
		} else {
			other++
			t.Errorf("a DHCP answer from %s crossed the box's uplink", f.src)
		}
	}
	t.Logf("DHCP answers on the uplink: %d from the lab's server, %d from elsewhere", lab, other)
	if lab < 4 {
		t.Errorf("the uplink dump holds %d DHCP answers from 10.0.2.2, want at least 4 (the box's and ctup's offers and acks): the dump proves nothing", lab)
	}
}

// checkServedDHCP checks the box's DHCP server from its status and
// metrics: vm10 holds its fixed lease and ct10 one from the range, both
// from the box.
func checkServedDHCP(t *testing.T, bin string, remote []string, host string) {
	t.Helper()
	st := pollStatus(t, bin, remote, "the served leases of vm10 and ct10", 2*time.Minute, func(st *api.Status) bool {
		return len(st.ServedLeases) >= 2 && leaseOf(st, "ct10") != nil
	})
	served := map[string]api.ServedLease{}
	for _, l := range st.ServedLeases {
		served[l.Name] = l
	}
	if l := served["vm10"]; l.Address != "10.0.10.10" || !l.Fixed || !l.Active || l.VLAN != 10 {
		t.Errorf("served lease of vm10: %+v, want the fixed 10.0.10.10", l)
	}
	ct10 := leaseOf(st, "ct10")
	if l := served["ct10"]; !l.Active || !strings.HasPrefix(l.Address, "10.0.10.1") || l.Address+"/24" != ct10.Address || ct10.Server != "10.0.10.1" {
		t.Errorf("ct10: served %+v, its lease %+v; want one address of the range, from 10.0.10.1", l, ct10)
	}
	checkMetrics(t, apiClient(), host, `nucbox_dhcp_leases{vlan="10"} 2`)
}

// shellLastLine is the last line of a shell command's output that holds
// something other than the shell's own markers.
func shellLastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "nbx-") {
			return l
		}
	}
	return ""
}

// checkSeccompBlocks reads what pinger saw of the default seccomp profile:
// unshare(CLONE_NEWUSER), which the filter denies, failed with EPERM,
// while chroot, which it allows, worked in the same container. The box
// itself creates a user namespace with the same applet, so the refusal
// is the filter's and not the kernel's.
func checkSeccompBlocks(t *testing.T, m *harness.Machine, vals map[string]string, log string) {
	t.Helper()
	if vals["CHROOT"] != "0" {
		t.Errorf("chroot, allowed by the profile with CAP_SYS_CHROOT, exited %q in the container (want 0): the positive control failed", vals["CHROOT"])
	}
	says := ""
	if said := regexp.MustCompile(`CT-UNSHARE-SAYS:(.*)`).FindStringSubmatch(log); said != nil {
		says = strings.TrimSpace(said[1])
	}
	if vals["UNSHARE"] == "" || vals["UNSHARE"] == "0" || !strings.Contains(says, "Operation not permitted") {
		t.Errorf("unshare -U in the container: exit %q, said %q; want a failure with EPERM (Operation not permitted) from the seccomp filter", vals["UNSHARE"], says)
	}
	if out, err := m.Shell(shellTimeout, "unshare -U true && echo box-userns-ok"); err != nil || !strings.Contains(out, "box-userns-ok") {
		t.Errorf("the box itself cannot create a user namespace (%v): %q; the container's EPERM proves nothing about seccomp then", err, out)
	}
}

// checkPivotRoot shows that the containers of this box enter their
// rootfs by pivot_root, not by the chroot fallback libcontainer uses when
// / is still the initramfs: the runtime said so on the console, and the
// config libcontainer keeps for the running container (its state.json)
// lacks no_pivot_root, which it records only when set.
func checkPivotRoot(t *testing.T, m *harness.Machine, name string) {
	t.Helper()
	out := m.Output()
	if !strings.Contains(out, "containers: rootfs entry: pivot_root") {
		t.Errorf("the containers runtime did not log that it uses pivot_root")
	}
	if strings.Contains(out, "rootfs entry: chroot") {
		t.Errorf("the containers runtime fell back to chroot:\n%s", regexp.MustCompile(`.*rootfs entry: chroot.*`).FindString(out))
	}
	state := "/run/nucbox/containers/" + name + "/state.json"
	got := shellValue(t, m, fmt.Sprintf("echo $(grep -c '\"rootfs\":' %[1]s) $(grep -c '\"no_pivot_root\":true' %[1]s)", state))
	if got != "1 0" {
		t.Errorf("%s: %q, want \"1 0\": a container config with its rootfs and without no_pivot_root", state, got)
	}
	checkRootNotInitramfs(t, m)
}

// checkRootNotInitramfs shows that / is not the initramfs itself: in PID
// 1's mountinfo the mount on / has a parent (the initramfs, bind-mounted
// onto itself; the parent lies outside the root and is not listed),
// while the initramfs ("rootfs") is the mount namespace's root, its own
// parent, which pivot_root cannot leave. The kernel's threads share PID
// 1's root, so no process on the box still shows the initramfs mount:
// TestRootMounts reads the lines of a box booted with
// nucbox.rootfs=keep, where this check fails.
func checkRootNotInitramfs(t *testing.T, m *harness.Machine) {
	t.Helper()
	lines := shellValue(t, m, "grep ' / / ' /proc/1/mountinfo | tr '\\n' ';'")
	nsRoot, bind, desc := rootMounts(lines)
	if nsRoot || !bind {
		t.Errorf("PID 1's root is the initramfs (the namespace's root mount), not a mount with a parent: %q", lines)
		return
	}
	t.Logf("PID 1's root: %s", desc)
}

// rootMounts reads the mountinfo lines of mounts on "/" (joined by ";"):
// whether one is the namespace's root mount of the initramfs (its own
// parent, type rootfs), whether one is a mount with a parent, and that
// one described.
func rootMounts(lines string) (nsRoot, bind bool, desc string) {
	for _, l := range strings.Split(lines, ";") {
		f := strings.Fields(l)
		if len(f) < 9 {
			continue
		}
		fstype := f[len(f)-3] // after the "-" separator: type, source, options
		switch {
		case f[0] == f[1] && fstype == "rootfs":
			nsRoot = true
		case f[0] != f[1]:
			bind = true
			desc = fmt.Sprintf("mount %s on parent %s, filesystem type %s (the initramfs's, not a copy)", f[0], f[1], fstype)
		}
	}
	return nsRoot, bind, desc
}

// TestRootMounts checks the reading of mountinfo that
// checkRootNotInitramfs relies on, on the lines a box shows with the
// initramfs bind-mounted onto / (from a boot of this test) and with
// nucbox.rootfs=keep (the namespace's root mount, its own parent).
func TestRootMounts(t *testing.T) {
	for _, tc := range []struct {
		name, lines  string
		nsRoot, bind bool
	}{
		{"PID 1, bind", "22 1 0:2 / / rw - rootfs rootfs rw,size=477932k,nr_inodes=119483,inode64;", false, true},
		{"PID 1, keep", "1 1 0:2 / / rw - rootfs rootfs rw;", true, false},
	} {
		if nsRoot, bind, _ := rootMounts(tc.lines); nsRoot != tc.nsRoot || bind != tc.bind {
			t.Errorf("%s: namespace root %v, bind %v; want %v, %v", tc.name, nsRoot, bind, tc.nsRoot, tc.bind)
		}
	}
}
