package reach

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nucbox/nucbox/vswitch/netnstest"
	"github.com/vishvananda/netns"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		p       Probe
		wantErr string
	}{
		{Probe{Kind: Ping, Target: "10.0.0.1"}, ""},
		{Probe{Kind: Ping, Target: "fe80::1"}, "IPv4"},
		{Probe{Kind: Ping, Target: "web"}, "IPv4"},
		{Probe{Kind: Connect, Target: "10.0.0.1:80"}, ""},
		{Probe{Kind: Connect, Target: "10.0.0.1"}, "ADDRESS:PORT"},
		{Probe{Kind: Resolve, Target: "web.lab", Server: "10.0.0.1"}, ""},
		{Probe{Kind: Resolve, Target: "web.lab", Server: "10.0.0.1:5353"}, ""},
		{Probe{Kind: Resolve, Target: "web.lab"}, "DNS server"},
		{Probe{Kind: Resolve, Target: "", Server: "10.0.0.1"}, "not a domain name"},
		{Probe{Kind: "trace", Target: "10.0.0.1"}, `kind "trace"`},
		{Probe{Kind: Ping, Target: "10.0.0.1", Timeout: time.Hour}, "at most"},
	}
	for _, tt := range tests {
		err := tt.p.Check()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: %v, want %q", tt.p, err, tt.wantErr)
		}
	}
}

// inNS runs fn on a thread inside ns and comes back, as Run does.
func inNS(t *testing.T, ns *netnstest.NS, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, _ := netns.Get()
		h, err := netns.GetFromPath(ns.Path)
		if err != nil {
			done <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			done <- err
			return
		}
		fn()
		if err := netns.Set(back); err != nil {
			done <- err
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestProbesFromANamespace probes from a tenant namespace to a server
// namespace over a veth: what is there is reached, what is not is not,
// and from a namespace with no way there (a tenant on another VLAN, say)
// nothing is reached.
func TestProbesFromANamespace(t *testing.T) {
	tenant, server, stranger := netnstest.New(t, "tenant"), netnstest.New(t, "server"), netnstest.New(t, "stranger")
	netnstest.Veth(t, stranger, "rx0", server, "rs1", true)
	stranger.AddAddr(t, "rx0", "10.78.0.1/24")
	stranger.Up(t, "rx0")
	netnstest.Veth(t, tenant, "rt0", server, "rs0", true)
	tenant.AddAddr(t, "rt0", "10.77.0.1/24")
	server.AddAddr(t, "rs0", "10.77.0.2/24")
	tenant.Up(t, "rt0")
	server.Up(t, "rs0")

	var l net.Listener
	var pc net.PacketConn
	inNS(t, server, func() {
		var err error
		if l, err = net.Listen("tcp4", "10.77.0.2:7000"); err != nil {
			t.Error(err)
		}
		if pc, err = net.ListenPacket("udp4", "10.77.0.2:53"); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	mux := dns.NewServeMux()
	mux.HandleFunc("lab.", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "web.lab." {
			rr, _ := dns.NewRR("web.lab. 60 IN A 10.77.0.9")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go func() { _ = srv.ActivateAndServe() }()
	defer srv.Shutdown()

	ctx := context.Background()
	tests := []struct {
		name   string
		from   string
		p      Probe
		ok     bool
		detail string
	}{
		{"ping the server", tenant.Path, Probe{Kind: Ping, Target: "10.77.0.2"}, true, "echo reply"},
		{"ping nobody", tenant.Path, Probe{Kind: Ping, Target: "10.77.0.3", Timeout: time.Second}, false, ""},
		{"connect to the listener", tenant.Path, Probe{Kind: Connect, Target: "10.77.0.2:7000"}, true, "connected"},
		{"connect to a closed port", tenant.Path, Probe{Kind: Connect, Target: "10.77.0.2:7001"}, false, "refused"},
		{"resolve a name", tenant.Path, Probe{Kind: Resolve, Target: "web.lab", Server: "10.77.0.2"}, true, "answered"},
		{"resolve an unknown name", tenant.Path, Probe{Kind: Resolve, Target: "db.lab", Server: "10.77.0.2"}, false, "NXDOMAIN"},
		// The stranger has a link to the server's namespace but no
		// route to 10.77.0.0/24.
		{"ping from a stranger", stranger.Path, Probe{Kind: Ping, Target: "10.77.0.2", Timeout: time.Second}, false, "unreachable"},
		{"connect from a stranger", stranger.Path, Probe{Kind: Connect, Target: "10.77.0.2:7000", Timeout: time.Second}, false, "unreachable"},
	}
	for _, tt := range tests {
		res, err := Run(ctx, tt.from, tt.p)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		t.Logf("%s: ok=%t %q %v %v", tt.name, res.OK, res.Detail, res.Answers, res.Elapsed)
		if res.OK != tt.ok || !strings.Contains(res.Detail, tt.detail) {
			t.Errorf("%s: ok=%t detail %q, want ok=%t detail with %q", tt.name, res.OK, res.Detail, tt.ok, tt.detail)
		}
		if tt.p.Kind == Resolve && tt.ok && (len(res.Answers) != 1 || res.Answers[0] != "10.77.0.9") {
			t.Errorf("%s: answers %v, want [10.77.0.9]", tt.name, res.Answers)
		}
	}
	if _, err := Run(ctx, "/proc/self/ns/nonexistent", Probe{Kind: Ping, Target: "10.77.0.2"}); err == nil {
		t.Error("a namespace that does not exist was probed from")
	}
}
