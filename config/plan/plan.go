package plan

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/netcfg/timesync"
	"github.com/nucbox/nucbox/vmm"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// Step kinds, in the order they appear in a plan.
const (
	KindModules     = "modules"
	KindHostname    = "hostname"
	KindUplink      = "uplink"
	KindBridge      = "bridge"
	KindTakeover    = "takeover"
	KindOverlay     = "overlay"
	KindVLANAddress = "vlan-address"
	KindFirewall    = "firewall"
	KindPolicy      = "policy"
	KindTime        = "time"
	KindLogging     = "logging"
	KindDHCP        = "dhcp"
	KindDNS         = "dns"
	KindPXE         = "pxe"
	KindReserve     = "reserve"
	KindDisk        = "disk"
	KindCloudInit   = "cloud-init"
	KindTAP         = "tap"
	KindVM          = "vm"
	KindImage       = "image"
	KindVeth        = "veth"
	KindContainer   = "container"
	KindAPI         = "api"
)

// lldpText says what each uplink.lldp mode does.
var lldpText = map[string]string{
	config.LLDPAdvertise: "advertise the box and show the switch port",
	config.LLDPListen:    "show the switch port, advertise nothing",
	config.LLDPOff:       "off",
}

// APISocket is where the management API always listens on the box.
const APISocket = "/run/nucbox/api.sock"

// Plan is what applying a config creates: the steps in apply order, for
// people, and (from Compile) the desired state PID 1 applies.
type Plan struct {
	Hostname string `json:"hostname"`
	Steps    []Step `json:"steps"`
	// Desired is the compiled state of every subsystem; Build leaves it
	// empty.
	Desired Desired `json:"desired"`
}

// Step is one thing the box creates or configures.
type Step struct {
	Kind string `json:"kind"`
	// Name identifies what the step creates: a link name, a path, a
	// workload name.
	Name string `json:"name"`
	// Workload is the VM or container the step belongs to, so that a live
	// apply can pick the steps of the workloads that changed.
	Workload string   `json:"workload,omitempty"`
	Details  []Detail `json:"details,omitempty"`
}

// Detail is one setting of a step.
type Detail struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Default is true when the value was not written in the config.
	Default bool `json:"default,omitempty"`
}

type builder struct {
	c     *config.Config
	steps []Step
}

func (b *builder) step(kind, name, workload string, details ...Detail) {
	b.steps = append(b.steps, Step{Kind: kind, Name: name, Workload: workload, Details: details})
}

// dflt is a detail for a value the config leaves to the box.
func dflt(key, value string) Detail { return Detail{Key: key, Value: value, Default: true} }

// d is a detail whose default flag comes from the config path it shows.
func (b *builder) d(key, value, path string) Detail {
	return Detail{Key: key, Value: value, Default: path != "" && b.c.IsDefaulted(path)}
}

// Build computes the steps of a config returned by config.Parse or
// config.Load (defaults applied, validated), without the desired state
// (see Compile). It does not modify c.
func Build(c *config.Config) *Plan {
	b := &builder{c: c}
	u := &c.Uplink

	if len(c.Modules) > 0 {
		b.step(KindModules, strings.Join(c.Modules, " "), "")
	}
	b.step(KindHostname, c.Hostname, "")

	if u.MAC != "" {
		b.step(KindUplink, u.MAC, "",
			b.d("select", "the link with MAC "+u.MAC, "uplink.mac"),
			b.d("carrier-timeout", u.CarrierTimeout.String(), "uplink.carrier-timeout"))
	} else if bd := u.Interface.Bond; bd != nil {
		b.step(KindUplink, bd.Name, "",
			b.d("bond", strings.Join(bd.Members, ", "), "uplink.interface.bond"),
			b.d("mode", bd.Mode, "uplink.interface.mode"),
			dflt("mii monitor", "100ms; a member losing carrier is logged"),
			b.d("carrier-timeout", u.CarrierTimeout.String(), "uplink.carrier-timeout"))
	} else {
		name := u.Interface.Name
		sel := "the link " + name
		if name == config.DefaultInterface {
			sel = "the first Ethernet link with carrier"
		}
		b.step(KindUplink, name, "",
			b.d("select", sel, "uplink.interface"),
			b.d("carrier-timeout", u.CarrierTimeout.String(), "uplink.carrier-timeout"))
	}

	tagged := "none"
	if len(u.VLANs) > 0 {
		tagged = joinInts(u.VLANs)
	}
	b.step(KindBridge, u.Bridge, "",
		b.d("name", u.Bridge, "uplink.bridge"),
		b.d("vlan-filtering", "on", ""),
		b.d("mac", "the uplink's", ""),
		b.d("uplink native-vlan", strconv.Itoa(u.NativeVLAN)+" (untagged)", "uplink.native-vlan"),
		b.d("uplink tagged vlans", tagged, "uplink.vlans"),
		b.d("lldp", lldpText[u.LLDP], "uplink.lldp"),
		b.d("vlan-check", vlanCheckText(u), "uplink.vlan-check"))

	tk := []Detail{
		b.d("enslave", "uplink into "+u.Bridge, ""),
		b.d("ipv4", u.IPv4.String(), "uplink.ipv4"),
		b.d("ipv6", uplinkIPv6Text(u.IPv6), "uplink.ipv6"),
	}
	if len(u.DNS) > 0 {
		tk = append(tk, b.d("dns", strings.Join(u.DNS, ", "), "uplink.dns"))
	}
	if u.Probe.Disabled {
		tk = append(tk, b.d("probe", "disabled: no rollback", "uplink.probe.disabled"))
	} else {
		target := b.d("probe", u.Probe.Target, "uplink.probe.target")
		if u.Probe.Target == "" {
			target = dflt("probe", "the gateway")
		}
		tk = append(tk, target,
			b.d("probe timeout", u.Probe.Timeout.String()+", then roll back", "uplink.probe.timeout"))
	}
	b.step(KindTakeover, u.Bridge, "", tk...)
	b.overlaySteps()

	for i, a := range u.Addresses {
		p := fmt.Sprintf("uplink.addresses[%d]", i)
		ds := []Detail{b.d("on", u.Bridge, ""),
			b.d("vlan", strconv.Itoa(a.VLAN), p+".vlan")}
		if a.Address != "" {
			ds = append(ds, b.d("address", a.Address, p+".address"))
		} else {
			ds = append(ds, b.d("address", "none: IPv6 only (no DHCP server)", p+".ipv6"))
		}
		if a.IPv6 != "" {
			ds = append(ds, b.d("ipv6", a.IPv6, p+".ipv6"))
			if u.AdvertisesIPv6(a) {
				pfx := a.IPv6
				if p, err := netip.ParsePrefix(a.IPv6); err == nil {
					pfx = p.Masked().String()
				}
				ra := "prefix " + pfx + " (SLAAC), no default route"
				if a.NAT {
					ra = "prefix " + pfx + " (SLAAC), the box as default router (NAT66)"
				}
				if servesDNS(u, a) {
					ra += ", DNS at the box"
				}
				ds = append(ds, b.d("router adverts", ra, ""))
			}
		}
		b.step(KindVLANAddress, config.VLANIfName(a.VLAN), "", ds...)
	}

	b.firewall()
	if s, _ := portPolicies(c); len(s.Ports) > 0 {
		b.step(KindPolicy, "bridge "+policy.Table, "", policyDetails(s)...)
	}
	b.serve()
	b.pxe()
	if len(c.Time.Servers) > 0 {
		b.step(KindTime, "ntp", "", b.d("servers", strings.Join(c.Time.Servers, ", "), "time.servers"))
	} else {
		b.step(KindTime, "ntp", "", dflt("servers", "the uplink lease's (DHCP option 42), else "+strings.Join(timesync.DefaultServers, ", ")))
	}
	b.ntpServer()
	if l := c.Logging; l.Remote != "" {
		buf := b.d("buffer", l.Buffer.String(), "logging.buffer")
		if l.Buffer == 0 {
			buf = dflt("buffer", "2MiB")
		}
		b.step(KindLogging, l.Remote, "",
			b.d("remote", l.Remote, "logging.remote"),
			dflt("what", "the box's log from boot on and every workload's output, RFC 5424"),
			buf)
	}
	b.step(KindReserve, config.WorkloadsCgroup, "",
		b.d("memory", c.Reserve.Memory.String(), "reserve.memory"),
		b.d("pids", strconv.Itoa(c.Reserve.PIDs), "reserve.pids"),
		b.d("pid 1's memory", c.Reserve.PID1Memory.String()+" soft limit (Go runtime)", "reserve.pid1-memory"),
		b.d("workloads", "every VM and container, in cgroup "+config.WorkloadsCgroup+
			", limited to the box's memory and processes minus the reserve", ""),
		b.d("each vm", "its memory and "+config.VMMemoryOverhead.String()+" for QEMU", ""))
	for i := range c.VMs {
		b.vm(fmt.Sprintf("vms[%d]", i), &c.VMs[i])
	}
	for i := range c.Containers {
		b.container(fmt.Sprintf("containers[%d]", i), &c.Containers[i])
	}

	api := []Detail{b.d("socket", APISocket, "")}
	name := APISocket
	if c.API.Listen != "" {
		name = c.API.Listen
		api = append(api, b.d("listen", c.API.Listen+" (TLS)", "api.listen"))
	}
	if c.API.Token != "" {
		api = append(api, b.d("token", "from the config", "api.token"))
	} else {
		api = append(api, dflt("token", "generated on first boot"))
	}
	if c.API.PublicStatus {
		api = append(api, b.d("public-status", "read-only status without a token", "api.public-status"))
	}
	if c.API.Listen != "" {
		api = append(api, b.d("web login", fmt.Sprintf("ends after %s, or %s without a request", c.API.SessionLifetime, c.API.SessionIdle), "api.session-lifetime"))
	}
	b.step(KindAPI, name, "", api...)

	return &Plan{Hostname: c.Hostname, Steps: b.steps}
}

// uplinkIPv6Text says how the box takes its IPv6 on the lab network.
func uplinkIPv6Text(a config.UplinkIPv6) string {
	switch a.Mode {
	case config.IPv6SLAAC:
		return "slaac (the lab's router adverts)"
	case config.IPv6DHCP:
		return "dhcp (DHCPv6; routes from the lab's router adverts)"
	case config.IPv6Off:
		return "off"
	}
	s := a.String() + " (static; router adverts ignored"
	if a.Gateway != "" {
		s += ", gateway probed by neighbour solicitation"
	}
	return s + ")"
}

// firewall describes the box's packet filter as netcfg applies it from
// the compiled netcfg.Firewall: what the lab network and each VLAN with a
// box address reach of the box, and what the box forwards.
func (b *builder) firewall() {
	c := b.c
	u := &c.Uplink
	ds := []Detail{b.d("lab network", "every service of the box (on "+u.Bridge+")", "")}
	if len(u.Addresses) == 0 {
		ds = append(ds, b.d("vlans", "no box address on a VLAN: workloads there cannot reach the box", ""))
	}
	_, apiPort, _ := net.SplitHostPort(c.API.Listen)
	var nat66 []string
	for i, a := range u.Addresses {
		link := config.VLANIfName(a.VLAN)
		served, why := "", fmt.Sprintf("uplink.addresses[%d].dhcp", i)
		switch {
		case a.DHCP != nil:
			served = ", DHCP and DNS"
		case servesDNS(u, a):
			served, why = ", DNS", fmt.Sprintf("uplink.addresses[%d].ipv6", i)
		}
		if j := slices.Index(c.API.VLANs, a.VLAN); j >= 0 && c.API.Listen != "" {
			ds = append(ds, b.d(link+" to the box", "ping"+served+", the API on port "+apiPort, fmt.Sprintf("api.vlans[%d]", j)))
		} else if served != "" {
			ds = append(ds, b.d(link+" to the box", "ping"+served, why))
		} else {
			ds = append(ds, b.d(link+" to the box", "ping only", ""))
		}
		if a.NAT {
			var subnets []string
			for _, s := range []string{a.Address, a.IPv6} {
				if p, err := netip.ParsePrefix(s); err == nil {
					subnets = append(subnets, p.Masked().String())
				}
			}
			ds = append(ds, b.d(link+" forwarded", "from "+strings.Join(subnets, " and ")+" only, to the uplink, masqueraded",
				fmt.Sprintf("uplink.addresses[%d].nat", i)))
			if a.IPv6 != "" {
				nat66 = append(nat66, link)
			}
		}
	}
	if len(u.Addresses) > 0 {
		ds = append(ds, b.d("vlan interfaces", "strict reverse-path filter (IPv4 and IPv6); router adverts and redirects ignored", ""))
	}
	if len(nat66) > 0 {
		ds = append(ds, b.d("ipv6 forwarding", "NAT66 from "+strings.Join(nat66, ", ")+" (the lab's prefix is not the box's to route)", ""))
	} else {
		ds = append(ds, b.d("ipv6 forwarding", "none", ""))
	}
	b.step(KindFirewall, "inet "+netcfg.FirewallTable, "", ds...)
}

func (b *builder) vm(p string, vm *config.VM) {
	c := b.c
	for i, dk := range vm.Disks {
		dp := fmt.Sprintf("%s.disks[%d]", p, i)
		ds := []Detail{b.d("format", dk.Format, dp+".format")}
		if dk.Size != 0 {
			ds = append(ds, b.d("size", dk.Size.String(), dp+".size"))
		}
		if dk.Backing != "" {
			ds = append(ds, b.d("backing", c.ResolvePath(dk.Backing), dp+".backing"))
		}
		if dk.ReadOnly {
			ds = append(ds, b.d("read-only", "yes", dp+".read-only"))
		}
		b.step(KindDisk, c.ResolvePath(dk.Path), vm.Name, ds...)
	}
	if ci := vm.CloudInit; ci != nil {
		ds := []Detail{b.d("meta-data", "instance-id "+vmm.InstanceID(c.Hostname, vm.Name)+", local-hostname "+vm.Name, "")}
		if ci.MetaData != "" {
			ds = append(ds, b.d("meta-data from config", fmt.Sprintf("%d bytes", len(ci.MetaData)), p+".cloud-init.meta-data"))
		}
		if ci.UserData != "" {
			ds = append(ds, b.d("user-data", fmt.Sprintf("%d bytes", len(ci.UserData)), p+".cloud-init.user-data"))
		}
		var net []string
		for i, n := range vm.NICs {
			if !n.IPv4.IsZero() {
				net = append(net, fmt.Sprintf("nic %d %s", i, n.IPv4))
			}
		}
		if len(net) > 0 {
			ds = append(ds, b.d("network-config", strings.Join(net, "; "), ""))
		}
		b.step(KindCloudInit, vm.Name+" seed", vm.Name, ds...)
	}
	for i := range vm.NICs {
		np := fmt.Sprintf("%s.nics[%d]", p, i)
		ds := b.port(np, &vm.NICs[i])
		if !vm.NICs[i].IPv4.IsZero() {
			ds = append(ds, b.d("ipv4 in guest", vm.NICs[i].IPv4.String(), np+".ipv4"))
		}
		b.step(KindTAP, config.TAPName(vm.Name, i), vm.Name, ds...)
	}

	ds := []Detail{
		b.d("cpus", strconv.Itoa(vm.CPUs), p+".cpus"),
		b.d("memory", vm.Memory.String(), p+".memory"),
		b.d("machine", vm.Machine, p+".machine"),
		b.d("accel", vm.Accel, p+".accel"),
	}
	var taps []string
	for i := range vm.NICs {
		taps = append(taps, config.TAPName(vm.Name, i))
	}
	if len(taps) > 0 {
		ds = append(ds, b.d("nics", strings.Join(taps, ", "), ""))
	}
	if len(vm.CDROMs) > 0 {
		var isos []string
		for _, iso := range vm.CDROMs {
			isos = append(isos, c.ResolvePath(iso))
		}
		ds = append(ds, b.d("cdroms", strings.Join(isos, ", "), p+".cdroms"))
	}
	if vm.Kernel != "" {
		ds = append(ds, b.d("kernel", c.ResolvePath(vm.Kernel), p+".kernel"))
		if vm.Initrd != "" {
			ds = append(ds, b.d("initrd", c.ResolvePath(vm.Initrd), p+".initrd"))
		}
		if vm.Append != "" {
			ds = append(ds, b.d("append", vm.Append, p+".append"))
		}
	}
	if vm.Boot != "" {
		ds = append(ds, b.d("boot", vm.Boot, p+".boot"))
	}
	if vm.VNC != nil {
		ds = append(ds, b.d("vnc", "/v1/vms/"+vm.Name+"/vnc over the API (nucbox vnc "+vm.Name+"); no TCP port", p+".vnc"))
	}
	ds = append(ds,
		b.d("restart", string(vm.Restart), p+".restart"),
		b.d("shutdown-timeout", vm.ShutdownTimeout.String(), p+".shutdown-timeout"))
	b.step(KindVM, vm.Name, vm.Name, ds...)
}

func (b *builder) container(p string, ct *config.Container) {
	c := b.c
	ref, err := config.ParseImage(ct.Image)
	var ds []Detail
	name := ct.Image
	switch {
	case err != nil:
		ds = append(ds, b.d("error", err.Error(), ""))
	case ref.Transport == config.TransportRegistry:
		name = ref.Ref
		ds = append(ds, b.d("pull", "from "+ref.Registry+", cached by digest", p+".image"))
		if c.RegistryFor(ct.Image) != nil {
			ds = append(ds, b.d("credentials", "from registries", ""))
		}
	default:
		ds = append(ds, b.d(ref.Transport, c.ResolvePath(ref.Path), p+".image"))
		if ref.Tag != "" {
			ds = append(ds, b.d("tag", ref.Tag, p+".image"))
		}
	}
	b.step(KindImage, name, ct.Name, ds...)

	for i := range ct.NICs {
		np := fmt.Sprintf("%s.nics[%d]", p, i)
		ds := append([]Detail{b.d("peer", config.ContainerIfName(i)+" in "+ct.Name, "")}, b.port(np, &ct.NICs[i])...)
		if !ct.NICs[i].IPv4.IsZero() {
			ds = append(ds, b.d("ipv4", ct.NICs[i].IPv4.String(), np+".ipv4"))
		}
		b.step(KindVeth, config.VethName(ct.Name, i), ct.Name, ds...)
	}

	ds = []Detail{b.d("image", name, p+".image")}
	if len(ct.Entrypoint) > 0 {
		ds = append(ds, b.d("entrypoint", quoteArgs(ct.Entrypoint), p+".entrypoint"))
	}
	if len(ct.Command) > 0 {
		ds = append(ds, b.d("command", quoteArgs(ct.Command), p+".command"))
	}
	if len(ct.Env) > 0 {
		// Names only: values are often passwords and plans get pasted
		// into tickets.
		keys := make([]string, 0, len(ct.Env))
		for k := range ct.Env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		ds = append(ds, b.d("env", strings.Join(keys, ", "), p+".env"))
	}
	if ct.WorkDir != "" {
		ds = append(ds, b.d("workdir", ct.WorkDir, p+".workdir"))
	}
	if ct.User != "" {
		ds = append(ds, b.d("user", ct.User, p+".user"))
	}
	limit := func(key string, set bool, value string) Detail {
		if !set {
			return dflt(key, "no limit")
		}
		return b.d(key, value, p+"."+key)
	}
	ds = append(ds,
		limit("memory", ct.Memory != 0, ct.Memory.String()),
		limit("cpus", ct.CPUs != 0, strconv.FormatFloat(ct.CPUs, 'g', -1, 64)),
		limit("pids", ct.PIDs != 0, strconv.Itoa(ct.PIDs)))
	for i, v := range ct.Volumes {
		ro := ""
		if v.ReadOnly {
			ro = " (read-only)"
		}
		ds = append(ds, b.d("volume", c.ResolvePath(v.Source)+" -> "+v.Target+ro, fmt.Sprintf("%s.volumes[%d]", p, i)))
	}
	ds = append(ds,
		b.d("restart", string(ct.Restart), p+".restart"),
		b.d("stop-timeout", ct.StopTimeout.String(), p+".stop-timeout"))
	b.step(KindContainer, ct.Name, ct.Name, ds...)
}

// port describes a bridge port: its VLANs, whether the uplink carries
// them, and its MAC.
func (b *builder) port(np string, n *config.NIC) []Detail {
	u := &b.c.Uplink
	onUplink := func(v int) bool { return v == u.NativeVLAN || slices.Contains(u.VLANs, v) }
	ds := []Detail{b.d("bridge", u.Bridge, "")}
	var local []int
	if len(n.Trunk) > 0 {
		ds = append(ds, b.d("trunk", joinInts(n.Trunk)+" (tagged)", np+".trunk"))
		for _, v := range n.Trunk {
			if !onUplink(v) {
				local = append(local, v)
			}
		}
		if n.Native != 0 {
			ds = append(ds, b.d("native", strconv.Itoa(n.Native)+" (untagged)", np+".native"))
			if !onUplink(n.Native) {
				local = append(local, n.Native)
			}
		}
	} else {
		v := strconv.Itoa(n.VLAN) + " (untagged)"
		if n.VLAN == u.NativeVLAN {
			v += ", the uplink's native VLAN"
		}
		ds = append(ds, b.d("vlan", v, np+".vlan"))
		if !onUplink(n.VLAN) {
			local = append(local, n.VLAN)
		}
	}
	if len(local) > 0 {
		ds = append(ds, b.d("box only", "VLAN "+joinInts(local)+" not carried by the uplink", ""))
	}
	ds = append(ds, b.d("mac", n.MAC, np+".mac"))
	return ds
}

func joinInts(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// WriteText prints the plan for people: numbered steps with their details
// indented below, defaults marked "(default)".
func (p *Plan) WriteText(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Plan for %s: %d steps\n", p.Hostname, len(p.Steps))
	width := len(strconv.Itoa(len(p.Steps)))
	for i, s := range p.Steps {
		fmt.Fprintf(&sb, "%*d. %s %s\n", width, i+1, s.Kind, s.Name)
		keyw := 0
		for _, d := range s.Details {
			keyw = max(keyw, len(d.Key))
		}
		for _, d := range s.Details {
			mark := ""
			if d.Default {
				mark = " (default)"
			}
			fmt.Fprintf(&sb, "%*s   %-*s  %s%s\n", width, "", keyw+1, d.Key+":", d.Value, mark)
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// StepsOf returns the steps of one workload, in order.
func (p *Plan) StepsOf(workload string) []Step {
	var out []Step
	for _, s := range p.Steps {
		if s.Workload == workload {
			out = append(out, s)
		}
	}
	return out
}

// vlanCheckText says how each tagged VLAN of the uplink is checked.
func vlanCheckText(u *config.Uplink) string {
	if u.VLANCheck == config.VLANCheckOff {
		return "off"
	}
	if len(u.VLANs) == 0 {
		return "no tagged VLANs to check"
	}
	var parts []string
	for _, t := range vlanCheck(u) {
		how := "DHCP discover"
		if t.Gateway.IsValid() {
			how = "ARP for " + t.Gateway.String()
		}
		parts = append(parts, fmt.Sprintf("VLAN %d by %s", t.VLAN, how))
	}
	return "after the takeover: " + strings.Join(parts, ", ")
}
