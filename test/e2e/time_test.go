package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/netcfg/timesync/ntptest"
	"github.com/nucbox/nucbox/test/harness"
)

// labPKI is a lab's CA and a server certificate it signed for ip, valid
// from an hour ago for a day: a clock that reads 1990 cannot verify it.
func labPKI(t *testing.T, ip net.IP) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e lab CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{ip},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// clockedUplink has VLAN 10 inside the box and VLAN 20 carried to the lab
// network, both with a box address that serves DHCP: time.serve serves
// NTP on VLAN 10 only.
const clockedUplink = `uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  vlans: [20]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.100-10.0.10.199}}
    - {vlan: 20, address: 10.0.20.1/24, dhcp: {range: 10.0.20.100-10.0.20.199, on-uplink: true}}
api:
  listen: ":8443"
  token: ` + apiToken + `
`

// ntpClientScript runs in a container: it asks the box's DHCP server for
// a lease with the NTP servers (busybox udhcpc, whose script prints them)
// and then the box's address on its VLAN for the time, up to tries times.
func ntpClientScript(box string, tries int) string {
	return `s=/tmp/lease; mkdir -p /tmp 2>/dev/null || s=/dev/shm/lease; ` +
		`echo '#!/bin/sh' > $s; echo '[ $1 = bound ] && echo NTP-LEASE ip=$ip ntpsrv=$ntpsrv' >> $s; chmod +x $s; ` +
		`udhcpc -i eth0 -s $s -q -n -t 5 -T 2 -O ntpsrv 2>/dev/null || echo NTP-LEASE-FAILED; ` +
		fmt.Sprintf(`n=0; until ntpquery %s; do n=$((n+1)); if [ $n -ge %d ]; then break; fi; sleep 1; done; `, box, tries) +
		`echo NTP-DONE; exec sleep 100000`
}

// TestClockFromNTP boots a box whose hardware clock reads 1990 and whose
// config is at an https URL signed by the lab's CA. While the test's NTP
// server drops requests the fetch fails on the certificate's dates (the
// control: the clock is what stands in the way); once it answers, the box
// steps its clock, fetches the config, and its time stage keeps syncing
// with the config's server. The status shows the clock right and where
// it came from. With time.serve, a container on internal VLAN 10 gets the
// box as NTP server in its DHCP lease and a valid answer from it, one
// stratum below the test's server, whose address is the reference id; a
// container on VLAN 20, which the uplink carries, gets a lease (the
// control: it reaches the box) without an NTP server, and no answer.
func TestClockFromNTP(t *testing.T) {
	harness.Require(t)
	ntp, err := ntptest.Listen("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ntp.Close()
	ntp.SetAnswering(false)
	ntpAddr := fmt.Sprintf("10.0.2.2:%d", ntp.Addr().Port)

	caPEM, cert := labPKI(t, net.IPv4(10, 0, 2, 2))
	caFile := filepath.Join(t.TempDir(), "lab-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "hostname: clocked\n" + clockedUplink + "time:\n  servers: [\"" + ntpAddr + "\"]\n  serve: true\ncontainers:\n"
	for _, ct := range []struct {
		name, vlan, box string
		tries           int
	}{{"ntp10", "10", "10.0.10.1", 10}, {"ntp20", "20", "10.0.20.1", 1}} {
		cfg += fmt.Sprintf("  - {name: %s, image: \"oci-layout:images/tools\", command: [sh, -c, %q], nics: [{vlan: %s, ipv4: dhcp}], restart: never, stop-timeout: 1s}\n",
			ct.name, ntpClientScript(ct.box, ct.tries), ct.vlan)
	}
	tools := goToolsLayout(t, "oci-ntp", "ntpquery")
	var fetched atomic.Int64
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		fmt.Fprint(w, cfg)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := fmt.Sprintf("https://10.0.2.2:%d/clocked.yaml", ln.Addr().(*net.TCPAddr).Port)

	img := harness.BuildImage(t, harness.WriteConfig(t, "clocked.yaml", cfg), harness.BuildArgs("--ca-certs", caFile,
		"--add-file", guestState+"/images/tools="+tools))
	m := img.Boot(t, harness.Options{
		Append: "nucbox.config=" + url + " nucbox.config.timeout=3m nucbox.ntp=" + ntpAddr,
		NICs:   []harness.NIC{{User: &harness.UserNet{Forward: []harness.Forward{{GuestPort: 8443}}}}},
		Extra:  []string{"-rtc", "base=1990-01-01T00:00:00"},
	})
	// The control: with no time from the network, the lab's certificate
	// is not valid yet for the box.
	m.MustExpect(readyTimeout, `nucbox: config: clock not set \(no NTP server answered: `+ntpAddr)
	m.MustExpect(time.Minute, `attempt 1: .*certificate has expired or is not yet valid`)
	if n := fetched.Load(); n != 0 {
		t.Fatalf("the config was served %d times before the clock was set", n)
	}
	if ntp.Dropped() == 0 {
		t.Fatal("the box never asked the NTP server")
	}
	ntp.SetAnswering(true)
	m.MustExpect(time.Minute, `nucbox: time: clock stepped by .* from `+ntpAddr+` .*was 1990-01-01T`)
	m.MustExpect(time.Minute, `nucbox: config: fetched `+url)
	remote, _ := apiReady(t, m, readyTimeout)

	bin := harness.Nucbox(t)
	stdout, stderr, code := cli(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
	var st api.Status
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil {
		t.Fatalf("status: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	tm := st.Time
	if tm == nil {
		t.Fatalf("no time in the status: %s", stdout)
	}
	t.Logf("box clock %s, host %s; %+v", tm.Now.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339), *tm)
	if d := time.Since(tm.Now); d.Abs() > time.Minute {
		t.Errorf("the box's clock is %s off the host's", d)
	}
	if !tm.Synced || tm.Server != ntpAddr || tm.Source != "config" || len(tm.Servers) != 1 {
		t.Errorf("time status %+v: want synced with %s from the config", *tm, ntpAddr)
	}
	if st.Hostname != "clocked" || fetched.Load() == 0 {
		t.Errorf("hostname %q, config fetched %d times", st.Hostname, fetched.Load())
	}
	text, _, _ := cli(t, bin, append([]string{"status"}, remote...)...)
	if re := `(?m)^time +\S+ \S+ UTC; synced with ` + regexp.QuoteMeta(ntpAddr); !regexp.MustCompile(re).MatchString(text) {
		t.Errorf("nucbox status has no line matching %s:\n%s", re, text)
	}

	openShell(t, m)
	served := time.Now()
	out := waitLog(t, m, time.Minute, guestState+"/containers/ntp10.log", "NTP-DONE", "NTP-")
	t.Logf("ntp10 (%.1fs): %q", time.Since(served).Seconds(), out)
	if !regexp.MustCompile(`NTP-LEASE ip=10\.0\.10\.1\d\d ntpsrv=10\.0\.10\.1\b`).MatchString(out) {
		t.Errorf("ntp10's lease on VLAN 10 does not name the box as NTP server: %q", out)
	}
	if !regexp.MustCompile(`NTP-QUERY 10\.0\.10\.1 leap=0 stratum=2 refid=10\.0\.2\.2 offset=\S+ valid=true`).MatchString(out) {
		t.Errorf("ntp10 got no valid answer at stratum 2 from the box's NTP server on VLAN 10: %q", out)
	}
	out = waitLog(t, m, time.Minute, guestState+"/containers/ntp20.log", "NTP-DONE", "NTP-")
	t.Logf("ntp20 (%.1fs): %q", time.Since(served).Seconds(), out)
	if !regexp.MustCompile(`NTP-LEASE ip=10\.0\.20\.1\d\d ntpsrv=\n`).MatchString(out + "\n") {
		t.Errorf("ntp20 on the carried VLAN 20 got no lease, or one with an NTP server: %q", out)
	}
	if strings.Contains(out, "NTP-QUERY ") || !strings.Contains(out, "NTP-QUERY-FAILED") {
		t.Errorf("the box answered NTP on VLAN 20, which the uplink carries: %q", out)
	}
	// The status names the NTP server's address, on VLAN 10 only, and
	// counts ntp10's answer.
	text, _, _ = cli(t, bin, append([]string{"status"}, remote...)...)
	if re := `(?m)^time +.*; serving NTP on 10\.0\.10\.1 on vlan10 \([1-9]\d* answered\)$`; !regexp.MustCompile(re).MatchString(text) {
		t.Errorf("nucbox status has no line matching %s:\n%s", re, text)
	}
}
