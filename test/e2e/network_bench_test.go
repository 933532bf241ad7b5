package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/test/harness"
)

// The benchmark box: a static address (no DHCP wait to subtract), the
// uplink a trunk for ten VLANs, and ten TAPs, one access port per VLAN.
// The TAPs belong to a VM's NICs because that is where ports come from in
// the config. The image carries no QEMU, so the VM itself fails to start
// after the network stage (a VM's failure is not the box's); restart:
// never keeps its retries from loading the guest while the script runs.
const (
	benchUplinkMAC = "52:54:00:00:60:01"
	benchScriptMAC = "52:54:00:00:60:02"
	benchPorts     = 10
	benchFirstVLAN = 101
)

func benchConfig() string {
	var vlans, nics []string
	for i := range benchPorts {
		vlans = append(vlans, strconv.Itoa(benchFirstVLAN+i))
		nics = append(nics, fmt.Sprintf("{vlan: %d}", benchFirstVLAN+i))
	}
	return fmt.Sprintf(`hostname: bench
uplink:
  mac: %s
  bridge: br0
  ipv4: {address: 10.0.2.15/24, gateway: 10.0.2.2}
  vlans: [%s]
vms:
  - name: bench
    restart: never
    nics: [%s]
`, benchUplinkMAC, strings.Join(vlans, ", "), strings.Join(nics, ", "))
}

// benchScript does by hand, with Debian's ip and bridge, what the network
// stage does for the benchmark box: on the second NIC (QEMU user network
// 10.0.3.0/24), a static address and default route, a VLAN-filtering
// bridge with the NIC's MAC, the takeover after the NIC's operational
// state is up, the trunk VLANs, ten TAPs each joined down and given its
// VLAN before it comes up, and the gateway answering through the bridge.
// The kernel log timestamps its start and end in microseconds.
func benchScript() string {
	vlans := make([]string, benchPorts)
	for i := range vlans {
		vlans[i] = strconv.Itoa(benchFirstVLAN + i)
	}
	return fmt.Sprintf(`IP=%s; BR=%s; B=br1; A=10.0.3.15/24; G=10.0.3.2; V="%s"
for d in /sys/class/net/*; do [ "$(cat $d/address)" = %s ] && U=${d##*/}; done
echo nbx-script-start >/dev/kmsg
$IP link set $U up
$IP addr add $A dev $U
$IP route add default via $G dev $U metric 200
$IP link add $B address $(cat /sys/class/net/$U/address) type bridge vlan_filtering 1 vlan_default_pvid 0
until [ "$(cat /sys/class/net/$U/operstate)" = up ]; do usleep 10000; done
$IP link set $U master $B
$BR vlan add dev $U vid 1 pvid untagged
for v in $V; do $BR vlan add dev $U vid $v; done
$BR vlan add dev $B vid 1 pvid untagged self
$IP link set $B up
$IP addr add $A dev $B
$IP addr del $A dev $U
$IP route add default via $G dev $B metric 200
i=0; for v in $V; do T=tb$i; $IP tuntap add dev $T mode tap; $IP link set $T address 02:00:00:00:61:$((10+i)); $IP link set $T master $B; $BR vlan add dev $T vid $v pvid untagged; $IP link set $T up; i=$((i+1)); done
until arping -q -c 1 -w 1 -I $B $G; do :; done
echo nbx-script-done >/dev/kmsg
`, debianIP, debianBridge, strings.Join(vlans, " "), benchScriptMAC)
}

var kmsgStamp = regexp.MustCompile(`\[\s*(\d+\.\d+)\]\s+(nbx-script-\w+)`)

// BenchmarkNetworkReady measures the network stage of a box with a
// bridge, an uplink trunk and ten VLAN access TAPs, from the appliance's
// own ready summary (static address, so no DHCP wait), and then in the
// same guest a shell script doing the same steps with Debian's ip and
// bridge. It prints both, their ratio, PID 1 start to network ready, and
// the takeover outage. Printed, not asserted, except that both sides
// must have built what they claim.
func BenchmarkNetworkReady(b *testing.B) {
	harness.Require(b)
	img := harness.BuildImage(b, harness.WriteConfig(b, "bench-network.yaml", benchConfig()), withDebianIPTools())

	var stageMS, pid1MS, outageMS, scriptMS float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := img.Boot(b, harness.Options{Name: fmt.Sprintf("net%d", i+1), Quiet: true, NICs: []harness.NIC{
			{User: &harness.UserNet{}, MAC: benchUplinkMAC},
			{User: &harness.UserNet{Net: "10.0.3.0/24"}, MAC: benchScriptMAC},
		}})
		ri, err := m.WaitReady(readyTimeout)
		if err != nil {
			b.Fatalf("%v\nconsole:\n%s", err, lastLines(m.Output(), 40))
		}
		n := networkOf(b, ri)
		if n.Probe == nil || !n.Probe.OK || n.Rollback != nil || n.Ports != benchPorts+1 {
			b.Fatalf("network not as configured: %s", ri.Line)
		}
		stageMS += float64(n.NetworkMS)
		pid1MS += float64(n.DoneMS - ri.InitMS)
		outageMS += n.OutageMS

		openShell(b, m)
		checkBenchPorts(b, m, "br0", "t-bench-")
		mustShell(b, m, "cat > /tmp/bench.sh <<'EOF'\n"+benchScript()+"EOF\ntrue")
		mustShell(b, m, "sh /tmp/bench.sh")
		checkBenchPorts(b, m, "br1", "tb")
		stamps := map[string]float64{}
		for _, s := range kmsgStamp.FindAllStringSubmatch(mustShell(b, m, "dmesg | grep nbx-script-"), -1) {
			stamps[s[2]], _ = strconv.ParseFloat(s[1], 64)
		}
		start, okS := stamps["nbx-script-start"]
		done, okD := stamps["nbx-script-done"]
		if !okS || !okD {
			b.Fatalf("script timestamps missing from the kernel log: %v", stamps)
		}
		scriptMS += (done - start) * 1000
		m.Close()
	}
	b.StopTimer()
	n := float64(b.N)
	stageMS, pid1MS, outageMS, scriptMS = stageMS/n, pid1MS/n, outageMS/n, scriptMS/n
	ratio := stageMS / scriptMS

	b.ReportMetric(pid1MS, "pid1-to-network-ready-ms")
	b.ReportMetric(stageMS, "network-stage-ms")
	b.ReportMetric(scriptMS, "shell-script-ms")
	b.ReportMetric(ratio, "stage/script")
	b.ReportMetric(outageMS, "takeover-outage-ms")
	var t strings.Builder
	fmt.Fprintf(&t, "network ready (bridge, uplink trunk, %d VLAN TAPs, static address) under TCG, mean of %d:\n", benchPorts, b.N)
	fmt.Fprintf(&t, "  PID 1 exec -> network ready      %8.0f ms  (includes module loading)\n", pid1MS)
	fmt.Fprintf(&t, "  nucbox network stage            %8.0f ms\n", stageMS)
	fmt.Fprintf(&t, "  same steps, busybox sh + ip/bridge %6.0f ms\n", scriptMS)
	fmt.Fprintf(&t, "  ratio stage/script               %8.2f   (goal <= 0.5)\n", ratio)
	fmt.Fprintf(&t, "  takeover outage                  %8.1f ms\n", outageMS)
	b.Log(strings.TrimSuffix(t.String(), "\n"))
}

// checkBenchPorts fails unless each of the ten TAPs sits on bridge in
// exactly its own VLAN, untagged, as PVID: VLAN 1 left on a port would
// mean the two sides did not do the same work.
func checkBenchPorts(b *testing.B, m *harness.Machine, bridge, prefix string) {
	b.Helper()
	vlans := parseBridgeVLANs(b, mustShell(b, m, debianBridge+" -j vlan show"))
	for i := range benchPorts {
		name := prefix + strconv.Itoa(i)
		if prefix == "t-bench-" {
			name = config.TAPName("bench", i)
		}
		if want := fmt.Sprintf("%d pvid untagged", benchFirstVLAN+i); vlans[name] != want {
			b.Errorf("%s on %s: VLANs %q, want %q", name, bridge, vlans[name], want)
		}
		if master := masterOf(b, m, name); master != bridge {
			b.Errorf("%s: master %q, want %s", name, master, bridge)
		}
	}
}
