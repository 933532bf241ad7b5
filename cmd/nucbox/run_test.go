package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWatch(t *testing.T) {
	const fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	listen := "nucbox: api: listening on :8443 (TLS, certificate SHA-256 " + fp + ")"
	tokenLine := "nucbox: api: new token (shown once; also in /run/nucbox/api-token): s3cr3t-token-value"
	ready := `nucbox: ready {"took":"1.2s"}`
	tests := []struct {
		name      string
		token     string
		lines     []string
		want      []string
		wantSaved string
		announced int
	}{
		{"generated token", "", []string{listen, tokenLine, ready, ready},
			[]string{"is ready", "https://127.0.0.1:40000", "--token s3cr3t-token-value --fingerprint " + fp}, "s3cr3t-token-value", 1},
		{"config token wins", "from-config-0123456789", []string{tokenLine, listen, ready},
			[]string{"--token from-config-0123456789"}, "", 1},
		{"no listener", "", []string{ready}, []string{"did not say it listens"}, "", 1},
		{"failed boot", "t0123456789abcdef", []string{listen, "nucbox: failed: network: no uplink"},
			[]string{"boot failed", "nucbox status --host https://127.0.0.1:40000"}, "", 1},
		{"not ready yet", "", []string{listen}, nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			saved := ""
			w := &runWatch{hostAddr: "127.0.0.1:40000", token: tt.token,
				saveToken: func(s string) { saved = s },
				announce:  func(s string) { got = append(got, s) }}
			w.watch(strings.NewReader(strings.Join(tt.lines, "\n") + "\n"))
			if len(got) != tt.announced {
				t.Fatalf("announced %d times, want %d: %q", len(got), tt.announced, got)
			}
			for _, want := range tt.want {
				if !strings.Contains(got[0], want) {
					t.Errorf("%q not in %q", want, got[0])
				}
			}
			if saved != tt.wantSaved {
				t.Errorf("saved token %q, want %q", saved, tt.wantSaved)
			}
		})
	}
}

func TestRunConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := "hostname: lab\nuplink:\n  interface: auto\n  bridge: br0\n  ipv4: dhcp\n"
	_, data, port, token, note, err := runConfig(write("plain.yaml", base))
	if err != nil || port != 8443 || token != "" || !strings.Contains(note, "no api.listen") || !strings.Contains(string(data), `listen: ":8443"`) {
		t.Fatalf("plain: port %d token %q note %q err %v\n%s", port, token, note, err, data)
	}
	_, data, port, token, note, err = runConfig(write("api.yaml", base+"api:\n  listen: \":9443\"\n  token: abcdefghijklmnop0123\n"))
	if err != nil || port != 9443 || token != "abcdefghijklmnop0123" || note != "" || string(data) != base+"api:\n  listen: \":9443\"\n  token: abcdefghijklmnop0123\n" {
		t.Fatalf("api: port %d token %q note %q err %v\n%s", port, token, note, err, data)
	}
	_, _, _, _, _, err = runConfig(write("bad.yaml", base+"hostnam: x\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:6") {
		t.Fatalf("bad config: %v, want the file and line", err)
	}
}
