package config

import (
	"strings"
	"testing"
)

func TestWithAPIListen(t *testing.T) {
	const head = "# the lab box\nhostname: lab\nuplink:\n  interface: auto\n  bridge: br0\n  ipv4: dhcp\n"
	tests := []struct {
		name, in string
		keep     []string // text the result still has
	}{
		{"no api section", head, []string{"# the lab box", "hostname: lab"}},
		{"no final newline", strings.TrimSuffix(head, "\n"), []string{"ipv4: dhcp"}},
		{"api without listen", head + "api:\n  token: 0123456789abcdef0123\n", []string{"token: 0123456789abcdef0123", "# the lab box"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := WithAPIListen([]byte(tt.in), ":8443")
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse("out", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if c.API.Listen != ":8443" || c.Hostname != "lab" {
				t.Fatalf("listen %q hostname %q in\n%s", c.API.Listen, c.Hostname, out)
			}
			for _, k := range tt.keep {
				if !strings.Contains(string(out), k) {
					t.Errorf("%q lost:\n%s", k, out)
				}
			}
		})
	}
	if _, err := WithAPIListen([]byte(head+"api: [1]\n"), ":8443"); err == nil {
		t.Error("an api that is a list was edited")
	}
	if _, err := WithAPIListen([]byte("hostname: [\n"), ":8443"); err == nil {
		t.Error("a file that does not parse was edited")
	}
}
