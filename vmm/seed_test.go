package vmm

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func seedSpec() Spec {
	return Spec{
		Box:      "nuc1",
		StateDir: "/var/lib/nucbox",
		Name:     "ubuntu1",
		NICs: []NIC{
			{TAP: "t-ubuntu1-0", MAC: mustMAC("02:00:00:00:00:01"),
				IPv4: IPv4{Address: netip.MustParsePrefix("10.0.10.5/24"), Gateway: netip.MustParseAddr("10.0.10.1")}},
			{TAP: "t-ubuntu1-1", MAC: mustMAC("02:00:00:00:00:02")},
			{TAP: "t-ubuntu1-2", MAC: mustMAC("02:00:00:00:00:03"), IPv4: IPv4{DHCP: true}},
		},
		CloudInit: &CloudInit{UserData: "#cloud-config\npassword: lab\n"},
		DNS:       []netip.Addr{netip.MustParseAddr("10.0.10.1")},
	}
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestSeedFiles(t *testing.T) {
	files, err := SeedFiles(seedSpec())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Name] = string(f.Data)
	}
	want := map[string]string{
		"meta-data": "instance-id: nucbox-nuc1-ubuntu1\nlocal-hostname: ubuntu1\n",
		"user-data": "#cloud-config\npassword: lab\n",
		"network-config": `version: 2
ethernets:
  nic0:
    match:
      macaddress: "02:00:00:00:00:01"
    dhcp4: false
    addresses:
      - 10.0.10.5/24
    routes:
      - to: 0.0.0.0/0
        via: 10.0.10.1
    nameservers:
      addresses:
        - 10.0.10.1
  nic2:
    match:
      macaddress: "02:00:00:00:00:03"
    dhcp4: true
`,
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("files %v, want %d files", got, len(want))
	}
}

func TestSeedMetaDataMerge(t *testing.T) {
	s := seedSpec()
	s.CloudInit = &CloudInit{MetaData: "local-hostname: web # mine\npublic-keys: [a]"}
	files, err := SeedFiles(s)
	if err != nil {
		t.Fatal(err)
	}
	want := "instance-id: nucbox-nuc1-ubuntu1\nlocal-hostname: web # mine\npublic-keys: [a]\n"
	if string(files[0].Data) != want {
		t.Errorf("meta-data:\n%s\nwant:\n%s", files[0].Data, want)
	}
	if string(files[1].Data) != "#cloud-config\n" {
		t.Errorf("empty user-data became %q", files[1].Data)
	}

	s.CloudInit.MetaData = "- a list"
	if _, err := SeedFiles(s); err == nil {
		t.Error("meta-data that is not a mapping was accepted")
	}
}

func TestSeedNoNetworkConfig(t *testing.T) {
	s := seedSpec()
	for i := range s.NICs {
		s.NICs[i].IPv4 = IPv4{}
	}
	files, err := SeedFiles(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name == "network-config" {
			t.Errorf("network-config written without any address setting:\n%s", f.Data)
		}
	}
}

func TestSeedBadAddress(t *testing.T) {
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	for _, a := range []IPv4{
		{Gateway: a("10.0.10.1")},
		{Address: p("fd00::1/64")},
		{Address: p("10.0.10.5/24"), Gateway: a("10.0.11.1")},
		{Address: p("10.0.10.5/24"), Gateway: a("fd00::1")},
	} {
		s := seedSpec()
		s.NICs[0].IPv4 = a
		if _, err := SeedFiles(s); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
}

func TestWriteSeedReadBack(t *testing.T) {
	files, err := SeedFiles(seedSpec())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := WriteSeed(path, files); err != nil {
		t.Fatalf("first write: %v", err)
	}
	// Writing again replaces the image in place.
	if err := WriteSeed(path, files); err != nil {
		t.Fatal(err)
	}
	label, got, err := ReadSeed(path)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if label != SeedLabel {
		t.Errorf("label %q, want %q", label, SeedLabel)
	}
	for _, f := range files {
		if string(got[f.Name]) != string(f.Data) {
			t.Errorf("%s: read back %q, want %q", f.Name, got[f.Name], f.Data)
		}
	}
	if len(got) != len(files) {
		t.Errorf("read back %d files, want %d", len(got), len(files))
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".seed-*"))
	if len(leftovers) != 0 {
		t.Errorf("work files left behind: %v", leftovers)
	}
	// Cross-check with an independent reader when one is installed.
	if isoinfo, err := exec.LookPath("isoinfo"); err == nil {
		out, err := exec.Command(isoinfo, "-d", "-i", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Volume id: cidata") {
			t.Errorf("isoinfo -d: %v\n%s", err, out)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		t.Logf("seed ISO: %d bytes", fi.Size())
	}
}
