package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// configFiles lists the example configs and the valid test configs, all of
// which must load.
func configFiles(t testing.TB) []string {
	t.Helper()
	examples, _ := filepath.Glob("../examples/*.yaml")
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(examples) < 3 || len(valid) == 0 {
		t.Fatalf("missing configs: examples %v, valid %v", examples, valid)
	}
	return append(examples, valid...)
}

func TestLoadValid(t *testing.T) {
	for _, f := range configFiles(t) {
		c, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate after Load: %v", f, err)
		}
	}
}

// basic.yaml is what `make run` boots, and the boot code applies only the
// network part so far: it must hold no workloads.
func TestBasicExampleHasNoWorkloads(t *testing.T) {
	c, err := Load("../examples/basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VMs)+len(c.Containers) != 0 || len(c.Uplink.Addresses) != 0 || len(c.Uplink.VLANs) != 0 {
		t.Errorf("basic.yaml has workloads or VLANs: %+v", c)
	}
	if !c.Uplink.IPv4.DHCP || c.Uplink.Bridge != "br0" || c.Uplink.Interface.Name != "auto" {
		t.Errorf("basic.yaml uplink = %+v", c.Uplink)
	}
}

// Each invalid test config lists the problems it must produce in
// "# want: LINE:COL PATH: MESSAGE" comments.
func TestLoadInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no invalid configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := wantedProblems(string(src))
			if len(want) == 0 {
				t.Fatal("no # want: lines")
			}
			matchProblems(t, problems(t, string(src)), want)
		})
	}
}

func wantedProblems(src string) []string {
	var want []string
	for _, line := range strings.Split(src, "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			want = append(want, w)
		}
	}
	return want
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-file.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "box.yaml", Line: 12, Column: 7, Path: "vms[1].memory", Message: "bad"}, "box.yaml:12:7: vms[1].memory: bad"},
		{Error{File: "box.yaml", Line: 1, Column: 1, Message: "YAML syntax: x"}, "box.yaml:1:1: YAML syntax: x"},
		{Error{Path: "hostname", Message: "required"}, "hostname: required"},
		{Error{File: "box.yaml", Path: "hostname", Message: "required"}, "box.yaml: hostname: required"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	l := ErrorList{{Line: 9, Column: 1, Path: "b", Message: "m"}, {Path: "z", Message: "m"}, {Line: 2, Column: 5, Path: "a", Message: "m"}}
	l.sort()
	if got, want := l.Error(), "2:5: a: m\n9:1: b: m\nz: m"; got != want {
		t.Errorf("ErrorList = %q, want %q", got, want)
	}
	if (ErrorList{}).err() != nil {
		t.Error("empty list is an error")
	}
}

// Problems come sorted by position whatever the order they were found in.
func TestErrorsSorted(t *testing.T) {
	got := problems(t, `
containers:
  - {name: X, image: "busybox:1"}
hostname: Bad
vms:
  - {name: Y, memory: 1GB}
`)
	want := []string{"3:12 containers[0].name: invalid name", "4:11 hostname: invalid host name", "6:12 vms[0].name: invalid name", "6:23 vms[0].memory: invalid size"}
	matchProblems(t, got, want)
}

// A file full of mistakes gives the first hundred, not thousands of lines.
func TestErrorsCapped(t *testing.T) {
	src := "hostname: b\nvms:\n" + strings.Repeat("  - {name: X}\n", 150)
	got := problems(t, src)
	if len(got) != maxErrors+1 || got[maxErrors] != "0:0 : and 50 more problems" {
		t.Errorf("%d problems, last %q", len(got), got[len(got)-1])
	}
}

// Validate without a file reports paths only.
func TestValidateWithoutPositions(t *testing.T) {
	c := &Config{Hostname: "box", VMs: []VM{{Name: "a"}, {Name: "a", Memory: 3}}}
	c.ApplyDefaults()
	err := c.Validate()
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("err = %v", err)
	}
	if got := list.Error(); got != "vms[1].name: duplicate workload name \"a\": also used by vms[0].name\nvms[1].memory: memory 3B is not a whole number of MiB" {
		t.Errorf("got %q", got)
	}
}

func TestDecoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"top level list", "- hostname: b\n", []string{"1:1 : the config must be a mapping of fields such as hostname:, uplink: and vms:, got a list"}},
		{"top level scalar", "hello\n", []string{"1:1 : the config must be a mapping"}},
		{"null values count as absent", "hostname: b\nuplink:\nvms: ~\nstate-dir: null\n", nil},
		{"null required field is reported at the null", "hostname: ~\n", []string{"1:11 hostname: required"}},
		{"number for a string", "hostname: 1234\n", []string{"1:11 hostname: expected a string, got the number 1234 (quote it to make it a string)"}},
		{"boolean for a string", "hostname: true\n", []string{"1:11 hostname: expected a string, got the boolean true (quote it"}},
		{"string for a bool", "hostname: b\nuplink: {probe: {disabled: yes}}\n", []string{`2:28 uplink.probe.disabled: expected true or false, got the string "yes"`}},
		{"float for an int", "hostname: b\nvms: [{name: a, cpus: 1.5}]\n", []string{"2:23 vms[0].cpus: expected a whole number, got the number 1.5"}},
		{"int out of range", "hostname: b\nvms: [{name: a, cpus: 99999999999999999999}]\n", []string{"2:23 vms[0].cpus: expected a whole number, got the number 99999999999999999999, which is out of range"}},
		{"negative size", "hostname: b\nvms: [{name: a, memory: -1}]\n", []string{"2:25 vms[0].memory: invalid size -1: must not be negative"}},
		{"size as bytes", "hostname: b\nvms: [{name: a, memory: 1073741824}]\n", nil},
		{"list for a string", "hostname: [a]\n", []string{"1:11 hostname: expected a string, got a list"}},
		{"mapping key not a string", "hostname: b\n[a]: 1\n", []string{"2:4 : YAML syntax: found an invalid key for this map"}},
		{"!!str makes a string", "hostname: !!str 123\n", nil},
		{"other tags are refused", "hostname: !!binary aGk=\n", []string{"1:11 hostname: YAML tag !!binary is not supported (only !!str)"}},
		{"!!str on an int field", "hostname: b\nvms: [{name: a, cpus: !!str 2}]\n", []string{"2:23 vms[0].cpus: !!str makes a string, but expected a whole number"}},
		{"unknown alias", "hostname: *nope\n", []string{"1:11 hostname: unknown alias *nope: an alias must follow its &anchor"}},
		{"alias before anchor", "hostname: *h\nstate-dir: &h /x\n", []string{"1:11 hostname: unknown alias *h"}},
		{"merge key needs a mapping", "hostname: b\nuplink:\n  <<: 3\n", []string{"3:7 uplink: a merge key (<<) takes a mapping or a list of mappings"}},
		{"merge keys from a list, explicit wins", `
hostname: b
x-base: &base {cpus: 2, memory: 2GiB}
`, []string{`3:1 x-base: unknown field "x-base"`}},
		{"literal block", "hostname: b\nvms:\n  - name: a\n    cloud-init:\n      user-data: |\n        #cloud-config\n        x: 1\n", nil},
		{"duplicate key", "hostname: a\nhostname: b\n", []string{`2:1 : YAML syntax: mapping key "hostname" already defined at [1:1]`}},
		{"ipv4 empty mapping", "hostname: b\nuplink:\n  ipv4: {}\n", []string{"3:9 uplink.ipv4.address: required"}},
		{"ipv4 unknown field", "hostname: b\nuplink:\n  ipv4: {address: 10.0.0.2/24, gateway: 10.0.0.1, gw: 10.0.0.1}\n", []string{`3:51 uplink.ipv4.gw: unknown field "gw"`}},
		{"ipv4 dhcp with a static address", "hostname: b\nuplink:\n  ipv4: {dhcp: true, address: 10.0.0.2/24}\n", []string{`3:10 uplink.ipv4.dhcp: dhcp and a static address exclude each other: write ipv4: dhcp or ipv4: {address: CIDR, gateway: IP}`}},
		{"ipv4 wrong type", "hostname: b\nuplink:\n  ipv4: [dhcp]\n", []string{`3:9 uplink.ipv4: invalid ipv4: expected "dhcp" or a mapping {address: CIDR, gateway: IP}, got a list`}},
		{"duration as a number", "hostname: b\nvms: [{name: a, shutdown-timeout: 5}]\n", []string{`2:35 vms[0].shutdown-timeout: invalid duration "5": add a unit, like 5s`}},
		{"invalid utf-8", "hostname: b\nmodules: [\xff]\n", []string{"2:11 : the config is not valid UTF-8 text"}},
		{"byte order mark", "\xef\xbb\xbfhostname: b\n", nil},
		{"box address vlan 0", "hostname: b\nuplink: {addresses: [{vlan: 0, address: 10.0.0.1/24}]}\n", []string{"2:29 uplink.addresses[0].vlan: required: the VLAN id of this address, between 1 and 4094"}},
		{"env values must be strings", "hostname: b\ncontainers: [{name: c, image: 'busybox:1', env: {N: 1, B: true}}]\n", []string{
			"2:53 containers[0].env.N: expected a string, got the number 1",
			"2:59 containers[0].env.B: expected a string, got the boolean true",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, tc.src), tc.want)
		})
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	c, err := Parse("box.yaml", []byte(`
hostname: b
vms:
  - &small {name: one, cpus: 2, memory: 512MiB, nics: [{vlan: 10}]}
  - <<: *small
    name: two
  - <<: [*small, {restart: never}]
    name: three
    cpus: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VMs) != 3 {
		t.Fatalf("vms = %d", len(c.VMs))
	}
	two, three := c.VMs[1], c.VMs[2]
	if two.Name != "two" || two.CPUs != 2 || two.Memory != 512*MiB || len(two.NICs) != 1 || two.NICs[0].VLAN != 10 {
		t.Errorf("two = %+v", two)
	}
	if three.CPUs != 4 || three.Restart != RestartNever || three.Memory != 512*MiB {
		t.Errorf("three = %+v", three)
	}
	// Merged NICs get their own MACs: the MAC derives from the workload.
	if c.VMs[0].NICs[0].MAC == two.NICs[0].MAC {
		t.Error("merged NIC shares its MAC")
	}
}

// A "billion laughs" document must fail fast instead of exhausting the
// box's memory.
func TestAliasBomb(t *testing.T) {
	// 2100 aliases of a VM with 100 NICs: 210000 values.
	src := "hostname: b\nvms:\n  - &v0 {name: v, nics: [" + strings.TrimSuffix(strings.Repeat("{vlan: 1}, ", 100), ", ") + "]}\n"
	src += "containers: [" + strings.TrimSuffix(strings.Repeat("*v0, ", 2100), ", ") + "]\n"
	start := time.Now()
	_, err := Parse("box.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "the config is too large") {
		t.Errorf("err = %.300v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("box.yaml", []byte(`
hostname: nuc1
vms:
  - name: ubuntu1
    nics: [{}, {trunk: [10]}, {mac: "02-AA-BB-CC-DD-EE"}]
    disks: [{path: a.qcow2}]
containers:
  - name: web
    image: nginx:1.27
`))
	if err != nil {
		t.Fatal(err)
	}
	u := c.Uplink
	if u.Interface.Name != "auto" || u.Bridge != "br0" || !u.IPv4.DHCP || u.NativeVLAN != 1 ||
		u.CarrierTimeout.Std() != 30*time.Second || u.Probe.Timeout.Std() != 10*time.Second {
		t.Errorf("uplink = %+v", u)
	}
	if c.StateDir != "/var/lib/nucbox" {
		t.Errorf("state-dir = %q", c.StateDir)
	}
	vm := c.VMs[0]
	if vm.CPUs != 1 || vm.Memory != GiB || vm.Machine != "q35" || vm.Accel != "auto" || vm.Restart != RestartAlways ||
		vm.ShutdownTimeout.Std() != time.Minute || vm.Disks[0].Format != "qcow2" {
		t.Errorf("vm = %+v", vm)
	}
	if n := vm.NICs[0]; n.VLAN != 1 || n.MAC != "ba:71:26:cf:6c:d4" {
		t.Errorf("nic 0 = %+v", n)
	}
	if n := vm.NICs[1]; n.VLAN != 0 || n.MAC != DeriveMAC("nuc1", "ubuntu1", 1).String() {
		t.Errorf("trunk nic = %+v", n)
	}
	if n := vm.NICs[2]; n.MAC != "02:aa:bb:cc:dd:ee" {
		t.Errorf("given MAC not canonical: %+v", n)
	}
	ct := c.Containers[0]
	if ct.Restart != RestartOnFailure || ct.StopTimeout.Std() != 10*time.Second || ct.Memory != DefaultContainerMemory || ct.PIDs != DefaultContainerPIDs {
		t.Errorf("container = %+v", ct)
	}
	want := []string{
		"api.session-idle", "api.session-lifetime",
		"containers[0].memory", "containers[0].pids", "containers[0].restart", "containers[0].stop-timeout",
		"dns.domain",
		"reserve.memory", "reserve.pid1-memory", "reserve.pids",
		"state-dir",
		"uplink.bridge", "uplink.carrier-timeout", "uplink.interface", "uplink.ipv4", "uplink.ipv6", "uplink.lldp", "uplink.native-vlan", "uplink.probe.timeout", "uplink.vlan-check",
		"vms[0].accel", "vms[0].cpus", "vms[0].disks[0].format", "vms[0].machine", "vms[0].memory",
		"vms[0].nics[0].mac", "vms[0].nics[0].vlan", "vms[0].nics[1].mac", "vms[0].nics[2].vlan",
		"vms[0].restart", "vms[0].shutdown-timeout",
	}
	if got := c.Defaulted(); !slices.Equal(got, want) {
		t.Errorf("Defaulted() =\n%q\nwant\n%q", got, want)
	}
	if c.IsDefaulted("hostname") || !c.IsDefaulted("vms[0].memory") {
		t.Error("IsDefaulted")
	}
	// Applying defaults again changes nothing.
	before := *c
	before.VMs = slices.Clone(c.VMs)
	c.ApplyDefaults()
	if !equalConfig(&before, c) {
		t.Error("ApplyDefaults is not idempotent")
	}
	// An uplink selected by MAC gets no default interface.
	c2, err := Parse("box.yaml", []byte("hostname: b\nuplink: {mac: '52:54:00:12:34:56'}\n"))
	if err != nil || !c2.Uplink.Interface.IsZero() {
		t.Errorf("uplink by MAC: %+v, %v", c2, err)
	}
}

// equalConfig compares configs by content, ignoring which values were
// defaulted.
func equalConfig(a, b *Config) bool {
	x, y := *a, *b
	x.defaulted, y.defaulted = nil, nil
	return reflect.DeepEqual(x, y)
}

// A loaded config written back as YAML or JSON loads to the same config.
func TestRoundTrip(t *testing.T) {
	for _, f := range configFiles(t) {
		c, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		y, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("%s: yaml: %v", f, err)
		}
		back, err := Parse(f, y)
		if err != nil {
			t.Fatalf("%s: reparse yaml: %v\n%s", f, err, y)
		}
		if !equalConfig(c, back) {
			t.Errorf("%s: yaml round trip differs:\n%s", f, y)
		}
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("%s: json: %v", f, err)
		}
		var fromJSON Config
		if err := json.Unmarshal(j, &fromJSON); err != nil {
			t.Fatalf("%s: json.Unmarshal: %v\n%s", f, err, j)
		}
		if !equalConfig(c, &fromJSON) {
			t.Errorf("%s: json round trip differs:\n%s", f, j)
		}
	}
}
