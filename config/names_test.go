package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestDeriveMAC(t *testing.T) {
	// Pinned: a changed derivation would give every guest of every box a
	// new MAC, and with it new DHCP leases, at the next upgrade.
	if got := DeriveMAC("nuc1", "ubuntu1", 0).String(); got != "ba:71:26:cf:6c:d4" {
		t.Errorf("DeriveMAC(nuc1, ubuntu1, 0) = %s, want ba:71:26:cf:6c:d4", got)
	}
	seen := map[string]string{}
	for _, box := range []string{"nuc1", "nuc2", "rack3-box7"} {
		for w := range 40 {
			for n := range 4 {
				workload := fmt.Sprintf("vm%d", w)
				mac := DeriveMAC(box, workload, n)
				if len(mac) != 6 {
					t.Fatalf("len = %d", len(mac))
				}
				if mac[0]&0x02 == 0 {
					t.Errorf("%s not locally administered", mac)
				}
				if mac[0]&0x01 != 0 {
					t.Errorf("%s not unicast", mac)
				}
				if again := DeriveMAC(box, workload, n); again.String() != mac.String() {
					t.Errorf("unstable: %s then %s", mac, again)
				}
				id := box + "/" + workload + "/" + fmt.Sprint(n)
				if prev, dup := seen[mac.String()]; dup {
					t.Errorf("%s: same MAC as %s", id, prev)
				}
				seen[mac.String()] = id
			}
		}
	}
	// The separator keeps ("a-b", "c") and ("a", "b-c") apart.
	if DeriveMAC("a", "b1", 0).String() == DeriveMAC("a/b", "1", 0).String() {
		t.Error("box and workload run together")
	}
}

func TestLinkNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{TAPName("ubuntu1", 0), "t-ubuntu1-0"},
		{VethName("web", 2), "v-web-2"},
		{TAPName("exactly-eleven"[:11], 0), "t-exactly-ele-0"},
		{TAPName("twelve-chars", 0), "t-twelve-8dd1-0"},
		{VethName("a-very-long-container-name-of-32", 31), "v-a-very6967-31"},
		{TAPName("database-primary", 0), "t-databas2f3a-0"},
		{VethName("database-primary", 12), "v-databa2f3a-12"},
		{PeerName("web", 2), "p-web-2"},
		{PeerName("database-primary", 12), "p-databa2f3a-12"},
		{ContainerIfName(1), "eth1"},
		{VLANIfName(4094), "vlan4094"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	seen := map[string]string{}
	for _, n := range []string{"a", "ubuntu1", "web", "database-primary", "database-replica", strings.Repeat("x", 32), strings.Repeat("x", 31) + "y"} {
		for i := range MaxNICs {
			for _, name := range []string{TAPName(n, i), VethName(n, i)} {
				if len(name) > MaxLinkName {
					t.Errorf("%q is longer than %d", name, MaxLinkName)
				}
				if prev, dup := seen[name]; dup {
					t.Errorf("%q for %s/%d and %s", name, n, i, prev)
				}
				seen[name] = fmt.Sprintf("%s/%d", n, i)
			}
		}
	}
}

func TestParseImage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ImageRef
		err  string
	}{
		{in: "nginx", want: ImageRef{Transport: TransportRegistry, Ref: "index.docker.io/library/nginx:latest", Registry: "index.docker.io"}},
		{in: "docker.io/library/nginx:1.27", want: ImageRef{Transport: TransportRegistry, Ref: "index.docker.io/library/nginx:1.27", Registry: "index.docker.io"}},
		{in: "registry.lab:5000/team/app@sha256:" + strings.Repeat("ab", 32), want: ImageRef{Transport: TransportRegistry, Ref: "registry.lab:5000/team/app@sha256:" + strings.Repeat("ab", 32), Registry: "registry.lab:5000"}},
		{in: "oci-layout:/data/images/web", want: ImageRef{Transport: TransportOCILayout, Path: "/data/images/web"}},
		{in: "oci-layout:images/web:v2", want: ImageRef{Transport: TransportOCILayout, Path: "images/web", Tag: "v2"}},
		{in: "docker-archive:/data/web.tar", want: ImageRef{Transport: TransportDockerArchive, Path: "/data/web.tar"}},
		{in: "oci-layout:", err: "needs a directory"},
		{in: "oci-layout:/x:", err: "empty tag"},
		{in: "docker-archive:", err: "needs a file"},
		{in: "Nginx:1", err: "invalid image reference"},
		{in: "nginx:", err: "invalid image reference"},
	} {
		got, err := ParseImage(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseImage(%q) = %+v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseImage(%q) = %+v, %v\nwant %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestRegistryFor(t *testing.T) {
	c := &Config{Registries: []Registry{{Host: "docker.io", Username: "u", Password: "p"}, {Host: "registry.lab:5000", Username: "v", Password: "q"}}}
	for img, want := range map[string]string{
		"nginx:1.27":                    "u",
		"registry.lab:5000/app:1":       "v",
		"ghcr.io/x/y:1":                 "",
		"oci-layout:/data/images/web:1": "",
	} {
		got := ""
		if r := c.RegistryFor(img); r != nil {
			got = r.Username
		}
		if got != want {
			t.Errorf("RegistryFor(%q) = %q, want %q", img, got, want)
		}
	}
}

func TestResolvePath(t *testing.T) {
	c := &Config{StateDir: "/data"}
	for in, want := range map[string]string{"vm.qcow2": "/data/vm.qcow2", "/abs/../x.iso": "/x.iso", "a/./b": "/data/a/b",
		"images/../disk.qcow2": "/data/disk.qcow2", "/abs//x.iso": "/abs/x.iso"} {
		if got := c.ResolvePath(in); got != want {
			t.Errorf("ResolvePath(%q) = %q, want %q", in, got, want)
		}
	}
}
