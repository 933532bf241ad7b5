package pxe

import (
	"strings"
	"testing"
)

func TestConfigURL(t *testing.T) {
	tests := []struct {
		server, want, err string
	}{
		{server: "10.0.0.1", want: "http://10.0.0.1/configs/${mac}.yaml"},
		{server: "10.0.0.1:8080", want: "http://10.0.0.1:8080/configs/${mac}.yaml"},
		{server: "boot.lab", want: "http://boot.lab/configs/${mac}.yaml"},
		{server: "fd00::1", want: "http://[fd00::1]/configs/${mac}.yaml"},
		{server: "[fd00::1]:80", want: "http://[fd00::1]:80/configs/${mac}.yaml"},
		{server: "http://10.0.0.1", err: "without a scheme"},
		{server: "10.0.0.1/x", err: "without a scheme or path"},
		{server: "10.0.0.1:http", err: "not a port number"},
		{server: "10.0.0.1:0", err: "not a port number"},
		{server: ":80", err: "no host"},
		{server: "", err: "no config server"},
	}
	for _, tt := range tests {
		got, err := ConfigURL(tt.server)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ConfigURL(%q) = %q, %v; want error %q", tt.server, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ConfigURL(%q) = %q, %v; want %q", tt.server, got, err, tt.want)
		}
	}
}

func TestScript(t *testing.T) {
	tests := []struct {
		name string
		s    Script
		want string
		err  string
	}{
		{
			name: "config by MAC",
			s:    Script{Cmdline: "console=tty0 console=ttyS0,115200 panic=10", ConfigURL: "http://10.0.2.2:8000/configs/${mac}.yaml"},
			want: "#!ipxe\n" +
				"# nucbox network boot. iPXE fills in ${...} before running each line.\n" +
				"isset ${ip} || dhcp\n" +
				"kernel vmlinuz console=tty0 console=ttyS0,115200 panic=10 nucbox.config=http://10.0.2.2:8000/configs/${mac}.yaml initrd=initramfs\n" +
				"initrd initramfs\n" +
				"boot\n",
		},
		{
			name: "baked-in config",
			s:    Script{Cmdline: "  console=ttyS0   quiet "},
			want: "#!ipxe\n" +
				"# nucbox network boot. iPXE fills in ${...} before running each line.\n" +
				"isset ${ip} || dhcp\n" +
				"kernel vmlinuz console=ttyS0 quiet initrd=initramfs\n" +
				"initrd initramfs\n" +
				"boot\n",
		},
		{
			name: "from a boot server over HTTP",
			s:    Script{Cmdline: "console=ttyS0", ConfigURL: "https://10.0.30.1:8444/configs/${mac}.yaml", Base: "http://10.0.30.1/"},
			want: "#!ipxe\n" +
				"# nucbox network boot. iPXE fills in ${...} before running each line.\n" +
				"isset ${ip} || dhcp\n" +
				"kernel http://10.0.30.1/vmlinuz console=ttyS0 nucbox.config=https://10.0.30.1:8444/configs/${mac}.yaml initrd=initramfs\n" +
				"initrd http://10.0.30.1/initramfs\n" +
				"boot\n",
		},
		{name: "base without slash", s: Script{Base: "http://10.0.30.1"}, err: "ending in a slash"},
		{name: "two lines", s: Script{Cmdline: "a\nboot"}, err: "spans lines"},
		{name: "operator", s: Script{Cmdline: "a || b"}, err: "operator"},
		{name: "config twice", s: Script{Cmdline: "nucbox.config=/x", ConfigURL: "http://h/c"}, err: "one place"},
		{name: "tftp", s: Script{ConfigURL: "tftp://h/c"}, err: "http://"},
		{name: "space", s: Script{ConfigURL: "http://h/a b"}, err: "spaces"},
		{name: "unclosed", s: Script{ConfigURL: "http://h/${mac.yaml"}, err: "unclosed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Bytes()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("script:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
