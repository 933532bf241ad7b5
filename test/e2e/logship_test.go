package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/logship"
	"github.com/nucbox/nucbox/boot/logship/syslogtest"
	"github.com/nucbox/nucbox/test/harness"
)

// TestLogShipping: a box sends its log and a container's output over TLS
// to a syslog server on the host, with the host name and the workload as
// structured data. The server goes away for a while: nothing of the box's
// or the container's lines is lost once it is back (checked by the
// sequence numbers and the container's own count), and the API answers
// all along. The same boot serves nucbox capture: the pcap of one
// container's port holds its pings to the other and their answers.
func TestLogShipping(t *testing.T) {
	harness.Require(t)
	caPEM, cert := labPKI(t, net.IPv4(10, 0, 2, 2))
	caFile := filepath.Join(t.TempDir(), "lab-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	rcv, err := syslogtest.Listen("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}, logship.SDID)
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	_, port, _ := net.SplitHostPort(rcv.Addr())
	cfg := `hostname: shipper
` + apiUplink + `logging:
  remote: tcp+tls://10.0.2.2:` + port + `
containers:
  - name: ticker
    image: oci-layout:images/busybox
    command: [sh, -c, "i=0; while true; do i=$((i+1)); echo tick $i; ping -c 1 -W 1 10.0.10.6 >/dev/null; sleep 0.5; done"]
    nics: [{vlan: 10, ipv4: {address: 10.0.10.5/24}}]
    stop-timeout: 1s
  - name: peer
    image: oci-layout:images/busybox
    command: [sleep, "100000"]
    nics: [{vlan: 10, ipv4: {address: 10.0.10.6/24}}]
    stop-timeout: 1s
`
	img := harness.BuildImage(t, harness.WriteConfig(t, "shipper.yaml", cfg),
		harness.BuildArgs("--add-file", guestState+"/images/busybox="+busyboxLayout(t), "--ca-certs", caFile))
	m := img.Boot(t, harness.Options{NICs: []harness.NIC{{User: &harness.UserNet{Forward: []harness.Forward{{GuestPort: 8443}}}}}})
	remote, _ := apiReady(t, m, readyTimeout)
	bin := harness.Nucbox(t)

	ready, err := rcv.Wait(time.Minute, "ready line", func(msg syslogtest.Message) bool {
		return regexp.MustCompile(`^nucbox: ready`).MatchString(msg.Text())
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := ready.Params; p["host"] != "shipper" || p["kind"] != "box" || *ready.Hostname != "shipper" || *ready.Appname != "nucbox" {
		t.Errorf("ready line: host %v app %v params %v", *ready.Hostname, *ready.Appname, p)
	}
	tick, err := rcv.Wait(time.Minute, "container output", func(msg syslogtest.Message) bool { return tickNumber(msg) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if p := tick.Params; p["workload"] != "ticker" || p["kind"] != "container" || *tick.Appname != "ticker" || *tick.MsgID != "container" {
		t.Errorf("container line: app %v msgid %v params %v", *tick.Appname, *tick.MsgID, p)
	}

	// The server goes away; the box keeps its lines and stays responsive.
	rcv.Close()
	downAt := time.Now()
	var st api.Status
	firstQueued := -1
	for {
		t0 := time.Now()
		stdout, _, code := cli(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
		if took := time.Since(t0); code != 0 || took > 10*time.Second {
			t.Fatalf("status with the syslog server down: exit %d after %s", code, took)
		}
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			t.Fatal(err)
		}
		// Down, and ten messages more than at the first look: the ones
		// sent again after the break do not count as the outage.
		if l := st.Logging; l != nil && !l.Connected {
			if firstQueued < 0 {
				firstQueued = l.Queued
			}
			if l.Queued >= firstQueued+10 {
				break
			}
		}
		if time.Since(downAt) > time.Minute {
			t.Fatalf("a minute after the server went away: %+v", st.Logging)
		}
	}
	t.Logf("server down for %.1fs: %+v", time.Since(downAt).Seconds(), *st.Logging)
	text, _, _ := cli(t, bin, append([]string{"status"}, remote...)...)
	if re := regexp.MustCompile(`(?m)^logging +tcp\+tls://10\.0\.2\.2:` + port + `: NOT CONNECTED .*queued`); !re.MatchString(text) {
		t.Errorf("nucbox status has no line matching %s:\n%s", re, text)
	}
	if err := rcv.Start(); err != nil {
		t.Fatal(err)
	}
	// Everything comes: the box's messages without a gap in their
	// sequence, the container's ticks without a gap in its count.
	latest := 0
	if _, err := rcv.Wait(2*time.Minute, "the lines queued while the server was down", func(msg syslogtest.Message) bool {
		n, _ := strconv.Atoi(msg.Params["seq"])
		latest = max(latest, n)
		return n >= int(st.Logging.Sent)+st.Logging.Queued+int(st.Logging.Dropped)
	}); err != nil {
		t.Fatal(err)
	}
	msgs, errs := rcv.Messages()
	if len(errs) > 0 {
		t.Errorf("the receiver could not parse: %v", errs)
	}
	if missing, highest := syslogtest.MissingSeq(msgs); len(missing) > 0 || st.Logging.Dropped != 0 {
		t.Errorf("lost %d of %d messages (%v), %d dropped", len(missing), highest, missing, st.Logging.Dropped)
	}
	ticks := map[int]bool{}
	hi := 0
	for _, msg := range msgs {
		if n := tickNumber(msg); n > 0 {
			ticks[n] = true
			hi = max(hi, n)
		}
	}
	for i := tickNumber(tick); i <= hi; i++ {
		if !ticks[i] {
			t.Errorf("tick %d of the container never arrived (ticks %d to %d)", i, tickNumber(tick), hi)
		}
	}
	if hi-tickNumber(tick) < 10 {
		t.Errorf("only ticks %d to %d arrived: the outage was not covered", tickNumber(tick), hi)
	}
	t.Logf("%d messages; ticks %d to %d; %d connections", len(msgs), tickNumber(tick), hi, rcv.Connections())

	checkCapture(t, bin, remote)
}

// checkCapture records ticker's port from the host with nucbox capture and
// reads the pcap back: ticker's echo requests to peer and peer's replies.
func checkCapture(t *testing.T, bin string, remote []string) {
	t.Helper()
	pcapFile := filepath.Join(t.TempDir(), "ticker.pcap")
	_, stderr, code := cli(t, bin, append([]string{"capture", "ticker.0", "--count", "12", "-w", pcapFile}, remote...)...)
	if code != 0 || !strings.Contains(stderr, "ticker.0: 12 packets") {
		t.Fatalf("nucbox capture: exit %d\n%s", code, stderr)
	}
	f, err := os.Open(pcapFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("the capture is not a pcap file: %v", err)
	}
	seen := map[string]int{}
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ip == nil || icmp == nil {
			seen["other"]++
			continue
		}
		seen[fmt.Sprintf("%s %s>%s", icmp.TypeCode, ip.SrcIP, ip.DstIP)]++
	}
	t.Logf("captured on ticker.0: %v", seen)
	if seen["EchoRequest 10.0.10.5>10.0.10.6"] == 0 || seen["EchoReply 10.0.10.6>10.0.10.5"] == 0 {
		t.Errorf("no ping from ticker to peer and back in the capture: %v", seen)
	}
}

var tickLine = regexp.MustCompile(`^tick (\d+)$`)

// tickNumber is the container's count in a message of its output, 0 for
// any other message.
func tickNumber(m syslogtest.Message) int {
	if m.Params["workload"] != "ticker" {
		return 0
	}
	if s := tickLine.FindStringSubmatch(m.Text()); s != nil {
		n, _ := strconv.Atoi(s[1])
		return n
	}
	return 0
}
