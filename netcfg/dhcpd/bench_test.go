package dhcpd

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/benchreport"
	"github.com/nucbox/nucbox/test/dhcpload"
)

// BenchmarkLeases (P8 of `make bench`) counts leases per second from the
// box's server for 200 simulated clients, each with its own MAC doing the
// full DISCOVER/OFFER/REQUEST/ACK over a veth into the server's
// namespace, 16 exchanges in flight, against dnsmasq serving the same
// range with the same lease time in the same namespace. Each sample is
// one run of the 200 clients against a fresh server (an empty lease
// table and lease file); the two sides alternate which goes first. Two
// rows: idle, and with a CPU burner on one of the two cores.
//
// A run counts only if it is correct (dhcpload's Check: every client a
// lease, no address twice, all inside the range); one that is not fails
// the benchmark and leaves its rows in the table with no samples and the
// error in the note.
//
//	make bench, or: go test -tags netgo,osusergo,seccomp -run '^$' -bench '^BenchmarkLeases$' -benchtime 1x ./netcfg/dhcpd
func BenchmarkLeases(b *testing.B) {
	const clients, runs = 200, 5
	l := newLoadLab(b)
	sc := loadScope("10.0.10.10", "10.0.10.250")
	o := dhcpload.Options{Clients: clients, InFlight: 16}
	version := dnsmasqVersion(b)

	sample := func(what string, serve func() (stop func())) (float64, error) {
		stop := serve()
		r := l.load(b, o)
		stop()
		if err := r.Check(clients, sc.First, sc.Last); err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		return r.Rate(), nil
	}
	ours := func() (float64, error) {
		return sample("box's server", func() func() { return l.serveOurs(b, sc).Close })
	}
	theirs := func() (float64, error) {
		return sample("dnsmasq", func() func() { return l.serveDNSMasq(b, sc).Stop })
	}
	measure := func() (o, t []float64, err error) {
		for i := range runs {
			sides := []func() (float64, error){ours, theirs}
			if i%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			for j, side := range sides {
				v, err := side()
				if err != nil {
					return nil, nil, err
				}
				if (i%2 == 0) == (j == 0) {
					o = append(o, v)
				} else {
					t = append(t, v)
				}
			}
		}
		return o, t, nil
	}

	note := fmt.Sprintf("host tier: %d clients with distinct MACs, full DISCOVER/OFFER/REQUEST/ACK with the broadcast flag over a veth into the server's namespace, "+
		"%d in flight, one raw socket (test/dhcpload); rate is ACKs over the time from the first DISCOVER to the last ACK; each of %d runs "+
		"per side starts a fresh server (empty leases, leases file in a new directory), alternating which side goes first; "+
		"range %s-%s, lease 1h, both log each lease; dnsmasq with --port=0 --dhcp-authoritative --no-ping (the box's server does not ping either); "+
		"the box's server runs inside the benchmark process, next to the clients, dnsmasq in a process of its own; "+
		"a run where a client got no lease, or two clients one address, fails the benchmark", clients, o.InFlight, runs, sc.First, sc.Last)
	base := "dnsmasq " + version
	row := func(id, load string, fail *error) benchreport.Figure {
		f := benchreport.Figure{ID: id, Name: fmt.Sprintf("DHCP leases per second, %d clients", clients), Unit: "leases/s",
			Load: load, Baseline: base, Goal: benchreport.AtLeastRatio(1)}
		if *fail == nil {
			f.Ours, f.BaseSamples, *fail = measure()
		}
		if *fail != nil {
			f.Ours, f.BaseSamples = nil, nil
			f.Note = "error: " + (*fail).Error()
		}
		return f
	}
	var fail error
	figs := []benchreport.Figure{row("P8a", "idle", &fail)}
	stop := benchreport.BurnCPU(b, -1)
	figs = append(figs, row("P8b", "1 CPU burner", &fail))
	stop()
	if figs[0].Note == "" {
		figs[0].Note = note
	}
	benchreport.Record(b, "p8-dhcp", figs...)
	if fail != nil {
		b.Fatal(fail)
	}
}

func dnsmasqVersion(b *testing.B) string {
	out, err := exec.Command("dnsmasq", "--version").Output()
	if err != nil {
		return "(version unknown)"
	}
	// "Dnsmasq version 2.90  Copyright ..."
	f := strings.Fields(string(out))
	if len(f) >= 3 && f[1] == "version" {
		return f[2]
	}
	return "(version unknown)"
}
