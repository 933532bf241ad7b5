package containers

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestArgsEnvWorkdir(t *testing.T) {
	img := v1.Config{Entrypoint: []string{"/entry"}, Cmd: []string{"serve", "--port=80"},
		Env: []string{"PATH=/opt/bin", "MODE=prod"}, WorkingDir: "/srv"}
	for _, tc := range []struct {
		name string
		ct   Spec
		args []string
		env  []string
		cwd  string
	}{
		{name: "image as is", args: []string{"/entry", "serve", "--port=80"},
			env: []string{"PATH=/opt/bin", "MODE=prod"}, cwd: "/srv"},
		{name: "command replaces cmd", ct: Spec{Command: []string{"check"}},
			args: []string{"/entry", "check"}, env: img.Env, cwd: "/srv"},
		{name: "entrypoint drops the image cmd", ct: Spec{Entrypoint: []string{"/bin/sh"}},
			args: []string{"/bin/sh"}, env: img.Env, cwd: "/srv"},
		{name: "entrypoint and command", ct: Spec{Entrypoint: []string{"/bin/sh"}, Command: []string{"-c", "true"}},
			args: []string{"/bin/sh", "-c", "true"}, env: img.Env, cwd: "/srv"},
		{name: "env overrides and adds, sorted", ct: Spec{Env: map[string]string{"MODE": "lab", "B": "2", "A": "1"}, WorkDir: "/tmp"},
			args: []string{"/entry", "serve", "--port=80"}, env: []string{"PATH=/opt/bin", "MODE=lab", "A=1", "B=2"}, cwd: "/tmp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.ct.Name = "web"
			s, err := RuntimeSpec(RunSpec{ID: "web", Hostname: "web", Container: tc.ct, Image: img, Rootfs: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			p := s.Process
			if !slices.Equal(p.Args, tc.args) || !slices.Equal(p.Env, tc.env) || p.Cwd != tc.cwd {
				t.Errorf("args %q env %q cwd %q; want %q %q %q", p.Args, p.Env, p.Cwd, tc.args, tc.env, tc.cwd)
			}
		})
	}
}

func TestEnvAddsDefaultPath(t *testing.T) {
	env := Env(Spec{}, v1.Config{})
	if !slices.Equal(env, []string{defaultPath}) {
		t.Errorf("env = %q", env)
	}
}

func TestNoCommandIsAnError(t *testing.T) {
	if _, err := RuntimeSpec(RunSpec{ID: "x", Rootfs: t.TempDir()}); err == nil {
		t.Error("spec without a command accepted")
	}
}

func writeEtcFiles(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"passwd": "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n",
		"group":  "root:x:0:\nwww:x:33:\nlogs:x:4:www\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(root, "etc", n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolveUser(t *testing.T) {
	root := writeEtcFiles(t)
	for _, tc := range []struct {
		in   string
		want specs.User
	}{
		{"", specs.User{UID: 0, GID: 0}},
		{"www", specs.User{UID: 33, GID: 33, AdditionalGids: []uint32{4}}},
		{"1000", specs.User{UID: 1000, GID: 0}},
		{"1000:1000", specs.User{UID: 1000, GID: 1000}},
		// An explicit group replaces the user's groups, as in runc.
		{"www:root", specs.User{UID: 33, GID: 0}},
	} {
		got, err := ResolveUser(tc.in, root)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got.UID != tc.want.UID || got.GID != tc.want.GID || !slices.Equal(got.AdditionalGids, tc.want.AdditionalGids) {
			t.Errorf("%q = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if _, err := ResolveUser("nosuchuser", root); err == nil {
		t.Error("unknown user name accepted")
	}
}

func TestLibcontainerConfig(t *testing.T) {
	root := writeEtcFiles(t)
	ct := Spec{Name: "web", Memory: 256 << 20, CPUs: 0.5, PIDs: 64, User: "www",
		Volumes: []Volume{{Source: "/var/lib/nucbox/data", Target: "/data", ReadOnly: true}}}
	img := v1.Config{Cmd: []string{"/srv"}, User: "root"}
	s, err := RuntimeSpec(RunSpec{ID: "web", Hostname: "web", Container: ct, Image: img, Rootfs: root, Seccomp: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := LibcontainerConfig(s, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []configs.NamespaceType{configs.NEWPID, configs.NEWNET, configs.NEWNS, configs.NEWIPC, configs.NEWUTS, configs.NEWCGROUP} {
		if !c.Namespaces.Contains(ns) {
			t.Errorf("namespace %s missing", ns)
		}
	}
	if c.Namespaces.Contains(configs.NEWUSER) {
		t.Error("user namespace set")
	}
	if c.NoPivotRoot {
		t.Error("NoPivotRoot set: the container would enter its rootfs by chroot")
	}
	r := c.Cgroups.Resources
	if r.Memory != 256<<20 || r.MemorySwap != 256<<20 {
		t.Errorf("memory %d swap %d", r.Memory, r.MemorySwap)
	}
	if r.CpuQuota != 50000 || r.CpuPeriod != 100000 {
		t.Errorf("cpu quota %d/%d, want 50000/100000", r.CpuQuota, r.CpuPeriod)
	}
	if r.PidsLimit == nil || *r.PidsLimit != 64 {
		t.Errorf("pids limit %v", r.PidsLimit)
	}
	if !c.NoNewPrivileges {
		t.Error("no-new-privileges off")
	}
	// PID 1's -1000 must not pass on: the OOM killer needs a victim in
	// a container at its memory limit.
	if c.OomScoreAdj == nil || *c.OomScoreAdj != 0 {
		t.Errorf("oom_score_adj %v, want 0 set explicitly", c.OomScoreAdj)
	}
	if c.Capabilities == nil || !slices.Equal(c.Capabilities.Bounding, DefaultCapabilities) {
		t.Errorf("bounding set %v", c.Capabilities)
	}
	// A non-root user keeps only the bounding set.
	if len(c.Capabilities.Effective) != 0 || len(c.Capabilities.Permitted) != 0 {
		t.Errorf("user www has effective %v permitted %v", c.Capabilities.Effective, c.Capabilities.Permitted)
	}
	for _, want := range []string{"/proc/kcore", "/sys/firmware", "/proc/keys"} {
		if !slices.Contains(c.MaskPaths, want) {
			t.Errorf("%s not masked: %v", want, c.MaskPaths)
		}
	}
	for _, want := range []string{"/proc/sys", "/proc/sysrq-trigger"} {
		if !slices.Contains(c.ReadonlyPaths, want) {
			t.Errorf("%s not read-only: %v", want, c.ReadonlyPaths)
		}
	}
	if c.Seccomp == nil || c.Seccomp.DefaultAction != configs.Allow {
		t.Fatalf("seccomp %+v", c.Seccomp)
	}
	denied := map[string]bool{}
	for _, sc := range c.Seccomp.Syscalls {
		if sc.Action == configs.Errno && len(sc.Args) == 0 {
			denied[sc.Name] = true
		}
	}
	for _, n := range []string{"mount", "kexec_load", "init_module", "bpf", "unshare", "setns", "open_by_handle_at", "keyctl"} {
		if !denied[n] {
			t.Errorf("syscall %s not denied", n)
		}
	}
	var vol *configs.Mount
	for _, m := range c.Mounts {
		if m.Destination == "/data" {
			vol = m
		}
	}
	if vol == nil || vol.Source != "/var/lib/nucbox/data" || vol.Flags&0x1 == 0 {
		t.Errorf("volume mount %+v, want a read-only bind of the state directory", vol)
	}
	if c.Rootfs != root || c.Hostname != "web" {
		t.Errorf("rootfs %q hostname %q", c.Rootfs, c.Hostname)
	}
	p := ProcessFor(s)
	if p.UID != 33 || p.GID != 33 || !p.Init || !slices.Equal(p.Args, []string{"/srv"}) {
		t.Errorf("process %+v", p)
	}
}

func TestSeccompDeniesNamespaceClones(t *testing.T) {
	s := DefaultSeccomp()
	n := 0
	for _, sc := range s.Syscalls {
		if slices.Contains(sc.Names, "clone") {
			n++
			if len(sc.Args) != 1 || sc.Args[0].Value&newNamespaceFlags == 0 || sc.Args[0].Value != sc.Args[0].ValueTwo {
				t.Errorf("clone rule %+v", sc.Args)
			}
		}
	}
	if n != 7 {
		t.Errorf("%d clone rules, want one per namespace flag (7)", n)
	}
}
