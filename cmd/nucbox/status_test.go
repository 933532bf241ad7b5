package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/logship"
	"github.com/nucbox/nucbox/netcfg/lldp"
	"github.com/nucbox/nucbox/netcfg/vlancheck"
)

// The status shows the data partition on one line: where it is mounted
// and how full, what the boot did to it, or why it is not mounted.
func TestStatusDataPartition(t *testing.T) {
	for _, tc := range []struct {
		name string
		data *api.DataPartition
		want string
	}{
		{"absent", nil, ""},
		{"mounted", &api.DataPartition{State: api.DataMounted, Device: "/dev/sda2", MountPoint: "/var/lib/nucbox", FS: "ext4",
			Size: 3 << 30, Free: 2 << 30},
			"data    /dev/sda2 on /var/lib/nucbox, ext4, 3.0 GiB, 2.0 GiB free\n"},
		{"repaired", &api.DataPartition{State: api.DataMounted, Device: "/dev/sda2", MountPoint: "/var/lib/nucbox", FS: "ext4",
			Size: 900 << 20, Free: 800 << 20, Note: "primary superblock damaged, repaired from backup at block 32768", RepairedFrom: 32768},
			"data    /dev/sda2 on /var/lib/nucbox, ext4, 900 MiB, 800 MiB free; primary superblock damaged, repaired from backup at block 32768\n"},
		{"none", &api.DataPartition{State: api.DataNone, MountPoint: "/var/lib/nucbox"},
			"data    none: /var/lib/nucbox is in RAM and lasts until power off\n"},
		{"not mounted", &api.DataPartition{State: api.DataNotMounted, Device: "/dev/sda2", MountPoint: "/var/lib/nucbox",
			Reason: "no usable superblock: not mounted, not formatted"},
			"data    NOT MOUNTED: /dev/sda2: no usable superblock: not mounted, not formatted; workloads that need it are held\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeStatus(&b, api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready", Data: tc.data}}); err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, l := range strings.SplitAfter(b.String(), "\n") {
				if strings.HasPrefix(l, "data ") {
					got += l
				}
			}
			if got != tc.want {
				t.Errorf("data line %q, want %q\n%s", got, tc.want, b.String())
			}
		})
	}
}

// The status shows when the kernel's random pool became ready and how
// the seed was used, from the ready summary; a summary without them
// (a box of an older version) shows no entropy line.
func TestStatusShowsEntropy(t *testing.T) {
	for _, tc := range []struct {
		summary string
		want    string
	}{
		{`{"init_ms":3500,"ready_ms":9900,"entropy_ready_ms":9050,"entropy_seed":"credited"}`, "random pool ready at 9050 ms (seed credited)"},
		{`{"init_ms":3500,"ready_ms":9900}`, ""},
	} {
		var b strings.Builder
		if err := writeStatus(&b, api.Status{BoxState: api.BoxState{Hostname: "box", Phase: "ready", Summary: json.RawMessage(tc.summary)}}); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if tc.want == "" && strings.Contains(got, "entropy") {
			t.Errorf("summary %s: an entropy line without entropy fields:\n%s", tc.summary, got)
		}
		if tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("summary %s: no %q in:\n%s", tc.summary, tc.want, got)
		}
	}
}

// The status shows the box's clock and its last NTP sync, or that it was
// never synced and why.
func TestStatusTime(t *testing.T) {
	now := time.Date(2026, 12, 7, 7, 6, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		tm   *api.TimeState
		want string
	}{
		{"absent", nil, ""},
		{"stepped", &api.TimeState{Now: now, Synced: true, Server: "10.0.2.2:123", At: now.Add(-90 * time.Second),
			Offset: api.Duration(323743 * time.Hour), Stepped: true},
			"time    2026-12-07 07:06:00 UTC; synced with 10.0.2.2:123 1m30s ago (was off by 13489 days, stepped)\n"},
		{"slewed", &api.TimeState{Now: now, Synced: true, Server: "ntp1", At: now, Offset: api.Duration(-4 * time.Millisecond)},
			"time    2026-12-07 07:06:00 UTC; synced with ntp1 0s ago (was off by 4ms, slewed)\n"},
		{"never", &api.TimeState{Now: now, Servers: []string{"pool.ntp.org"}, Error: "no NTP server answered: pool.ntp.org: i/o timeout"},
			"time    2026-12-07 07:06:00 UTC; NOT SYNCED with pool.ntp.org; last sync: no NTP server answered: pool.ntp.org: i/o timeout\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeStatus(&b, api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready", Time: tc.tm}}); err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, l := range strings.SplitAfter(b.String(), "\n") {
				if strings.HasPrefix(l, "time ") {
					got += l
				}
			}
			if got != tc.want {
				t.Errorf("time line %q, want %q\n%s", got, tc.want, b.String())
			}
		})
	}
}

// The status shows where the logs go and how the shipping fares.
func TestStatusLogging(t *testing.T) {
	for _, tc := range []struct {
		l    *logship.Status
		want string
	}{
		{nil, ""},
		{&logship.Status{Remote: "tcp+tls://syslog.lab", Connected: true, Sent: 1200}, "logging  tcp+tls://syslog.lab: connected; 1200 sent, 0 queued, 0 dropped\n"},
		{&logship.Status{Remote: "udp://10.0.0.5", LastError: "dial tcp: connection refused", Queued: 30, QueuedBytes: 3 << 20, Dropped: 7},
			"logging  udp://10.0.0.5: NOT CONNECTED (dial tcp: connection refused); 0 sent, 30 queued (3072 KiB), 7 dropped\n"},
	} {
		var b strings.Builder
		if err := writeStatus(&b, api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready", Logging: tc.l}}); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, l := range strings.SplitAfter(b.String(), "\n") {
			if strings.HasPrefix(l, "logging ") {
				got += l
			}
		}
		if got != tc.want {
			t.Errorf("logging line %q, want %q", got, tc.want)
		}
	}
}

// The leases the box's DHCP server gave are listed under their workload
// (or the client's host name), fixed and expired ones marked; a box that
// serves no DHCP shows no such table.
func TestStatusServedLeases(t *testing.T) {
	var b strings.Builder
	if err := writeStatus(&b, api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "SERVED LEASE") {
		t.Errorf("a box without served leases shows the table:\n%s", b.String())
	}
	b.Reset()
	st := api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready"}, ServedLeases: []api.ServedLease{
		{VLAN: 10, MAC: "02:00:00:00:00:05", Address: "10.0.10.5", Name: "vm1", Fixed: true, Active: true},
		{VLAN: 10, MAC: "02:aa:00:00:00:01", Address: "10.0.10.100", Hostname: "laptop", Active: false},
	}}
	if err := writeStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SERVED LEASE", "vm1", "10.0.10.5", "(fixed)", "laptop", "10.0.10.100", "expired"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

// The status names the switch port each LLDP neighbour says the box is
// plugged into.
func TestStatusNeighbors(t *testing.T) {
	var b strings.Builder
	st := api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready", Neighbors: []lldp.Neighbor{
		{Link: "eno1", ChassisID: "00:1b:21:aa:bb:cc", PortID: "Gi1/0/7", PortDescription: "rack 3", SystemName: "lab-switch", MgmtAddresses: []string{"10.0.0.2"}},
		{Link: "eno1", ChassisID: "SW2", PortID: "7"},
	}}}
	if err := writeStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"switch  eno1 is on lab-switch port Gi1/0/7 (rack 3), management 10.0.0.2\n",
		"switch  eno1 is on SW2 port 7\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}

// A line per checked VLAN, with the verdict in words.
func TestStatusVLANCheck(t *testing.T) {
	var b strings.Builder
	st := api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready", VLANCheck: []vlancheck.Result{
		{VLAN: 10, Probe: vlancheck.ProbeARP, Gateway: "10.0.10.254", State: vlancheck.Carried, Answer: "00:1b:21:00:00:0a"},
		{VLAN: 20, Probe: vlancheck.ProbeARP, Gateway: "10.0.20.254", State: vlancheck.NotCarried},
		{VLAN: 30, Probe: vlancheck.ProbeDHCP, State: vlancheck.NoAnswer},
		{VLAN: 40, Probe: vlancheck.ProbeDHCP, State: vlancheck.Checking},
	}}}
	if err := writeStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"vlan 10  VLAN 10 is carried: the gateway 10.0.10.254 answered ARP from 00:1b:21:00:00:0a\n",
		"vlan 20  the switch port does not carry VLAN 20: the gateway 10.0.20.254 did not answer ARP\n",
		"vlan 30  no answer on VLAN 30 (no gateway configured, no DHCP server answered)\n",
		"vlan 40  checking VLAN 40: DHCP discover\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}
