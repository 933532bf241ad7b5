package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Validate checks a Config built in Go (or decoded from JSON) the way Parse
// checks a file, without positions. Defaults must have been applied.
func (c *Config) Validate() error {
	return c.validate(locator{}).err()
}

// locator maps field paths to where they were written. A path that was not
// written (a missing required field, a defaulted value) is reported at its
// nearest written parent, which is where the user has to add it.
type locator struct {
	file string
	pos  map[string]position
}

func (l locator) at(p string) position {
	if l.pos == nil {
		return position{}
	}
	for {
		if pos, ok := l.pos[p]; ok {
			return pos
		}
		parent, ok := parentPath(p)
		if !ok {
			return position{line: 1, col: 1}
		}
		p = parent
	}
}

// ref names another field in a message, with its line when known, so
// that a duplicate can be found from either end.
func (l locator) ref(p string) string {
	if pos, ok := l.pos[p]; ok && pos.line > 0 {
		return fmt.Sprintf("%s (line %d)", p, pos.line)
	}
	return p
}

type checker struct {
	c    *Config
	loc  locator
	errs ErrorList

	names map[string]string // workload name -> path
	macs  map[string]string // canonical MAC -> path
	ips   map[netip.Addr]string
	links map[string]string
	disks map[string]string
}

func (ck *checker) add(p, format string, args ...any) {
	pos := ck.loc.at(p)
	ck.errs = append(ck.errs, &Error{File: ck.loc.file, Line: pos.line, Column: pos.col, Path: p, Message: oneLine(fmt.Sprintf(format, args...))})
}

func (c *Config) validate(l locator) ErrorList {
	ck := &checker{
		c: c, loc: l,
		names: map[string]string{}, macs: map[string]string{}, ips: map[netip.Addr]string{},
		links: map[string]string{}, disks: map[string]string{},
	}
	ck.box()
	ck.uplink()
	if b := c.Uplink.Interface.Bond; b != nil {
		ck.bond(b)
	}
	ck.overlays()
	for i := range c.VMs {
		ck.vm(fmt.Sprintf("vms[%d]", i), &c.VMs[i])
	}
	for i := range c.Containers {
		ck.container(fmt.Sprintf("containers[%d]", i), &c.Containers[i])
	}
	ck.boxAddressVLANs()
	ck.switchPolicies()
	ck.dhcp()
	ck.pxeServer()
	ck.registries()
	ck.api()
	ck.reserve()
	ck.time()
	ck.logging()
	return ck.errs
}

var (
	hostnameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	workloadRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$`)
	moduleRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	machineRE  = regexp.MustCompile(`^[a-z0-9][-a-z0-9._]*$`)
	bootRE     = regexp.MustCompile(`^[cdn]*$`)
	reservedRE = regexp.MustCompile(`^([tvp]-.*|vlan[0-9]+)$`)
	// dnsNameRE is a host name with its domain: dot-separated labels.
	dnsNameRE = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.?$`)
)

func (ck *checker) box() {
	c := ck.c
	switch {
	case c.Hostname == "":
		ck.add("hostname", "required: the box's host name, such as nuc1")
	case !hostnameRE.MatchString(c.Hostname):
		ck.add("hostname", "invalid host name %q: use lower-case letters, digits and inner dashes, at most 63", c.Hostname)
	}
	seen := map[string]string{}
	for i, m := range c.Modules {
		p := fmt.Sprintf("modules[%d]", i)
		if !moduleRE.MatchString(m) {
			ck.add(p, "invalid kernel module name %q", m)
		} else if prev, dup := seen[m]; dup {
			ck.add(p, "module %q is already listed at %s", m, ck.loc.ref(prev))
		} else {
			seen[m] = p
		}
	}
	if !path.IsAbs(c.StateDir) || path.Clean(c.StateDir) == "/" {
		ck.add("state-dir", "state-dir %q must be an absolute directory other than /", c.StateDir)
	}
}

func (ck *checker) uplink() {
	u := &ck.c.Uplink
	switch u.LLDP {
	case LLDPAdvertise, LLDPListen, LLDPOff:
	default:
		ck.add("uplink.lldp", "unknown LLDP mode %q: use advertise, listen or off", u.LLDP)
	}
	if u.VLANCheck != VLANCheckOn && u.VLANCheck != VLANCheckOff {
		ck.add("uplink.vlan-check", "unknown VLAN check setting %q: use on or off", u.VLANCheck)
	}
	if u.Interface.Name != "" && u.MAC != "" {
		ck.add("uplink.mac", "give either uplink.interface or uplink.mac, not both")
	}
	if name := u.Interface.Name; name != "" && name != DefaultInterface {
		if msg := linkNameProblem(name); msg != "" {
			ck.add("uplink.interface", "invalid link name %q: %s", name, msg)
		} else if name == u.Bridge {
			ck.add("uplink.interface", "the uplink cannot be the bridge %q itself", u.Bridge)
		}
	}
	if u.MAC != "" {
		if mac, err := net.ParseMAC(u.MAC); err != nil || len(mac) != 6 {
			ck.add("uplink.mac", "invalid MAC address %q: use six hex bytes such as 52:54:00:12:34:56", u.MAC)
		} else {
			ck.macs[mac.String()] = "uplink.mac"
		}
	}
	if msg := linkNameProblem(u.Bridge); msg != "" {
		ck.add("uplink.bridge", "invalid bridge name %q: %s", u.Bridge, msg)
	} else if reservedRE.MatchString(u.Bridge) {
		ck.add("uplink.bridge", "bridge name %q looks like a name nucbox gives its own links (t-*, v-*, p-*, vlanN)", u.Bridge)
	} else {
		ck.links[u.Bridge] = "uplink.bridge"
	}
	ck.ipv4("uplink.ipv4", u.IPv4)
	for i, s := range u.DNS {
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			ck.add(fmt.Sprintf("uplink.dns[%d]", i), "invalid DNS server %q: use an IP address", s)
		}
	}
	ck.vlanID("uplink.native-vlan", u.NativeVLAN)
	ck.taggedVLANs("uplink.vlans", u.VLANs, u.NativeVLAN, "uplink")
	ck.vlanAddresses()
	pr := u.Probe
	if pr.Target != "" {
		if a, err := netip.ParseAddr(pr.Target); err != nil || !a.Is4() {
			ck.add("uplink.probe.target", "invalid probe target %q: use an IPv4 address", pr.Target)
		}
	}
	if !pr.Disabled && pr.Target == "" && !u.IPv4.DHCP && u.IPv4.Address != "" && u.IPv4.Gateway == "" {
		ck.add("uplink.probe", "nothing to probe after the bridge takeover: set uplink.ipv4.gateway or uplink.probe.target, or probe.disabled: true")
	}
	ck.positive("uplink.carrier-timeout", int64(u.CarrierTimeout))
	ck.positive("uplink.probe.timeout", int64(pr.Timeout))
}

// boxAddressVLANs runs after the workloads are known: a box address on a
// VLAN that neither the uplink nor any workload carries reaches nobody,
// which is a mistake in the VLAN id far more often than intent.
func (ck *checker) boxAddressVLANs() {
	u := &ck.c.Uplink
	carried := map[int]bool{}
	for _, v := range u.VLANs {
		carried[v] = true
	}
	for _, o := range ck.c.Overlays {
		carried[o.VLAN] = true
	}
	eachNIC(ck.c, func(_ string, _ string, _ int, n *NIC) {
		carried[n.VLAN] = true
		carried[n.Native] = true
		for _, v := range n.Trunk {
			carried[v] = true
		}
	})
	for i, a := range u.Addresses {
		if a.VLAN >= 1 && a.VLAN <= 4094 && a.VLAN != u.NativeVLAN && !carried[a.VLAN] {
			ck.add(fmt.Sprintf("uplink.addresses[%d].vlan", i), "VLAN %d is not carried by the uplink (uplink.vlans), an overlay nor used by any workload NIC", a.VLAN)
		}
	}
}

// eachNIC visits the NICs of all workloads in plan order.
func eachNIC(c *Config, f func(path, workload string, idx int, n *NIC)) {
	for i := range c.VMs {
		for j := range c.VMs[i].NICs {
			f(fmt.Sprintf("vms[%d].nics[%d]", i, j), c.VMs[i].Name, j, &c.VMs[i].NICs[j])
		}
	}
	for i := range c.Containers {
		for j := range c.Containers[i].NICs {
			f(fmt.Sprintf("containers[%d].nics[%d]", i, j), c.Containers[i].Name, j, &c.Containers[i].NICs[j])
		}
	}
}

func (ck *checker) vlanID(p string, v int) bool {
	if v < 1 || v > 4094 {
		ck.add(p, "VLAN id %d out of range: must be between 1 and 4094", v)
		return false
	}
	return true
}

func (ck *checker) positive(p string, v int64) {
	if v <= 0 {
		ck.add(p, "must be greater than 0")
	}
}

func (ck *checker) link(p, n string) {
	if prev, dup := ck.links[n]; dup {
		ck.add(p, "link name %q is also used by %s", n, ck.loc.ref(prev))
		return
	}
	ck.links[n] = p
}

// linkNameProblem applies the kernel's rules for interface names.
func linkNameProblem(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > MaxLinkName:
		return fmt.Sprintf("longer than %d characters", MaxLinkName)
	case s == "." || s == "..":
		return "not a valid name"
	case strings.ContainsAny(s, "/: \t\n\r\x00"):
		return "must not contain '/', ':' or white space"
	}
	return ""
}

// cidr checks an address with prefix length and claims the address for
// the box, so that no two places use the same IP.
func (ck *checker) cidr(p, s string) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil && a.Is4() {
			ck.add(p, "invalid address %q: missing prefix length, such as %s/24", s, s)
		} else {
			ck.add(p, "invalid address %q: use an IPv4 address with prefix length such as 192.168.1.10/24", s)
		}
		return netip.Prefix{}, false
	}
	a := pfx.Addr()
	switch {
	case !a.Is4():
		ck.add(p, "invalid address %q: only IPv4 addresses are supported", s)
		return netip.Prefix{}, false
	case pfx.Bits() == 0:
		ck.add(p, "invalid address %q: prefix length must be between 1 and 32", s)
		return netip.Prefix{}, false
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		ck.add(p, "invalid address %q: not a unicast host address", s)
		return netip.Prefix{}, false
	case pfx.Bits() <= 30 && a == pfx.Masked().Addr():
		ck.add(p, "invalid address %q: that is the network address of the subnet", s)
		return netip.Prefix{}, false
	case pfx.Bits() <= 30 && a == broadcast(pfx):
		ck.add(p, "invalid address %q: that is the broadcast address of the subnet", s)
		return netip.Prefix{}, false
	}
	ck.claimIP(p, a)
	return pfx, true
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (ck *checker) ipv4(p string, a IPv4) {
	if a.DHCP {
		if a.Address != "" || a.Gateway != "" {
			ck.add(p, "dhcp and a static address exclude each other")
		}
		return
	}
	if a.Address == "" {
		if a.Gateway != "" {
			ck.add(p+".address", `required with a gateway (or write ipv4: dhcp)`)
		}
		return
	}
	pfx, ok := ck.cidr(p+".address", a.Address)
	if a.Gateway == "" {
		return
	}
	gw, err := netip.ParseAddr(a.Gateway)
	switch {
	case err != nil || !gw.Is4():
		ck.add(p+".gateway", "invalid gateway %q: use an IPv4 address", a.Gateway)
	case !ok:
	case !pfx.Contains(gw):
		ck.add(p+".gateway", "gateway %s is outside the subnet %s of the address", gw, pfx.Masked())
	case gw == pfx.Addr():
		ck.add(p+".gateway", "gateway %s is the address itself", gw)
	}
}

func (ck *checker) workloadName(p, n string) {
	switch {
	case n == "":
		ck.add(p+".name", "required: a unique name such as web")
		return
	case !workloadRE.MatchString(n):
		ck.add(p+".name", "invalid name %q: use lower-case letters, digits and inner dashes, at most 32", n)
		return
	}
	if prev, dup := ck.names[n]; dup {
		ck.add(p+".name", "duplicate workload name %q: also used by %s", n, ck.loc.ref(prev))
		return
	}
	ck.names[n] = p + ".name"
}

func (ck *checker) restart(p string, r Restart) {
	switch r {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		ck.add(p, "invalid restart policy %q: use always, on-failure or never", r)
	}
}

func (ck *checker) vm(p string, vm *VM) {
	ck.workloadName(p, vm.Name)
	if vm.CPUs < 1 || vm.CPUs > 255 {
		ck.add(p+".cpus", "cpus must be between 1 and 255, got %d", vm.CPUs)
	}
	switch {
	case vm.Memory == 0:
		ck.add(p+".memory", "must be greater than 0")
	case vm.Memory%MiB != 0:
		ck.add(p+".memory", "memory %s is not a whole number of MiB", vm.Memory)
	}
	if !machineRE.MatchString(vm.Machine) {
		ck.add(p+".machine", "invalid machine type %q", vm.Machine)
	}
	switch vm.Accel {
	case "auto", "kvm", "tcg":
	default:
		ck.add(p+".accel", "invalid accel %q: use auto, kvm or tcg", vm.Accel)
	}
	for i, dk := range vm.Disks {
		dp := fmt.Sprintf("%s.disks[%d]", p, i)
		if dk.Path == "" {
			ck.add(dp+".path", "required: the disk image file")
		} else {
			abs := ck.c.ResolvePath(dk.Path)
			if prev, dup := ck.disks[abs]; dup {
				ck.add(dp+".path", "disk %s is also used by %s", abs, ck.loc.ref(prev))
			} else {
				ck.disks[abs] = dp + ".path"
			}
			if dk.Backing != "" && ck.c.ResolvePath(dk.Backing) == abs {
				ck.add(dp+".backing", "a disk cannot be its own backing image")
			}
		}
		switch dk.Format {
		case "qcow2":
		case "raw":
			if dk.Backing != "" {
				ck.add(dp+".backing", "a backing image needs format qcow2")
			}
		default:
			ck.add(dp+".format", "invalid disk format %q: use qcow2 or raw", dk.Format)
		}
	}
	for i, iso := range vm.CDROMs {
		if iso == "" {
			ck.add(fmt.Sprintf("%s.cdroms[%d]", p, i), "empty path")
		}
	}
	if vm.Kernel == "" {
		if vm.Initrd != "" {
			ck.add(p+".initrd", "initrd needs kernel")
		}
		if vm.Append != "" {
			ck.add(p+".append", "append needs kernel")
		}
	}
	if !bootRE.MatchString(vm.Boot) {
		ck.add(p+".boot", "invalid boot order %q: use the letters c (disk), d (cdrom) and n (network)", vm.Boot)
	}
	if vm.VNC != nil {
		d := *vm.VNC
		// Two VMs may give the same number: it no longer names a port.
		if d < 0 || d > 99 {
			ck.add(p+".vnc", "VNC display %d out of range: must be between 0 and 99", d)
		}
	}
	ck.restart(p+".restart", vm.Restart)
	ck.positive(p+".shutdown-timeout", int64(vm.ShutdownTimeout))
	ck.nics(p, vm.Name, vm.NICs, TAPName)
	for i, n := range vm.NICs {
		if !n.IPv4.DHCP && n.IPv4.Address != "" && vm.CloudInit == nil && !ck.c.servedStatic(&n) {
			ck.add(fmt.Sprintf("%s.nics[%d].ipv4", p, i), "a VM's static address is set through cloud-init (add cloud-init: {} to the VM) or by the box's DHCP server on its VLAN (add dhcp to the box's address there)")
		}
		if !n.IPv6.IsZero() && vm.CloudInit == nil {
			ck.add(fmt.Sprintf("%s.nics[%d].ipv6", p, i), vmIPv6NeedsCloudInit)
		}
	}
}

func (ck *checker) container(p string, ct *Container) {
	ck.workloadName(p, ct.Name)
	if ct.Image == "" {
		ck.add(p+".image", "required: a registry reference such as docker.io/library/nginx:1.27, oci-layout:DIR or docker-archive:FILE")
	} else if _, err := ParseImage(ct.Image); err != nil {
		ck.add(p+".image", "%v", err)
	}
	keys := make([]string, 0, len(ct.Env))
	for k := range ct.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			ck.add(joinKey(p+".env", k), "invalid environment variable name %q", k)
		}
		if strings.Contains(ct.Env[k], "\x00") {
			ck.add(joinKey(p+".env", k), "value contains a NUL byte")
		}
	}
	if ct.WorkDir != "" && !path.IsAbs(ct.WorkDir) {
		ck.add(p+".workdir", "workdir %q must be an absolute path", ct.WorkDir)
	}
	// A container process with a VM's uid could signal that VM's QEMU
	// and write its disks.
	for i, id := range strings.SplitN(ct.User, ":", 2) {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil && n >= VMUserBase && n < VMUserBase+VMUserRange {
			ck.add(p+".user", "%s %d is one of the VMs' QEMU users (%d to %d): choose another",
				[]string{"uid", "gid"}[i], n, VMUserBase, VMUserBase+VMUserRange-1)
		}
	}
	if ct.Memory != 0 && ct.Memory < MiB {
		ck.add(p+".memory", "memory limit %s is too small to run a process: use at least 1MiB", ct.Memory)
	}
	if math.IsNaN(ct.CPUs) || math.IsInf(ct.CPUs, 0) || ct.CPUs < 0 {
		ck.add(p+".cpus", "cpus must be a positive number of cores, such as 0.5")
	}
	if ct.PIDs < 0 {
		ck.add(p+".pids", "pids must not be negative")
	}
	targets := map[string]string{}
	for i, v := range ct.Volumes {
		vp := fmt.Sprintf("%s.volumes[%d]", p, i)
		switch src := path.Clean(v.Source); {
		case v.Source == "":
			ck.add(vp+".source", "required: a directory in the state directory")
		case !path.IsAbs(v.Source) && (src == ".." || strings.HasPrefix(src, "../")):
			ck.add(vp+".source", "source %q leaves the state directory; use an absolute path to mean it", v.Source)
		}
		switch {
		case v.Target == "":
			ck.add(vp+".target", "required: the absolute path inside the container")
		case !path.IsAbs(v.Target):
			ck.add(vp+".target", "target %q must be an absolute path", v.Target)
		case path.Clean(v.Target) == "/":
			ck.add(vp+".target", "cannot mount over the container's root")
		case targets[path.Clean(v.Target)] != "":
			ck.add(vp+".target", "target %s is also mounted by %s", path.Clean(v.Target), ck.loc.ref(targets[path.Clean(v.Target)]))
		default:
			targets[path.Clean(v.Target)] = vp + ".target"
		}
	}
	ck.restart(p+".restart", ct.Restart)
	ck.positive(p+".stop-timeout", int64(ct.StopTimeout))
	ck.nics(p, ct.Name, ct.NICs, VethName)
}

func (ck *checker) nics(p, workload string, nics []NIC, linkName func(string, int) string) {
	if len(nics) > MaxNICs {
		ck.add(p+".nics", "at most %d NICs per workload", MaxNICs)
	}
	for i := range nics {
		n := &nics[i]
		np := fmt.Sprintf("%s.nics[%d]", p, i)
		if n.VLAN != 0 && len(n.Trunk) > 0 {
			ck.add(np+".trunk", "a NIC is either an access port (vlan) or a trunk (trunk), not both")
		}
		if n.VLAN != 0 {
			ck.vlanID(np+".vlan", n.VLAN)
		}
		if n.Native != 0 {
			if len(n.Trunk) == 0 {
				ck.add(np+".native", "native is the untagged VLAN of a trunk: it needs trunk")
			}
			ck.vlanID(np+".native", n.Native)
		}
		ck.taggedVLANs(np+".trunk", n.Trunk, n.Native, "trunk")
		if n.VLAN == 0 && len(n.Trunk) == 0 && n.Native == 0 {
			ck.add(np+".vlan", "required: an access VLAN or a trunk")
		}
		ck.mac(np+".mac", n.MAC)
		ck.ipv4(np+".ipv4", n.IPv4)
		ck.nicIPv6(np, n)
		ck.policy(np+".policy", n.Policy)
		if len(n.Trunk) > 0 && n.Native == 0 && !n.IPv4.IsZero() {
			ck.add(np+".ipv4", "a trunk without a native VLAN carries no untagged traffic for an address: set native")
		}
		if workload != "" && i < MaxNICs {
			ck.link(np, linkName(workload, i))
		}
	}
}

func (ck *checker) mac(p, s string) {
	if s == "" {
		ck.add(p, "required")
		return
	}
	mac, err := net.ParseMAC(s)
	switch {
	case err != nil || len(mac) != 6:
		ck.add(p, "invalid MAC address %q: use six hex bytes such as 02:00:00:12:34:56", s)
		return
	case mac[0]&1 != 0:
		ck.add(p, "MAC address %s is a multicast address: the first byte must be even", mac)
		return
	case slices.Equal(mac, make(net.HardwareAddr, 6)):
		ck.add(p, "MAC address %s is all zeros", mac)
		return
	}
	if prev, dup := ck.macs[mac.String()]; dup {
		ck.add(p, "MAC address %s is also used by %s", mac, ck.loc.ref(prev))
		return
	}
	ck.macs[mac.String()] = p
}

func (ck *checker) registries() {
	seen := map[string]string{}
	for i, r := range ck.c.Registries {
		p := fmt.Sprintf("registries[%d]", i)
		if r.Host == "" {
			ck.add(p+".host", "required: the registry host, such as ghcr.io")
		} else if _, err := name.NewRegistry(r.Host, name.StrictValidation); err != nil || strings.ContainsAny(r.Host, "/@") {
			ck.add(p+".host", "invalid registry host %q: use host[:port] such as ghcr.io or registry.lab:5000", r.Host)
		} else if h := registryHost(r.Host); seen[h] != "" {
			ck.add(p+".host", "registry %s already has credentials at %s", r.Host, ck.loc.ref(seen[h]))
		} else {
			seen[h] = p + ".host"
		}
		if (r.Username == "") != (r.Password == "") {
			ck.add(p, "give both username and password, or neither")
		}
	}
}

func (ck *checker) api() {
	a := ck.c.API
	if a.Listen != "" {
		host, port, err := net.SplitHostPort(a.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil || perr != nil || n < 1 || n > 65535:
			ck.add("api.listen", "invalid listen address %q: use [IP]:PORT such as :8443", a.Listen)
		case host != "":
			if _, err := netip.ParseAddr(host); err != nil {
				ck.add("api.listen", "invalid listen address %q: the host part must be an IP address", a.Listen)
			}
		}
	}
	if a.Token != "" && (len(a.Token) < 16 || strings.ContainsAny(a.Token, " \t\r\n")) {
		ck.add("api.token", "the token must be at least 16 characters without white space (or leave it out to generate one)")
	}
	if len(a.VLANs) > 0 && a.Listen == "" {
		ck.add("api.vlans", "api.vlans opens the TLS API, which needs api.listen (such as :8443)")
	}
	ck.sessions()
	addressed := map[int]bool{}
	for _, b := range ck.c.Uplink.Addresses {
		addressed[b.VLAN] = true
	}
	seen := map[int]string{}
	for i, v := range a.VLANs {
		p := fmt.Sprintf("api.vlans[%d]", i)
		switch {
		case !ck.vlanID(p, v):
		case seen[v] != "":
			ck.add(p, "VLAN %d is already listed at %s", v, ck.loc.ref(seen[v]))
		case !addressed[v]:
			ck.add(p, "the box has no address on VLAN %d to serve the API at: add one to uplink.addresses", v)
		default:
			seen[v] = p
		}
	}
}

// minSession is the shortest web login the config may ask for: shorter
// ones end between two refreshes of the status page.
const minSession = Duration(time.Minute)

// sessions checks the web login's lifetimes: an idle limit longer than
// the lifetime would never apply, which is a mistake worth naming.
func (ck *checker) sessions() {
	a := ck.c.API
	for _, f := range []struct {
		path string
		v    Duration
	}{{"api.session-lifetime", a.SessionLifetime}, {"api.session-idle", a.SessionIdle}} {
		if f.v < minSession {
			ck.add(f.path, "%s is too short for a web login: use at least %s", f.v, minSession)
		}
	}
	if a.SessionIdle > a.SessionLifetime && a.SessionLifetime >= minSession {
		ck.add("api.session-idle", "an idle limit of %s is longer than the session lifetime %s (api.session-lifetime)", a.SessionIdle, a.SessionLifetime)
	}
}

// reserve refuses a reserve too small to run the box on: PID 1 alone
// needs tens of MiB and threads, its console shell and DHCP client more.
func (ck *checker) reserve() {
	r := ck.c.Reserve
	if r.Memory != 0 && r.Memory < 64*MiB {
		ck.add("reserve.memory", "reserve %s is too small for the box itself: use at least 64MiB", r.Memory)
	}
	if r.PID1Memory != 0 && r.PID1Memory < 16*MiB {
		ck.add("reserve.pid1-memory", "PID 1's memory limit %s is too small: use at least 16MiB", r.PID1Memory)
	}
	if r.PID1Memory != 0 && r.Memory >= 64*MiB && r.PID1Memory > r.Memory {
		ck.add("reserve.pid1-memory", "PID 1's memory limit %s is more than the reserve (reserve.memory %s) it lives in", r.PID1Memory, r.Memory)
	}
	if r.PIDs < 0 || (r.PIDs > 0 && r.PIDs < 64) {
		ck.add("reserve.pids", "reserve of %d processes is too small for the box itself: use at least 64", r.PIDs)
	}
}

// taggedVLANs checks a list of VLANs carried tagged on a port (the uplink,
// or a trunk NIC): valid ids, each once, and not the port's own untagged
// VLAN.
func (ck *checker) taggedVLANs(path string, vlans []int, native int, port string) {
	seen := map[int]string{}
	for i, v := range vlans {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !ck.vlanID(p, v):
		case v == native:
			ck.add(p, "VLAN %d is the %s's native (untagged) VLAN; do not list it among the tagged ones", v, port)
		case seen[v] != "":
			ck.add(p, "VLAN %d is already listed at %s", v, ck.loc.ref(seen[v]))
		default:
			seen[v] = p
		}
	}
}

// time checks the NTP servers: each a host name or IP address, with a
// port if it is not 123.
func (ck *checker) time() {
	seen := map[string]string{}
	for i, s := range ck.c.Time.Servers {
		p := fmt.Sprintf("time.servers[%d]", i)
		host, port := s, ""
		if h, pt, err := net.SplitHostPort(s); err == nil {
			host, port = h, pt
		}
		if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535) {
			ck.add(p, "invalid NTP server %q: the port must be a number from 1 to 65535", s)
			continue
		}
		if _, err := netip.ParseAddr(host); err != nil && !dnsNameRE.MatchString(host) {
			ck.add(p, "invalid NTP server %q: use a host name or IP address, with :port when it is not 123", s)
			continue
		}
		if prev, dup := seen[s]; dup {
			ck.add(p, "NTP server %q is already listed at %s", s, ck.loc.ref(prev))
			continue
		}
		seen[s] = p
	}
	ck.ntpServe()
}

// logging checks the syslog server's URL and the buffer.
func (ck *checker) logging() {
	l := ck.c.Logging
	if l.Remote != "" {
		if err := checkSyslogURL(l.Remote); err != nil {
			ck.add("logging.remote", "invalid syslog server %q: %v", l.Remote, err)
		}
	} else if l.Buffer != 0 {
		ck.add("logging.buffer", "a buffer without a server: set logging.remote")
	}
	if l.Buffer != 0 && (l.Buffer < 64*KiB || l.Buffer > 32*MiB) {
		ck.add("logging.buffer", "buffer %s: use 64KiB to 32MiB (it lives in PID 1's memory)", l.Buffer)
	}
}

// checkSyslogURL accepts udp://, tcp:// and tcp+tls:// with a host and
// an optional port, nothing else.
func checkSyslogURL(s string) error {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "udp" && scheme != "tcp" && scheme != "tcp+tls") {
		return errors.New("use udp://HOST[:PORT], tcp://HOST[:PORT] or tcp+tls://HOST[:PORT]")
	}
	host, port := rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	}
	if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535) {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	if _, err := netip.ParseAddr(host); err != nil && !dnsNameRE.MatchString(host) {
		return errors.New("the host must be a host name or IP address, with nothing after the port")
	}
	return nil
}
