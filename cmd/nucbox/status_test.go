package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
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
