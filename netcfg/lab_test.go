package netcfg

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// lab is a box namespace whose eth0 is cabled to a LAN namespace where
// 10.99.0.1 is the gateway.
type lab struct {
	box, lan *netnstest.NS
	resolv   string
	// sw is the box's switch, the one the managers take the uplink over
	// with.
	sw *vswitch.Switch
}

const (
	gateway = "10.99.0.1"
	boxAddr = "10.99.0.5/24"
)

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{box: netnstest.New(t, "box"), lan: netnstest.New(t, "lan")}
	netnstest.Veth(t, l.box, "eth0", l.lan, "lan0", true)
	l.lan.AddAddr(t, "lan0", gateway+"/24")
	l.resolv = filepath.Join(t.TempDir(), "resolv.conf")
	sw, err := vswitch.Open(l.box.Namespace(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	l.sw = sw
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *lab) manager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(Options{
		Namespace:     l.box.Namespace(),
		Switch:        l.sw,
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ResolvConf:    l.resolv,
		PhysicalKinds: []string{"veth"},
		Settle:        300 * time.Millisecond,
		LeaseTimeout:  15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func staticSpec() Spec {
	return Spec{
		Hostname:   "nuc-test",
		Uplink:     Selector{CarrierTimeout: 5 * time.Second},
		Bridge:     vswitch.Bridge{Name: "br0"},
		UplinkPort: vswitch.Port{Kind: vswitch.KindExternal, Label: "uplink"},
		IPv4:       IPv4{Address: netip.MustParsePrefix(boxAddr), Gateway: netip.MustParseAddr(gateway)},
		DNS:        []netip.Addr{netip.MustParseAddr(gateway)},
		Probe:      Probe{Timeout: 3 * time.Second},
	}
}

// reachableFromLAN asks the LAN side for the box's MAC by ARP, which only
// works when the box answers through the bridge.
func (l *lab) reachableFromLAN(t *testing.T, addr string) bool {
	t.Helper()
	m, err := New(Options{Namespace: l.lan.Namespace(), ResolvConf: filepath.Join(t.TempDir(), "r")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r := m.probe(context.Background(), "lan0", netip.MustParseAddr(addr), 2*time.Second)
	return r.OK
}

// defaultVia is the gateway of the default route through link, if any.
func (l *lab) defaultVia(t *testing.T, link string) string {
	t.Helper()
	k := kernel{h: l.box.H}
	rs, err := k.routes(l.box.Link(t, link))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if isDefault(r) {
			return r.Gw.String()
		}
	}
	return ""
}
