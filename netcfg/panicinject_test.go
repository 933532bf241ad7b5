//go:build panicinject

package netcfg

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// A panic in the DHCP client's renewal loop is logged with the client's
// name and the client is restarted with the lease it holds: the lease
// is renewed all the same and the address stays.
func TestDHCPClientSurvivesAPanic(t *testing.T) {
	l := newLab(t)
	startDNSMasq(t, l, t.TempDir())
	var logged syncbuf.Buffer
	m, err := New(Options{
		Namespace:     l.box.Namespace(),
		Switch:        l.sw,
		Logger:        slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, &logged), nil)),
		ResolvConf:    l.resolv,
		PhysicalKinds: []string{"veth"},
		Settle:        300 * time.Millisecond,
		LeaseTimeout:  15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	inject.Arm("dhcp.renew")
	st, err := m.Apply(context.Background(), dhcpSpec())
	if err != nil {
		t.Fatal(err)
	}
	first := st.Lease
	cur := waitLease(t, m, 10*time.Second, "a renewal after the panic", func(l *Lease) bool { return l.Renewals > 0 })
	if cur.Address != first.Address {
		t.Errorf("renewed lease %+v, want %s", cur, first.Address)
	}
	if got := logged.String(); !strings.Contains(got, "panic (recovered, PID 1 keeps running): injected panic at dhcp.renew") ||
		!strings.Contains(got, "dhcp client on ") {
		t.Errorf("the panic is not in the log with the client's name:\n%s", got)
	}
	if got := l.box.Addrs(t, st.Link); len(got) != 1 || got[0] != first.Address {
		t.Errorf("%s addresses %v after the panic, want %s", st.Link, got, first.Address)
	}
}
