package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/test/harness"
)

// checkPortPolicy checks ctConfig's port policy on policed (VLAN 10, tcp
// 8081 denied, 8 Mbit/s): from the same container port 8081 of pinger is
// refused and 8080 reached, and the box itself reaches 8081; a 2 MiB
// download through the limit takes what 8 Mbit/s allow, within 15 %;
// with pinger's MAC, or an address not its own, policed reaches nothing,
// and with its own it does; status shows the drops and the MAC table;
// pinger's port is mirrored to capture0. out is the console output so
// far.
func checkPortPolicy(t *testing.T, m *harness.Machine, out string) {
	t.Helper()
	start := time.Now()
	log := waitLog(t, m, 120*time.Second, guestState+"/containers/policed.log", "POL-RATE", "POL-")
	t.Logf("policed log:\n%s", log)
	vals := map[string]string{}
	for _, f := range regexp.MustCompile(`POL-([A-Z]+)=(\S+)`).FindAllStringSubmatch(log, -1) {
		vals[f[1]] = f[2]
	}
	if vals["ALLOWED"] != "0" {
		t.Errorf("policed fetching pinger's allowed port 8080: exit %q, want 0", vals["ALLOWED"])
	}
	if vals["DENIED"] == "0" || vals["DENIED"] == "" {
		t.Errorf("policed fetching pinger's denied port 8081: exit %q, want a failure", vals["DENIED"])
	}
	if got := shellValue(t, m, "timeout 5 wget -q -O - http://10.0.10.5:8081/ok"); got != "ok" {
		t.Errorf("the box fetching pinger's port 8081: %q, want ok: the denial above proves nothing", got)
	}

	// The rate: 2 MiB of payload; on the wire each 1448-byte segment
	// carries 66 bytes of headers, which the limit counts.
	rate := regexp.MustCompile(`POL-RATE rc=(\d+) start=([0-9.]+) end=([0-9.]+)`).FindStringSubmatch(log)
	if rate == nil || rate[1] != "0" {
		t.Fatalf("policed's timed download did not finish: %q", rate)
	}
	a, _ := strconv.ParseFloat(rate[2], 64)
	b, _ := strconv.ParseFloat(rate[3], 64)
	const limit, payload = 8e6, 2 << 20
	wire := float64(payload) * 8 * 1514 / 1448 / (b - a)
	t.Logf("2 MiB through an 8 Mbit/s port in %.2f s: %.2f Mbit/s of payload, %.2f Mbit/s on the wire", b-a, float64(payload)*8/(b-a)/1e6, wire/1e6)
	if wire > limit*1.15 || wire < limit*0.85 {
		t.Errorf("download through the 8 Mbit/s limit ran at %.2f Mbit/s on the wire, outside 15 %% of the limit", wire/1e6)
	}

	// Spoofing, from the box, in policed's namespace: pinger's MAC, then
	// an address that is not policed's, each against the real one.
	pid := regexp.MustCompile(`containers: policed: running pid (\d+)`).FindStringSubmatch(out)
	if pid == nil {
		t.Fatal("no running line for policed on the console")
	}
	in := "nsenter -t " + pid[1] + " -n "
	own := config.DeriveMAC("ctbox", "policed", 0)
	other := config.DeriveMAC("ctbox", "pinger", 0)
	pingBox := func(from string) string {
		return shellValue(t, m, in+"ping -c 2 -W 1 "+from+" 10.0.10.1 >/dev/null 2>&1; echo $?")
	}
	mustShell(t, m, in+"ip link set dev eth0 address "+other.String())
	spoofed := pingBox("")
	mustShell(t, m, in+"ip link set dev eth0 address "+own.String())
	real := pingBox("")
	if spoofed == "0" || real != "0" {
		t.Errorf("policed pinging the box with pinger's MAC: exit %s (want a failure), with its own: exit %s (want 0)", spoofed, real)
	}
	mustShell(t, m, in+"ip addr add 10.0.10.66/24 dev eth0")
	spoofedIP := pingBox("-I 10.0.10.66")
	realIP := pingBox("-I 10.0.10.6")
	if spoofedIP == "0" || realIP != "0" {
		t.Errorf("policed pinging the box from 10.0.10.66: exit %s (want a failure), from its 10.0.10.6: exit %s (want 0)", spoofedIP, realIP)
	}
	st := mustShell(t, m, "/init status")
	drops := regexp.MustCompile(`(?m)^policed\.0\s+` + regexp.QuoteMeta(config.VethName("policed", 0)) + `(\s+\d+){6}\s+(\d+)`).FindStringSubmatch(st)
	if drops == nil || drops[2] == "0" {
		t.Errorf("nucbox status shows no policy drops on policed's port:\n%s", st)
	}
	if !strings.Contains(st, "MAC table (learnt):") || !strings.Contains(st, own.String()) {
		t.Errorf("nucbox status has no MAC table with policed's %s:\n%s", own, st)
	}
	// The mirror of pinger's port to capture0, a dummy link the box
	// made: a capture there records the box's pings to pinger.
	pcapSize := func(target string) string {
		// The pings run in the background until the capture has its
		// four frames (two pings and their answers), however late it
		// starts.
		return shellValue(t, m, "rm -f /tmp/m.pcap; ping -c 15 -W 1 "+target+" >/dev/null 2>&1 & p=$!; "+
			"timeout 12 /init capture capture0 --count 4 -w /tmp/m.pcap >/dev/null 2>&1; kill $p 2>/dev/null; wc -c < /tmp/m.pcap")
	}
	mirrored := pcapSize("10.0.10.5")
	if n, _ := strconv.Atoi(mirrored); n <= 24 {
		t.Errorf("a capture on capture0 while the box pinged pinger: %s bytes of pcap, want frames after the 24-byte header", mirrored)
	}
	t.Logf("capture on the mirror capture0: %s bytes for the box's pings to pinger", mirrored)

	t.Logf("port policy checks took %s (from waiting for policed's log on)", time.Since(start).Round(100*time.Millisecond))
}
