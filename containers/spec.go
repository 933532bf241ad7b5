package containers

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nucbox/nucbox/vswitch"
)

// DefaultCapabilities is Docker's default set: enough for ordinary
// daemons (bind low ports, drop privileges, chown their files) and none
// of the capabilities that reach the host (SYS_ADMIN, NET_ADMIN,
// SYS_MODULE...).
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// defaultPath is Docker's PATH for images that set none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// cpuPeriod is the CFS period the cpus quota is expressed in.
const cpuPeriod = 100000

// Spec is one container, complete: config/plan compiles it from the
// config with every default filled in, paths absolute, the image resolved
// and each NIC's bridge port (names, MAC, VLANs) derived; containers adds
// nothing of its own.
type Spec struct {
	Name  string `json:"name"`
	Image Source `json:"image"`
	// Entrypoint replaces the image's; Command replaces its cmd.
	Entrypoint []string `json:"entrypoint,omitempty"`
	Command    []string `json:"command,omitempty"`
	// Env is set over the image's environment.
	Env Environment `json:"env,omitempty"`
	// WorkDir and User replace the image's when set.
	WorkDir string `json:"workdir,omitempty"`
	User    string `json:"user,omitempty"`
	NICs    []NIC  `json:"nics,omitempty"`
	// Memory is the memory limit in bytes, CPUs the CPU quota in cores,
	// PIDs the process limit; 0 is no limit.
	Memory  int64    `json:"memory,omitempty"`
	CPUs    float64  `json:"cpus,omitempty"`
	PIDs    int      `json:"pids,omitempty"`
	Volumes []Volume `json:"volumes,omitempty"`
	// Cgroup is the container's cgroup, relative to the cgroup mount
	// (such as nucbox.workloads/ct-web); empty puts it at nucbox/<name>.
	Cgroup string `json:"cgroup,omitempty"`
	// Restart is the restart policy (always, on-failure, never), which
	// the box's workload pool applies: a Supervisor runs one run at a
	// time.
	Restart string `json:"restart"`
	// StopTimeout is the grace period between SIGTERM and SIGKILL.
	StopTimeout time.Duration `json:"stop-timeout"`
}

// MarshalJSON writes the stop timeout as text.
func (s Spec) MarshalJSON() ([]byte, error) {
	type spec Spec
	return json.Marshal(struct {
		spec
		StopTimeout string `json:"stop-timeout"`
	}{spec(s), s.StopTimeout.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Spec) UnmarshalJSON(data []byte) error {
	type spec Spec
	var v struct {
		spec
		StopTimeout string `json:"stop-timeout"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*s = Spec(v.spec)
	s.StopTimeout = 0
	if v.StopTimeout == "" {
		return nil
	}
	var err error
	s.StopTimeout, err = time.ParseDuration(v.StopTimeout)
	return err
}

// NIC is one container NIC: a veth pair whose host end is a bridge port
// and whose peer becomes Name inside the container.
type NIC struct {
	// Port is the host end's bridge port: its name, the peer's name
	// before the move, the peer's MAC and the VLANs.
	Port vswitch.Port `json:"port"`
	// Name is the NIC's name inside the container: eth0, eth1...
	Name string `json:"name"`
	IPv4 IPv4   `json:"ipv4,omitzero"`
	// IPv6 is a static address; invalid leaves the NIC to SLAAC.
	IPv6 netip.Prefix `json:"ipv6,omitzero"`
}

// IPv4 is a NIC's address: DHCP (the box runs the client), a static
// address with an optional default route, or none.
type IPv4 struct {
	DHCP    bool         `json:"dhcp,omitempty"`
	Address netip.Prefix `json:"address,omitzero"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// Volume bind-mounts a host directory into the container.
type Volume struct {
	// Source is the host directory, absolute.
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read-only,omitempty"`
}

// Environment is a container's variables. Written out it lists the names
// only: values are often passwords, and plans get pasted into tickets.
type Environment map[string]string

// MarshalJSON writes the sorted variable names.
func (e Environment) MarshalJSON() ([]byte, error) {
	return json.Marshal(slices.Sorted(maps.Keys(e)))
}

// UnmarshalJSON reads the names MarshalJSON writes; their values are not
// written, so they read back empty.
func (e *Environment) UnmarshalJSON(data []byte) error {
	var names []string
	if err := json.Unmarshal(data, &names); err != nil {
		return err
	}
	*e = Environment{}
	for _, n := range names {
		(*e)[n] = ""
	}
	return nil
}

// RunSpec is everything one container start needs besides the image.
type RunSpec struct {
	// ID is the libcontainer id and cgroup name.
	ID        string
	Hostname  string
	Container Spec
	Image     v1.Config
	// Rootfs is the mounted overlay; users and groups are looked up in
	// its /etc/passwd and /etc/group.
	Rootfs string
	// NetDir is the host directory seen read-only at /run/nucbox, where
	// nucbox keeps resolv.conf; empty for a container without NICs.
	NetDir string
	// Seccomp turns the default profile on; off where libseccomp is
	// not compiled in.
	Seccomp bool
}

// Args is the command line: the config's entrypoint replaces the image's
// and then drops the image's cmd (Docker's rule: a cmd belongs to its
// entrypoint); the config's command replaces the image's cmd.
func Args(ct Spec, img v1.Config) []string {
	entry, cmd := img.Entrypoint, img.Cmd
	if len(ct.Entrypoint) > 0 {
		entry, cmd = ct.Entrypoint, nil
	}
	if len(ct.Command) > 0 {
		cmd = ct.Command
	}
	return append(slices.Clone(entry), cmd...)
}

// Env is the image's environment with the config's variables set over
// it, in the config's key order (sorted), and a PATH when there is none.
func Env(ct Spec, img v1.Config) []string {
	env := slices.Clone(img.Env)
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		for i, e := range env {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				env[i] = kv
				return
			}
		}
		env = append(env, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(ct.Env)) {
		set(k + "=" + ct.Env[k])
	}
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		env = append(env, defaultPath)
	}
	return env
}

// ResolveUser turns "name", "uid", "name:group" or "uid:gid" into ids
// using the rootfs's passwd and group files, as Docker does; empty is
// root.
func ResolveUser(spec, rootfs string) (specs.User, error) {
	if spec == "" {
		spec = "0:0"
	}
	eu, err := lookupUser(spec, rootfs)
	if err != nil {
		return specs.User{}, fmt.Errorf("user %q: %w", spec, err)
	}
	u := specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid)}
	for _, g := range eu.Sgids {
		if g != eu.Gid {
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	return u, nil
}

// RuntimeSpec maps the image and the config onto an OCI runtime spec,
// starting from runc's defaults (mounts, masked and read-only paths,
// no-new-privileges) and adding Docker's capabilities, the default
// seccomp profile, the cgroup namespace and the config's limits.
func RuntimeSpec(rs RunSpec) (*specs.Spec, error) {
	ct, img := rs.Container, rs.Image
	args := Args(ct, img)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command: the image has no entrypoint or cmd and the config gives none")
	}
	u, err := ResolveUser(firstNonEmpty(ct.User, img.User), rs.Rootfs)
	if err != nil {
		return nil, err
	}
	s := specconv.Example()
	s.Root = &specs.Root{Path: rs.Rootfs}
	s.Hostname = rs.Hostname
	p := s.Process
	p.Terminal = false
	p.Args = args
	p.Env = Env(ct, img)
	p.Cwd = firstNonEmpty(ct.WorkDir, img.WorkingDir, "/")
	p.User = u
	p.NoNewPrivileges = true
	// PID 1 keeps itself out of the OOM killer's choice with -1000, which
	// its children inherit: a container at its memory limit would then
	// have no process the kernel may kill, and stay stuck at the limit.
	// 0, like Docker's default.
	p.OOMScoreAdj = new(int)
	caps := slices.Clone(DefaultCapabilities)
	p.Capabilities = &specs.LinuxCapabilities{Bounding: caps}
	// Like Docker, a non-root user gets the bounding set only: its
	// effective and permitted sets are empty, as for a setuid-free login.
	if u.UID == 0 {
		p.Capabilities.Effective, p.Capabilities.Permitted = caps, caps
	}

	l := s.Linux
	if !slices.ContainsFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.CgroupNamespace }) {
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	l.CgroupsPath = "/nucbox/" + rs.ID
	if ct.Cgroup != "" {
		l.CgroupsPath = "/" + ct.Cgroup
	}
	res := &specs.LinuxResources{Devices: l.Resources.Devices}
	if ct.Memory > 0 {
		m := ct.Memory
		// Swap equal to the limit: the container cannot swap around it.
		res.Memory = &specs.LinuxMemory{Limit: &m, Swap: &m}
	}
	if ct.CPUs > 0 {
		q, per := int64(ct.CPUs*cpuPeriod), uint64(cpuPeriod)
		res.CPU = &specs.LinuxCPU{Quota: &q, Period: &per}
	}
	if ct.PIDs > 0 {
		n := int64(ct.PIDs)
		res.Pids = &specs.LinuxPids{Limit: &n}
	}
	l.Resources = res
	if rs.Seccomp {
		l.Seccomp = DefaultSeccomp()
	}
	for _, v := range ct.Volumes {
		if !filepath.IsAbs(v.Source) {
			return nil, fmt.Errorf("volume %s: source %q is not absolute", v.Target, v.Source)
		}
		opts := []string{"rbind", "nosuid", "nodev"}
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: v.Target, Type: "bind", Source: v.Source, Options: opts})
	}
	if rs.NetDir != "" {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: netDirInside, Type: "bind", Source: rs.NetDir,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return s, nil
}

// LibcontainerConfig converts a runtime spec as runc does.
func LibcontainerConfig(s *specs.Spec, id string) (*configs.Config, error) {
	c, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: id, Spec: s,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ProcessFor is the container's first process as libcontainer takes it.
func ProcessFor(s *specs.Spec) *libcontainer.Process {
	p := s.Process
	gids := make([]int, len(p.User.AdditionalGids))
	for i, g := range p.User.AdditionalGids {
		gids[i] = int(g)
	}
	return &libcontainer.Process{Args: p.Args, Env: p.Env, Cwd: p.Cwd, UID: int(p.User.UID), GID: int(p.User.GID),
		AdditionalGroups: gids, Init: true}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
