package plan

import (
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/internal/floor"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/netcfg/vlancheck"
	"github.com/nucbox/nucbox/vmm"
	"github.com/nucbox/nucbox/vswitch"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func compile(t *testing.T, c *config.Config) *Desired {
	t.Helper()
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return &p.Desired
}

// The desired state of the examples, value by value: what PID 1 applies.
func TestCompileExamples(t *testing.T) {
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	br0 := vswitch.Bridge{Name: "br0", VLANFiltering: true, NativeVLAN: 1}
	// Derived MACs are pinned here: a change would move every guest's
	// DHCP reservation.
	vmMAC, webMAC, dbMAC := mac("ba:71:26:cf:6c:d4"), mac("8e:bd:0f:a5:64:a2"), mac("76:74:a6:64:69:6e")
	// QEMU's user: VMUserBase plus the name's hash (config.VMUsers).
	const vmUser = 1073801435
	tap := vswitch.Port{Name: "t-ubuntu1-0", Kind: vswitch.KindTAP, Label: "vm/ubuntu1/0", MAC: vmMAC, VLAN: 10,
		Owner: vmUser, Group: vmUser}
	web := vswitch.Port{Name: "v-web-0", Kind: vswitch.KindVeth, Label: "ct/web/0", MAC: webMAC, Peer: "p-web-0", VLAN: 10}
	db := vswitch.Port{Name: "v-db-0", Kind: vswitch.KindVeth, Label: "ct/db/0", MAC: dbMAC, Peer: "p-db-0", VLAN: 20}
	vnc := 1
	workloads := floor.Parent{Path: "nucbox.workloads", Reserve: floor.Reserve{Memory: 256 << 20, PIDs: 512}}

	for _, tc := range []struct {
		name string
		want Desired
	}{
		{"basic", Desired{
			Hostname: "nucbox",
			StateDir: "/var/lib/nucbox",
			Network: netcfg.Spec{
				Hostname:   "nucbox",
				Uplink:     netcfg.Selector{CarrierTimeout: 30 * time.Second},
				Bridge:     br0,
				UplinkPort: vswitch.Port{Kind: vswitch.KindExternal, Label: "uplink", Native: 1},
				IPv4:       netcfg.IPv4{DHCP: true},
				IPv6:       netcfg.IPv6{Mode: netcfg.IPv6SLAAC},
				Probe:      netcfg.Probe{Timeout: 10 * time.Second},
			},
			Switch:    vswitch.Desired{Bridge: br0, Uplink: vswitch.Port{Kind: vswitch.KindExternal, Label: "uplink", Native: 1}},
			Firewall:  netcfg.Firewall{UplinkIPv6: netcfg.IPv6SLAAC},
			Workloads: workloads,
			API:       API{Socket: APISocket, SessionLifetime: config.DefaultSessionLifetime, SessionIdle: config.DefaultSessionIdle},
			Order:     []string{"modules", "hostname", "loopback", "reserve", "network", "lldp", "serve", "time", "logging", "api", "vms", "containers"},
		}},
		{"lab", Desired{
			Hostname: "nuc1",
			StateDir: "/var/lib/nucbox",
			Network: netcfg.Spec{
				Hostname:   "nuc1",
				Uplink:     netcfg.Selector{CarrierTimeout: 30 * time.Second},
				Bridge:     br0,
				UplinkPort: vswitch.Port{Kind: vswitch.KindExternal, Label: "uplink", Trunk: []int{10, 20}, Native: 1},
				IPv4:       netcfg.IPv4{DHCP: true},
				IPv6:       netcfg.IPv6{Mode: netcfg.IPv6SLAAC},
				DNS:        []netip.Addr{addr("192.168.1.1")},
				Probe:      netcfg.Probe{Timeout: 15 * time.Second},
			},
			Switch: vswitch.Desired{
				Bridge: br0,
				Uplink: vswitch.Port{Kind: vswitch.KindExternal, Label: "uplink", Trunk: []int{10, 20}, Native: 1},
				Ports:  []vswitch.Port{tap, web, db},
				Addresses: []vswitch.VLANAddress{
					{VLAN: 10, Link: "vlan10", Prefix: pfx("10.0.10.1/24")},
					{VLAN: 20, Link: "vlan20", Prefix: pfx("10.0.20.1/24")},
				},
			},
			VMs: []vmm.Spec{{
				Name: "ubuntu1", Box: "nuc1", StateDir: "/var/lib/nucbox",
				CPUs: 2, Memory: 2 << 30, Machine: "q35", AccelMode: "auto",
				Disks: []vmm.Disk{{Path: "/var/lib/nucbox/ubuntu1.qcow2", Size: 20 << 30,
					Backing: "/var/lib/nucbox/images/ubuntu-24.04.img", Format: "qcow2"}},
				NICs: []vmm.NIC{{TAP: "t-ubuntu1-0", MAC: vmMAC,
					IPv4: vmm.IPv4{Address: pfx("10.0.10.10/24"), Gateway: addr("10.0.10.1")}}},
				VNC:             &vnc,
				CloudInit:       &vmm.CloudInit{UserData: "#cloud-config\npassword: ubuntu\nchpasswd: {expire: false}\nssh_pwauth: true\n"},
				DNS:             []netip.Addr{addr("192.168.1.1")},
				Restart:         "always",
				ShutdownTimeout: 90 * time.Second,
				Cgroup:          "nucbox.workloads/vm-ubuntu1",
				MemoryMax:       2<<30 + 512<<20,
				User:            &vmm.User{UID: vmUser, GID: vmUser},
			}},
			Containers: []containers.Spec{
				{
					Name: "web",
					Image: containers.Source{Transport: containers.TransportRegistry,
						Ref: "index.docker.io/library/nginx:1.27", Registry: "index.docker.io"},
					NICs:        []containers.NIC{{Port: web, Name: "eth0", IPv4: containers.IPv4{DHCP: true}}},
					Memory:      256 << 20,
					CPUs:        0.5,
					PIDs:        1024,
					Volumes:     []containers.Volume{{Source: "/var/lib/nucbox/web/html", Target: "/usr/share/nginx/html", ReadOnly: true}},
					Cgroup:      "nucbox.workloads/ct-web",
					Restart:     "on-failure",
					StopTimeout: 10 * time.Second,
				},
				{
					Name: "db",
					Image: containers.Source{Transport: containers.TransportRegistry,
						Ref: "index.docker.io/library/postgres:16", Registry: "index.docker.io"},
					Env: containers.Environment{"POSTGRES_PASSWORD": "lab-only-password", "PGPORT": "5432"},
					NICs: []containers.NIC{{Port: db, Name: "eth0",
						IPv4: containers.IPv4{Address: pfx("10.0.20.5/24"), Gateway: addr("10.0.20.1")}}},
					Memory:      1 << 30,
					PIDs:        512,
					Volumes:     []containers.Volume{{Source: "/var/lib/nucbox/db/data", Target: "/var/lib/postgresql/data"}},
					Cgroup:      "nucbox.workloads/ct-db",
					Restart:     "on-failure",
					StopTimeout: 30 * time.Second,
				},
			},
			Firewall: netcfg.Firewall{Segments: []netcfg.Segment{
				{Interface: "vlan10", Subnet: pfx("10.0.10.0/24")},
				{Interface: "vlan20", Subnet: pfx("10.0.20.0/24")},
			}, UplinkIPv6: netcfg.IPv6SLAAC},
			Workloads: workloads,
			API:       API{Socket: APISocket, Listen: ":8443", PublicStatus: true, SessionLifetime: config.DefaultSessionLifetime, SessionIdle: config.DefaultSessionIdle},
			Order:     []string{"modules", "hostname", "loopback", "reserve", "network", "lldp", "serve", "time", "logging", "api", "vms", "containers"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := compile(t, load(t, "../../examples/"+tc.name+".yaml"))
			for _, f := range []struct {
				name      string
				got, want any
			}{
				{"hostname", got.Hostname, tc.want.Hostname},
				{"state-dir", got.StateDir, tc.want.StateDir},
				{"modules", got.Modules, tc.want.Modules},
				{"network", got.Network, tc.want.Network},
				{"nat", got.Firewall.NATs(), tc.want.Firewall.NATs()},
				{"firewall", got.Firewall, tc.want.Firewall},
				{"workloads", got.Workloads, tc.want.Workloads},
				{"switch", got.Switch, tc.want.Switch},
				{"vms", got.VMs, tc.want.VMs},
				{"containers", got.Containers, tc.want.Containers},
				{"api", got.API, tc.want.API},
				{"order", got.Order, tc.want.Order},
			} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s:\n got %+v\nwant %+v", f.name, f.got, f.want)
				}
			}
			// The uplink port exists once, as a template: the network
			// stage names it after the link it selected.
			if sw := got.Switch.WithUplink("eno1"); sw.Ports[0].Name != "eno1" || sw.Ports[0].Kind != vswitch.KindExternal ||
				!reflect.DeepEqual(sw.Ports[0].Trunk, got.Network.UplinkPort.Trunk) || len(sw.Ports) != len(got.Switch.Ports)+1 {
				t.Errorf("WithUplink: %+v", sw.Ports)
			}
			if err := got.Switch.WithUplink("eno1").Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// A NIC without VLANs is an access port on the native VLAN; a trunk
// carries its VLANs tagged; a container's veth has its peer; box
// addresses get their VLAN interface.
func TestCompileSwitch(t *testing.T) {
	c := parse(t, `hostname: nuc1
uplink:
  vlans: [10, 20]
  native-vlan: 5
  addresses: [{vlan: 20, address: 10.0.20.1/24, nat: true}]
vms:
  - name: ubuntu1
    nics: [{vlan: 10}, {trunk: [10, 20], native: 5, mac: "02:00:00:00:00:01"}]
containers:
  - name: web
    image: nginx
    nics: [{}]
`)
	d := compile(t, c)
	if b := d.Switch.Bridge; b.Name != "br0" || !b.VLANFiltering || b.NativeVLAN != 5 || b.MAC != nil {
		t.Errorf("bridge %+v", b)
	}
	var got []string
	for _, p := range d.Switch.WithUplink("eno1").Ports {
		got = append(got, strings.Join([]string{p.Name, string(p.Kind), p.Label, p.MAC.String(), p.Peer, vlanText(p.VLANs())}, " "))
	}
	want := []string{
		"eno1 external uplink   [5 pvid untagged 10 20]",
		"t-ubuntu1-0 tap vm/ubuntu1/0 " + config.DeriveMAC("nuc1", "ubuntu1", 0).String() + "  [10 pvid untagged]",
		"t-ubuntu1-1 tap vm/ubuntu1/1 02:00:00:00:00:01  [5 pvid untagged 10 20]",
		"v-web-0 veth ct/web/0 " + config.DeriveMAC("nuc1", "web", 0).String() + " p-web-0 [5 pvid untagged]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if want := []vswitch.VLANAddress{{VLAN: 20, Link: "vlan20", Prefix: netip.MustParsePrefix("10.0.20.1/24")}}; !reflect.DeepEqual(d.Switch.Addresses, want) {
		t.Errorf("addresses %+v", d.Switch.Addresses)
	}
	if want := []netcfg.NAT{{Interface: "vlan20", Subnet: netip.MustParsePrefix("10.0.20.0/24")}}; !reflect.DeepEqual(d.Firewall.NATs(), want) {
		t.Errorf("NAT %+v", d.Firewall.NATs())
	}
	// The VM's NICs are the switch's TAPs, MAC for MAC.
	for i, n := range d.VMs[0].NICs {
		if p := d.Switch.Ports[i]; n.TAP != p.Name || n.MAC.String() != p.MAC.String() {
			t.Errorf("VM NIC %d %+v, port %+v", i, n, p)
		}
	}
	if n := d.Containers[0].NICs[0]; !reflect.DeepEqual(n.Port, d.Switch.Ports[2]) || n.Name != "eth0" {
		t.Errorf("container NIC %+v, port %+v", n, d.Switch.Ports[2])
	}
}

func vlanText(vs []vswitch.VLAN) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = v.String()
	}
	return "[" + strings.Join(ss, " ") + "]"
}

// The uplink section as netcfg takes it: selection by MAC, a static
// address, DNS and the probe.
func TestCompileNetwork(t *testing.T) {
	c := parse(t, `hostname: nuc1
uplink:
  mac: AA:BB:CC:DD:EE:FF
  ipv4: {address: 192.168.1.10/24, gateway: 192.168.1.1}
  dns: [192.168.1.1, 9.9.9.9]
  vlans: [10, 20]
  probe: {target: 192.168.1.2}
`)
	s := compile(t, c).Network
	if s.Uplink.MAC.String() != "aa:bb:cc:dd:ee:ff" || s.Uplink.Auto() || s.Uplink.CarrierTimeout != 30*time.Second {
		t.Errorf("selector = %+v", s.Uplink)
	}
	if s.IPv4.DHCP || s.IPv4.Address != netip.MustParsePrefix("192.168.1.10/24") || s.IPv4.Gateway != netip.MustParseAddr("192.168.1.1") {
		t.Errorf("ipv4 = %+v", s.IPv4)
	}
	if s.Bridge.Name != "br0" || !s.Bridge.VLANFiltering || s.Bridge.NativeVLAN != 1 {
		t.Errorf("bridge = %+v", s.Bridge)
	}
	if !reflect.DeepEqual(s.UplinkPort.Trunk, []int{10, 20}) || len(s.DNS) != 2 || s.Probe.Target != netip.MustParseAddr("192.168.1.2") || s.Probe.Timeout != 10*time.Second {
		t.Errorf("spec = %+v", s)
	}
	if s := compile(t, parse(t, "hostname: nuc1\n")).Network; !s.IPv4.DHCP || !s.Uplink.Auto() {
		t.Errorf("empty uplink: %+v", s)
	}
	if s := compile(t, parse(t, "hostname: nuc1\nuplink: {interface: eno1}\n")).Network; s.Uplink.Name != "eno1" || s.Uplink.Auto() {
		t.Errorf("named uplink: %+v", s.Uplink)
	}
}

// TestCompileVLANCheck: each tagged uplink VLAN is checked, by ARP where
// its box address names the lab's gateway, with that address as sender;
// off checks none.
func TestCompileVLANCheck(t *testing.T) {
	src := `hostname: nuc1
uplink:
  vlans: [10, 20]
  addresses:
    - {vlan: 20, address: 10.0.20.5/24, gateway: 10.0.20.1}
`
	d := compile(t, parse(t, src))
	want := []vlancheck.Target{{VLAN: 10},
		{VLAN: 20, Gateway: netip.MustParseAddr("10.0.20.1"), Source: netip.MustParseAddr("10.0.20.5")}}
	if !reflect.DeepEqual(d.VLANCheck, want) {
		t.Errorf("targets %+v, want %+v", d.VLANCheck, want)
	}
	if d := compile(t, parse(t, src+"  vlan-check: off\n")); d.VLANCheck != nil {
		t.Errorf("off: targets %+v", d.VLANCheck)
	}
}

// Compile reports every value it cannot translate at once. A config from
// Parse has none of these; a hand-built one may.
func TestCompileReportsEveryError(t *testing.T) {
	c := &config.Config{Hostname: "nuc1", Uplink: config.Uplink{
		MAC:       "nope",
		IPv4:      config.IPv4{Address: "10.0.0.1", Gateway: "x"},
		DNS:       []string{"1.1.1.1", "dns.example"},
		Probe:     config.Probe{Target: "?"},
		Addresses: []config.VLANAddress{{VLAN: 20, Address: "10.0.20.1"}},
	},
		VMs:        []config.VM{{Name: "ubuntu1", NICs: []config.NIC{{VLAN: 10, MAC: "zz"}}}},
		Containers: []config.Container{{Name: "web", Image: "::bad::"}},
	}
	c.ApplyDefaults()
	_, err := Compile(c)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"uplink.mac", "uplink.ipv4.address", "uplink.ipv4.gateway", "uplink.dns[1]",
		"uplink.probe.target", "ubuntu1: NIC 0", "VLAN 20", "web: image"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
}

// Paths are absolute in the specs, relative ones in the state directory;
// images are resolved with their registry's credentials.
func TestCompilePathsAndImages(t *testing.T) {
	c := parse(t, `hostname: nuc1
state-dir: /data
vms:
  - name: vm1
    disks: [{path: vm1.qcow2, size: 1GiB}, {path: /abs//base.img, read-only: true, format: raw}]
    cdroms: [isos/../installer.iso]
    kernel: k/vmlinuz
containers:
  - name: a
    image: oci-layout:images/a:v1
    volumes: [{source: a/data, target: /data}]
  - name: b
    image: docker-archive:/tars/b.tar
  - name: c
    image: registry.lab.example:5000/c:1
registries:
  - {host: "registry.lab.example:5000", username: lab, password: secret}
`)
	d := compile(t, c)
	vm := d.VMs[0]
	if vm.Disks[0].Path != "/data/vm1.qcow2" || vm.Disks[1].Path != "/abs/base.img" || vm.Disks[0].Format != "qcow2" ||
		vm.CDROMs[0] != "/data/installer.iso" || vm.Kernel != "/data/k/vmlinuz" || vm.Initrd != "" || vm.StateDir != "/data" {
		t.Errorf("vm paths %+v", vm)
	}
	want := []containers.Source{
		{Transport: containers.TransportOCILayout, Path: "/data/images/a", Tag: "v1"},
		{Transport: containers.TransportDockerArchive, Path: "/tars/b.tar"},
		{Transport: containers.TransportRegistry, Ref: "registry.lab.example:5000/c:1", Registry: "registry.lab.example:5000",
			Auth: &containers.Auth{Username: "lab", Password: "secret"}},
	}
	for i, w := range want {
		if got := d.Containers[i].Image; !reflect.DeepEqual(got, w) {
			t.Errorf("image %d: %+v, want %+v", i, got, w)
		}
	}
	if v := d.Containers[0].Volumes[0]; v.Source != "/data/a/data" {
		t.Errorf("volume %+v", v)
	}
}

// The JSON form is for people: MACs, addresses and durations as text,
// and no secrets (API token, registry password, environment values,
// cloud-init user-data).
func TestCompiledJSON(t *testing.T) {
	c := load(t, "../../examples/lab.yaml")
	c.API.Token = "a-token-of-sixteen-chars"
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(js)
	for _, want := range []string{`"mac":"ba:71:26:cf:6c:d4"`, `"prefix":"10.0.10.1/24"`, `"address":"10.0.20.5/24"`,
		`"carrier-timeout":"30s"`, `"shutdown-timeout":"1m30s"`, `"env":["PGPORT","POSTGRES_PASSWORD"]`, `"user-data":"74 bytes"`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	for _, secret := range []string{"a-token-of-sixteen-chars", "lab-registry-token", "lab-only-password", "password: ubuntu"} {
		if strings.Contains(s, secret) {
			t.Errorf("JSON shows the secret %q", secret)
		}
	}
	// It reads back, all but the secrets.
	var back Plan
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	d, b := &p.Desired, &back.Desired
	if !reflect.DeepEqual(b.Network, d.Network) || !reflect.DeepEqual(b.Switch, d.Switch) || !reflect.DeepEqual(b.Firewall, d.Firewall) {
		t.Errorf("network read back:\n%+v\n%+v", b.Network, b.Switch)
	}
	if vm := b.VMs[0]; !reflect.DeepEqual(vm.NICs, d.VMs[0].NICs) || vm.ShutdownTimeout != d.VMs[0].ShutdownTimeout || vm.CloudInit == nil {
		t.Errorf("VM read back: %+v", vm)
	}
	if ct := b.Containers[1]; !reflect.DeepEqual(ct.NICs, d.Containers[1].NICs) || ct.StopTimeout != 30*time.Second || len(ct.Env) != 2 {
		t.Errorf("container read back: %+v", ct)
	}
}

// Each box address on a VLAN is a firewall segment; nat makes it a NAT
// segment (the same list as NAT), api.vlans opens the API's port on it.
// The text plan says the same.
func TestCompileFirewall(t *testing.T) {
	c := parse(t, `
hostname: nuc1
uplink:
  vlans: [10, 20, 30]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, nat: true}
    - {vlan: 20, address: 10.0.20.1/24}
    - {vlan: 30, address: 10.0.30.1/24}
api:
  listen: :9443
  vlans: [20]
containers:
  - name: web
    image: nginx
`)
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Desired
	want := netcfg.Firewall{Segments: []netcfg.Segment{
		{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"), NAT: true},
		{Interface: "vlan20", Subnet: netip.MustParsePrefix("10.0.20.0/24"), TCP: []uint16{9443}},
		{Interface: "vlan30", Subnet: netip.MustParsePrefix("10.0.30.0/24")},
	}, UplinkIPv6: netcfg.IPv6SLAAC}
	if !reflect.DeepEqual(d.Firewall, want) {
		t.Errorf("firewall:\n got %+v\nwant %+v", d.Firewall, want)
	}
	// A container without limits gets config's, in its own cgroup.
	if ct := d.Containers[0]; ct.PIDs != config.DefaultContainerPIDs || ct.Memory != int64(config.DefaultContainerMemory) ||
		ct.Cgroup != "nucbox.workloads/ct-web" {
		t.Errorf("container limits %d pids, %d bytes, cgroup %q", ct.PIDs, ct.Memory, ct.Cgroup)
	}
	fw := step(t, p, KindFirewall, "inet nucbox")
	for key, value := range map[string]string{
		"vlan10 to the box": "ping only",
		"vlan10 forwarded":  "from 10.0.10.0/24 only, to the uplink, masqueraded",
		"vlan20 to the box": "ping, the API on port 9443",
		"vlan30 to the box": "ping only",
	} {
		if d, ok := detail(fw, key); !ok || d.Value != value {
			t.Errorf("firewall step %s = %+v, want %q", key, d, value)
		}
	}
	ct := step(t, p, KindContainer, "web")
	if d, _ := detail(ct, "pids"); d.Value != "1024" || !d.Default {
		t.Errorf("container pids detail %+v, want 1024 (default)", d)
	}
}
