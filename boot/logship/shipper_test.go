package logship

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/nucbox/nucbox/boot/logship/syslogtest"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "udp://10.0.0.5", want: "udp 10.0.0.5:514 tls=false"},
		{in: "tcp://syslog.lab:1514", want: "tcp syslog.lab:1514 tls=false"},
		{in: "tcp+tls://syslog.lab", want: "tcp syslog.lab:6514 tls=true"},
		{in: "tcp+tls://[fd00::1]:6515", want: "tcp [fd00::1]:6515 tls=true"},
		{in: "http://syslog.lab", err: "the scheme must be udp, tcp or tcp+tls"},
		{in: "tcp://", err: "no host"},
		{in: "tcp://syslog.lab:99999", err: "port \"99999\" is not a number from 1 to 65535"},
		{in: "tcp://syslog.lab/x", err: "only scheme://host[:port]"},
	} {
		got, err := ParseURL(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case fmt.Sprintf("%s %s tls=%v", got.Network, got.Addr, got.TLS) != tc.want:
			t.Errorf("%s: %+v, want %s", tc.in, got, tc.want)
		}
	}
}

func listen(t *testing.T, addr string, cfg *tls.Config) *syslogtest.Receiver {
	t.Helper()
	r, err := syslogtest.Listen(addr, cfg, SDID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// waitFor waits until r holds messages with every sequence number from 1
// to n, and returns them by number.
func waitFor(t *testing.T, r *syslogtest.Receiver, n uint64) map[string]syslogtest.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, errs := r.Messages()
		if len(errs) > 0 {
			t.Fatalf("receiver: %v", errs)
		}
		missing, highest := syslogtest.MissingSeq(msgs)
		if len(missing) == 0 && highest >= n {
			bySeq := map[string]syslogtest.Message{}
			for _, m := range msgs {
				bySeq[m.Params["seq"]] = m
			}
			return bySeq
		}
		if time.Now().After(deadline) {
			t.Fatalf("up to %d: missing %v, highest %d", n, missing, highest)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(t *testing.T, o Options) *Shipper {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// TestShipTCP: records arrive in order as RFC 5424 with their fields;
// with the server down they wait, and arrive once it is back.
func TestShipTCP(t *testing.T) {
	r := listen(t, "127.0.0.1:0", nil)
	addr := r.Addr()
	var logMu sync.Mutex
	var logged []string
	s := run(t, Options{URL: "tcp://" + addr, Hostname: func() string { return "nuc1" },
		Logf: func(f string, a ...any) { logMu.Lock(); logged = append(logged, fmt.Sprintf(f, a...)); logMu.Unlock() }})
	at := time.Date(2026, 12, 7, 7, 0, 0, 123456789, time.UTC)
	s.Send(Record{Time: at, Severity: SevInfo, Kind: "box", Text: "nucbox: ready"})
	s.Send(Record{Time: at, Severity: SevWarning, Kind: "container", Workload: "web", Text: `GET / "quoted" ]`})
	got := waitFor(t, r, 2)
	m := got["2"]
	sd := m.Params
	if *m.Appname != "web" || *m.Hostname != "nuc1" || *m.Message != `GET / "quoted" ]` || sd["workload"] != "web" ||
		sd["kind"] != "container" || sd["host"] != "nuc1" || *m.Severity != SevWarning || m.Timestamp == nil || !m.Timestamp.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("message 2: app %v host %v msg %v sd %v severity %v time %v", *m.Appname, *m.Hostname, *m.Message, sd, *m.Severity, m.Timestamp)
	}
	if m := got["1"]; *m.Appname != "nucbox" || m.Params["workload"] != "" {
		t.Errorf("message 1: app %v sd %v", *m.Appname, m.Params)
	}

	// The server goes away: what is sent meanwhile waits, nothing blocks.
	r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Status().Connected {
		if time.Now().After(deadline) {
			t.Fatal("still connected 5 s after the server closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	for i := 3; i <= 50; i++ {
		s.Send(Record{Time: at, Severity: SevInfo, Kind: "box", Text: fmt.Sprintf("line %d", i)})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("48 sends took %s with the server down", d)
	}
	if st := s.Status(); st.Queued < 48 || st.Dropped != 0 {
		t.Errorf("with the server down: %+v, want 48 queued, none dropped", st)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	got = waitFor(t, r, 50)
	for i := 3; i <= 50; i++ {
		if m := got[fmt.Sprint(i)]; m.Text() != fmt.Sprintf("line %d", i) {
			t.Errorf("seq %d: %q", i, m.Text())
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if all := strings.Join(logged, "\n"); !strings.Contains(all, "logging: lost tcp://"+addr) || !strings.Contains(all, "logging: sending to tcp://"+addr) {
		t.Errorf("the shipper's own log:\n%s", all)
	}
}

// TestShipBufferBound: with the server down and a small buffer, the
// oldest messages go, the count says how many, and the loss is reported
// once the server is back.
func TestShipBufferBound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens yet
	var logMu sync.Mutex
	var logged []string
	s := run(t, Options{URL: "tcp://" + addr, Buffer: 2000,
		Logf: func(f string, a ...any) { logMu.Lock(); logged = append(logged, fmt.Sprintf(f, a...)); logMu.Unlock() }})
	for i := 1; i <= 100; i++ {
		s.Send(Record{Time: time.Now(), Severity: SevInfo, Kind: "box", Text: fmt.Sprintf("line %d of a log that does not fit", i)})
	}
	st := s.Status()
	if st.QueuedBytes > 2000 || st.Dropped == 0 || uint64(st.Queued)+st.Dropped != 100 {
		t.Fatalf("status %+v: want at most 2000 bytes queued and the rest dropped", st)
	}
	r := listen(t, addr, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		logMu.Lock()
		all := strings.Join(logged, "\n")
		logMu.Unlock()
		if strings.Contains(all, fmt.Sprintf("%d messages were dropped while it was unreachable", st.Dropped)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report of the loss:\n%s", all)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The newest made it: the buffer keeps the end of the log.
	deadline = time.Now().Add(10 * time.Second)
	for {
		msgs, _ := r.Messages()
		n := len(msgs)
		last := ""
		if n > 0 {
			last = msgs[n-1].Text()
		}
		if n == st.Queued && last == "line 100 of a log that does not fit" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d (last %q), want %d ending with line 100", n, last, st.Queued)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShipTLS: a server whose certificate the box's CAs signed gets the
// messages; one signed by another CA does not, and the status says why.
func TestShipTLS(t *testing.T) {
	goodCA, goodCert := testPKI(t)
	_, otherCert := testPKI(t)
	r := listen(t, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{goodCert}})
	roots := x509.NewCertPool()
	roots.AddCert(goodCA)
	s := run(t, Options{URL: "tcp+tls://" + r.Addr(), RootCAs: roots})
	s.Send(Record{Time: time.Now(), Severity: SevInfo, Kind: "box", Text: "over tls"})
	if m := waitFor(t, r, 1)["1"]; m.Text() != "over tls" {
		t.Errorf("got %q", m.Text())
	}

	bad := listen(t, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{otherCert}})
	s2 := run(t, Options{URL: "tcp+tls://" + bad.Addr(), RootCAs: roots})
	s2.Send(Record{Time: time.Now(), Severity: SevInfo, Kind: "box", Text: "must not arrive"})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s2.Status().LastError, "certificate") {
		if time.Now().After(deadline) {
			t.Fatalf("status %+v: want a certificate error", s2.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msgs, _ := bad.Messages(); len(msgs) != 0 || bad.Connections() == 0 {
		t.Errorf("a server with a certificate of another CA: %d connections, %d messages; want some and none", bad.Connections(), len(msgs))
	}
}

// TestShipUDP: one message per datagram.
func TestShipUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := run(t, Options{URL: "udp://" + pc.LocalAddr().String(), Hostname: func() string { return "nuc1" }})
	s.Send(Record{Time: time.Now(), Severity: SevError, Kind: "vm", Workload: "vm1", Text: "boot failed"})
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := rfc5424.NewParser().Parse(buf[:n])
	if err != nil {
		t.Fatalf("%q: %v", buf[:n], err)
	}
	m := msg.(*rfc5424.SyslogMessage)
	if *m.Message != "boot failed" || (*m.StructuredData)[SDID]["kind"] != "vm" || *m.Severity != SevError {
		t.Errorf("datagram %q", buf[:n])
	}
}

// testPKI is a CA and a certificate it signed for 127.0.0.1.
func testPKI(t *testing.T) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return ca, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
