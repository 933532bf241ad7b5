package containers

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nucbox/nucbox/config"
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

// RunSpec is everything one container start needs besides the image.
type RunSpec struct {
	// ID is the libcontainer id and cgroup name.
	ID        string
	Hostname  string
	Container config.Container
	Image     v1.Config
	// Rootfs is the mounted overlay; users and groups are looked up in
	// its /etc/passwd and /etc/group.
	Rootfs string
	// Volumes maps each volume of Container to its host directory.
	Volumes []string
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
func Args(ct config.Container, img v1.Config) []string {
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
func Env(ct config.Container, img v1.Config) []string {
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
	res := &specs.LinuxResources{Devices: l.Resources.Devices}
	if ct.Memory > 0 {
		m := int64(ct.Memory)
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
	if len(rs.Volumes) != len(ct.Volumes) {
		return nil, fmt.Errorf("%d volume sources for %d volumes", len(rs.Volumes), len(ct.Volumes))
	}
	for i, v := range ct.Volumes {
		opts := []string{"rbind", "nosuid", "nodev"}
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: v.Target, Type: "bind", Source: rs.Volumes[i], Options: opts})
	}
	if rs.NetDir != "" {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: netDirInside, Type: "bind", Source: rs.NetDir,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return s, nil
}

// LibcontainerConfig converts a runtime spec as runc does.
func LibcontainerConfig(s *specs.Spec, id string, noPivotRoot bool) (*configs.Config, error) {
	c, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: id, Spec: s, NoPivotRoot: noPivotRoot,
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
