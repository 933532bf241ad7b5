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

// checkPolicyLive changes policed's deny rule by an apply, from 8081 to
// 8080, and checks the change is made in place: the apply says the
// policy of policed.0 changes, policed keeps its process, and from its
// namespace 8080 is now refused and 8081 reached. Then a frame to the
// spanning-tree group address from policed err-disables its port: the
// box's pings to policed stop while pinger still answers, status shows
// the port with the frame's source and the box logs it once; nucbox port
// enable brings the pings back. out is the console output so far.
func checkPolicyLive(t *testing.T, m *harness.Machine, out string) {
	t.Helper()
	start := time.Now()
	pid := regexp.MustCompile(`containers: policed: running pid (\d+)`).FindStringSubmatch(out)
	if pid == nil {
		t.Fatal("no running line for policed on the console")
	}
	const denied = "rules: [{action: deny, proto: tcp, port: 8081}]"
	if !strings.Contains(ctConfig, denied) {
		t.Fatal("ctConfig has no deny rule for 8081")
	}
	next := strings.Replace(ctConfig, denied, "rules: [{action: deny, proto: tcp, port: 8080}]", 1)
	mustShell(t, m, "cat > /tmp/policy.yaml <<'NBX_EOF'\n"+next+"NBX_EOF\ntrue")
	applied := mustShell(t, m, "/init apply /tmp/policy.yaml 2>&1; echo APPLY-RC=$?")
	if !strings.Contains(applied, "APPLY-RC=0") || !strings.Contains(applied, "~ container policed: policy of port policed.0 changes (in place, the container keeps running)") {
		t.Errorf("apply of policed's new deny rule:\n%s", applied)
	}
	st := mustShell(t, m, "/init status")
	if now := regexp.MustCompile(`container\s+policed\s+running\s+(\d+)`).FindStringSubmatch(st); now == nil || now[1] != pid[1] {
		t.Errorf("policed after the apply: %q, want running with pid %s:\n%s", now, pid[1], st)
	}
	in := "nsenter -t " + pid[1] + " -n "
	fetch := func(port string) string {
		return shellValue(t, m, in+"timeout 5 wget -q -O - http://10.0.10.5:"+port+"/ok 2>/dev/null")
	}
	if got8081, got8080 := fetch("8081"), fetch("8080"); got8081 != "ok" || got8080 == "ok" {
		t.Errorf("from policed after the apply: 8081 %q (want ok, no longer denied), 8080 %q (want refused, denied now)", got8081, got8080)
	}
	t.Logf("live policy apply checks took %s", time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	ping := func(addr string) string {
		return shellValue(t, m, "ping -c 2 -W 1 "+addr+" >/dev/null 2>&1; echo $?")
	}
	if p6, p5 := ping("10.0.10.6"), ping("10.0.10.5"); p6 != "0" || p5 != "0" {
		t.Fatalf("the box pinging policed: exit %s, pinger: exit %s; want both 0 before the BPDU", p6, p5)
	}
	// An IPv4 packet to a neighbour whose address is the STP group
	// address: a frame the BPDU guard matches (by its destination).
	mustShell(t, m, in+"arp -i eth0 -s 10.0.10.99 01:80:c2:00:00:00; "+in+"ping -c 1 -W 1 10.0.10.99 >/dev/null 2>&1; true")
	st = mustShell(t, m, "i=0; until /init status | grep -q err-disabled; do i=$((i+1)); [ $i -ge 50 ] && break; sleep 0.2; done; /init status")
	own := config.DeriveMAC("ctbox", "policed", 0).String()
	if !regexp.MustCompile(`port policed\.0\s+err-disabled since \S+: BPDU from ` + regexp.QuoteMeta(own)).MatchString(st) {
		t.Errorf("nucbox status does not show policed.0 err-disabled by a BPDU from %s:\n%s", own, st)
	}
	if p6, p5 := ping("10.0.10.6"), ping("10.0.10.5"); p6 == "0" || p5 != "0" {
		t.Errorf("err-disabled: the box pinging policed: exit %s (want a failure), pinger: exit %s (want 0)", p6, p5)
	}
	if n := shellValue(t, m, "/init logs 2>/dev/null | grep -c 'port policed.0 .* err-disabled: a BPDU from "+own+"'"); n != "1" {
		t.Errorf("the err-disable was logged %s times, want once", n)
	}
	en := mustShell(t, m, "/init port enable policed.0 2>&1")
	if !strings.Contains(en, "port policed.0: forwarding again") {
		t.Errorf("nucbox port enable policed.0:\n%s", en)
	}
	if p6 := ping("10.0.10.6"); p6 != "0" {
		t.Errorf("the box pinging policed after nucbox port enable: exit %s, want 0", p6)
	}
	t.Logf("err-disable checks took %s", time.Since(start).Round(100*time.Millisecond))
}
