package labtest

import (
	"strings"
	"testing"
	"time"
)

const good = `within: 90s
checks:
  - from: ct10
    ping: 10.0.10.1
  - name: the box answers DNS
    from: ct10
    resolve: vm10.lab
    answer: 10.0.10.10
  - from: ct20
    connect: 10.0.10.1:53
    expect: unreachable
  - status: vm10
    state: running
lab:
  - {vlan: 30, address: 10.0.30.5}
  - {address: 10.0.2.50}
`

func TestParse(t *testing.T) {
	f, err := Parse("lab.test.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if f.Within != 90*time.Second || len(f.Checks) != 4 {
		t.Fatalf("within %v, %d checks", f.Within, len(f.Checks))
	}
	wantLines := []int{3, 5, 9, 12}
	wantTitles := []string{"ct10 ping 10.0.10.1", "the box answers DNS", "ct20 must not connect to 10.0.10.1:53", "vm10 is running"}
	for i, c := range f.Checks {
		if c.Line != wantLines[i] || c.Title() != wantTitles[i] {
			t.Errorf("check %d: line %d title %q, want %d %q", i, c.Line, c.Title(), wantLines[i], wantTitles[i])
		}
	}
	if len(f.Lab) != 2 || f.Lab[0].VLAN != 30 || f.Lab[0].Addr.String() != "10.0.30.5" || f.Lab[1].VLAN != 0 {
		t.Errorf("lab %+v", f.Lab)
	}
	if f.Checks[0].Expect != Reachable {
		t.Errorf("default expect %q", f.Checks[0].Expect)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown field", "checks:\n  - from: a\n    pong: 10.0.0.1\n", `unknown field "pong"`},
		{"no checks", "within: 1m\n", "t.yaml:1: checks: no checks"},
		{"two kinds", "checks:\n  - from: a\n    ping: 10.0.0.1\n    connect: 10.0.0.1:80\n", "t.yaml:2: checks[0].ping: give exactly one"},
		{"none", "checks:\n  - from: a\n", "exactly one"},
		{"bad ping", "checks:\n  - from: a\n    ping: web\n", `t.yaml:2: checks[0].ping: "web": want an IPv4`},
		{"bad connect", "checks:\n  - from: a\n    ping: 10.0.0.1\n  - from: a\n    connect: 10.0.0.1\n", `t.yaml:4: checks[1].connect: "10.0.0.1"`},
		{"no from", "checks:\n  - ping: 10.0.0.1\n", "checks[0].from: name the container"},
		{"expect", "checks:\n  - from: a\n    ping: 10.0.0.1\n    expect: maybe\n", `checks[0].expect: "maybe"`},
		{"status without state", "checks:\n  - status: vm10\n", "checks[0].state: a status check"},
		{"status with from", "checks:\n  - status: vm10\n    state: running\n    from: a\n", "checks[0].from: not for a status check"},
		{"state on a probe", "checks:\n  - from: a\n    ping: 10.0.0.1\n    state: running\n", "checks[0].state: only for a status"},
		{"answer on ping", "checks:\n  - from: a\n    ping: 10.0.0.1\n    answer: 10.0.0.2\n", "checks[0].answer: only for a resolve"},
		{"answer and unreachable", "checks:\n  - from: a\n    resolve: x.lab\n    answer: 10.0.0.2\n    expect: unreachable\n", "contradict"},
		{"bad server", "checks:\n  - from: a\n    resolve: x.lab\n    server: dns\n", `checks[0].server: "dns"`},
		{"within", "within: soon\nchecks:\n  - from: a\n    ping: 10.0.0.1\n", `within: "soon"`},
		{"not yaml", "checks: [\n", "t.yaml:"},
		{"lab address", "checks:\n  - from: a\n    ping: 10.0.0.1\nlab:\n  - {vlan: 30, address: lab1}\n", `t.yaml:5: lab[0].address: "lab1"`},
		{"lab vlan", "checks:\n  - from: a\n    ping: 10.0.0.1\nlab:\n  - {vlan: 5000, address: 10.0.30.5}\n", `t.yaml:5: lab[0].vlan: 5000`},
	}
	for _, tt := range tests {
		_, err := Parse("t.yaml", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	f, err := Parse("t.yaml", []byte("checks:\n  - from: ct10\n    ping: 10.0.0.1\n  - from: box\n    ping: 10.0.0.1\n  - from: vm10\n    ping: 10.0.0.1\n  - from: nope\n    ping: 10.0.0.1\n  - status: ghost\n    state: running\n  - status: vm10\n    state: running\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = f.Names([]string{"ct10"}, []string{"vm10"})
	for _, want := range []string{"t.yaml:6: checks[2].from: vm10 is a VM", `t.yaml:8: checks[3].from: the config has no container "nope"`, `t.yaml:10: checks[4].status: the config has no VM or container "ghost"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want %q", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("%d errors, want 3: %v", n, err)
	}
}
