package e2e

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

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
// all along.
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
    command: [sh, -c, "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done"]
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
	for {
		t0 := time.Now()
		stdout, _, code := cli(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
		if took := time.Since(t0); code != 0 || took > 10*time.Second {
			t.Fatalf("status with the syslog server down: exit %d after %s", code, took)
		}
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			t.Fatal(err)
		}
		if l := st.Logging; l != nil && !l.Connected && l.Queued >= 10 {
			break
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
