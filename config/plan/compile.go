package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/internal/floor"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/netcfg/dhcpd"
	"github.com/nucbox/nucbox/netcfg/dnsd"
	"github.com/nucbox/nucbox/netcfg/ntpd"
	"github.com/nucbox/nucbox/netcfg/pxed"
	"github.com/nucbox/nucbox/netcfg/radvd"
	"github.com/nucbox/nucbox/netcfg/timesync"
	"github.com/nucbox/nucbox/netcfg/vlancheck"
	"github.com/nucbox/nucbox/vmm"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// Stage names, as PID 1's supervisor knows its stages.
const (
	StageModules    = "modules"
	StageHostname   = "hostname"
	StageLoopback   = "loopback"
	StageNetwork    = "network"
	StageTime       = "time"
	StageLLDP       = "lldp"
	StageLogging    = "logging"
	StageServe      = "serve"
	StageAPI        = "api"
	StageReserve    = "reserve"
	StageVMs        = "vms"
	StageContainers = "containers"
)

// Order is the apply order: the network (the bridge and every port on it)
// before the workloads that use the ports; the clock, set once the
// network is up, before the API's certificate and the registry pulls
// check dates, and the log shipping, which needs both; and the workloads' parent
// cgroup, which keeps the box's reserve, before the first of them starts.
// The DHCP and DNS servers (serve) follow the network, whose VLAN
// interfaces they bind to, and come before the workloads, whose DHCP
// clients they answer.
// The API's settings follow the network, whose firewall opens its port,
// and come before the workloads, so that a new token takes effect without
// waiting for an image pull. The reserve needs nothing of the network and
// goes before it: at boot the network stage waits for the kernel to call
// the uplink up (up to a second after the NIC's driver loaded), and the
// cgroup is made before that wait rather than after it.
var Order = []string{StageModules, StageHostname, StageLoopback, StageReserve, StageNetwork, StageLLDP, StageServe, StageTime, StageLogging, StageAPI, StageVMs, StageContainers}

// Desired is the box as a config wants it, compiled into the typed spec
// of each subsystem: what PID 1 applies, in the order it carries. Every
// value is final: defaults filled in, paths absolute, names and MACs
// derived, addresses parsed. The subsystems add nothing of their own.
type Desired struct {
	Hostname string `json:"hostname"`
	// StateDir holds the guests' and containers' files.
	StateDir string `json:"state-dir"`
	// Modules are the config's extra kernel modules.
	Modules []string `json:"modules,omitempty"`
	// NetModules are the kernel modules its overlays and uplink bond
	// need (vxlan, ip_gre, bonding).
	NetModules []string `json:"net-modules,omitempty"`
	// Network is the box's own network: uplink selection, address, DNS,
	// the bridge takeover and its probe.
	Network netcfg.Spec `json:"network"`
	// Firewall is the box's packet filter: what workloads on VLANs reach
	// of the box, and what it forwards for them.
	Firewall netcfg.Firewall `json:"firewall"`
	// Switch is the bridge with every port and box VLAN address. Its
	// uplink port is a template the network stage names once it has
	// selected the link (vswitch.Desired.WithUplink).
	Switch vswitch.Desired `json:"switch"`
	// Policy is every workload port's ACL, guards and rate, and the port
	// mirrors; the network stage applies it after the switch.
	Policy policy.Spec `json:"policy"`
	// DHCP and DNS are the box's servers on its VLANs.
	DHCP dhcpd.Spec `json:"dhcp"`
	DNS  dnsd.Spec  `json:"dns"`
	// NTP is the box's NTP server on its internal VLANs (time.serve).
	NTP ntpd.Spec `json:"ntp"`
	// RA is the box's IPv6 router adverts on its internal VLANs.
	RA radvd.Spec `json:"ra"`
	// PXE is the box as its rack's boot server (pxe-server).
	PXE        pxed.Spec         `json:"pxe,omitzero"`
	VMs        []vmm.Spec        `json:"vms,omitempty"`
	Containers []containers.Spec `json:"containers,omitempty"`
	// Workloads is the cgroup every VM and container runs under, with the
	// reserve its limits keep for the box; made before the first
	// workload starts.
	Workloads floor.Parent `json:"workloads"`
	// PID1Memory is PID 1's own soft memory limit (the Go runtime's),
	// within the reserve; the reserve stage sets it at every apply.
	PID1Memory int64 `json:"pid1-memory"`
	// LLDP is what the box does with LLDP on the uplink: advertise,
	// listen or off.
	LLDP string `json:"lldp"`
	// VLANCheck are the uplink's tagged VLANs the box checks the switch
	// port carries after the takeover; empty with uplink.vlan-check: off.
	VLANCheck []vlancheck.Target `json:"vlan-check,omitempty"`
	// Time is where the box's clock comes from.
	Time timesync.Spec `json:"time"`
	// Logging is the syslog server the box ships its logs to.
	Logging Logging `json:"logging"`
	API     API     `json:"api"`
	// Order lists the stages in apply order.
	Order []string `json:"order"`
}

// Logging is where the box's log and its workloads' output go.
type Logging struct {
	// Remote is the syslog server's URL; empty ships nothing.
	Remote string `json:"remote,omitempty"`
	// Buffer bounds what waits while the server is unreachable.
	Buffer int64 `json:"buffer,omitempty"`
}

// API is the management API's settings.
type API struct {
	// Socket is the local unix socket, always served.
	Socket string `json:"socket"`
	// Listen is the TCP address of the TLS API; empty: the socket only.
	Listen string `json:"listen,omitempty"`
	// Token is the bearer token; empty: generated on first boot. It is
	// never written out.
	Token        string `json:"-"`
	PublicStatus bool   `json:"public-status,omitempty"`
	// SessionLifetime and SessionIdle end a web page login.
	SessionLifetime config.Duration `json:"session-lifetime"`
	SessionIdle     config.Duration `json:"session-idle"`
}

// APIOf is the API's part of the compiled config. The box also takes it
// straight from the config it read, to serve the API before the config
// is applied.
func APIOf(c *config.Config) API {
	a := c.API
	return API{Socket: APISocket, Listen: a.Listen, Token: a.Token, PublicStatus: a.PublicStatus,
		SessionLifetime: a.SessionLifetime, SessionIdle: a.SessionIdle}
}

// Compile computes the plan of a config returned by config.Parse or
// config.Load (defaults applied, validated): the steps Build gives and the
// desired state of every subsystem. It is the one translation from the
// config to the subsystems' specs; it reports every value it cannot
// translate at once, which for a validated config is none. It does not
// modify c.
func Compile(c *config.Config) (*Plan, error) {
	p := Build(c)
	b := &compiler{c: c}
	d := &p.Desired
	d.Hostname = c.Hostname
	d.StateDir = c.StateDir
	d.Modules = slices.Clone(c.Modules)
	d.NetModules = OverlayModules(c)
	d.Network, d.Switch = b.network()
	d.Firewall = b.firewall()
	var perrs []error
	d.Policy, perrs = portPolicies(c)
	b.errs = append(b.errs, perrs...)
	d.DHCP, d.DNS, d.NTP = b.serve()
	d.PXE = b.pxe()
	d.RA = b.adverts(&d.DNS)
	if len(d.DNS.Listen) == 0 {
		d.DNS.Hosts = nil
	} else {
		d.DNS.Self = c.Hostname
	}
	d.Workloads = floor.Parent{Path: config.WorkloadsCgroup,
		Reserve: floor.Reserve{Memory: int64(c.Reserve.Memory), PIDs: int64(c.Reserve.PIDs)}}
	d.PID1Memory = int64(c.Reserve.PID1Memory)
	d.LLDP = c.Uplink.LLDP
	d.VLANCheck = vlanCheck(&c.Uplink)
	d.Time = timesync.Spec{Servers: slices.Clone(c.Time.Servers)}
	d.Logging = Logging{Remote: c.Logging.Remote, Buffer: int64(c.Logging.Buffer)}
	names := make([]string, len(c.VMs))
	for i, vm := range c.VMs {
		names[i] = vm.Name
	}
	users := config.VMUsers(names)
	for i, vm := range c.VMs {
		s, ports := b.vm(vm, d.Network.DNS, users[i])
		d.VMs = append(d.VMs, s)
		d.Switch.Ports = append(d.Switch.Ports, ports...)
	}
	for _, ct := range c.Containers {
		s := b.container(ct)
		d.Containers = append(d.Containers, s)
		for _, n := range s.NICs {
			d.Switch.Ports = append(d.Switch.Ports, n.Port)
		}
	}
	d.API = APIOf(c)
	d.Order = slices.Clone(Order)
	if err := errors.Join(b.errs...); err != nil {
		return p, err
	}
	return p, errors.Join(d.Network.Validate(), d.Firewall.Validate(), d.Switch.Validate(), d.Policy.Validate(), d.DHCP.Validate(), d.DNS.Validate(), d.RA.Validate())
}

// compiler collects every problem of one Compile.
type compiler struct {
	c    *config.Config
	errs []error
}

func (b *compiler) fail(format string, a ...any) { b.errs = append(b.errs, fmt.Errorf(format, a...)) }

// resolve is config's ResolvePath, keeping "not set" empty.
func (b *compiler) resolve(p string) string {
	if p == "" {
		return ""
	}
	return b.c.ResolvePath(p)
}

// ipv4 parses a NIC's or the uplink's address setting; what is set of
// address and gateway is parsed, the rest stays zero.
func (b *compiler) ipv4(where string, a config.IPv4) (prefix netip.Prefix, gw netip.Addr) {
	if a.Address != "" {
		p, err := netip.ParsePrefix(a.Address)
		if err != nil {
			b.fail("%s.address: %w", where, err)
		}
		prefix = p
	}
	if a.Gateway != "" {
		g, err := netip.ParseAddr(a.Gateway)
		if err != nil {
			b.fail("%s.gateway: %w", where, err)
		}
		gw = g
	}
	return prefix, gw
}

// vlanCheck is what the VLAN check probes: each tagged VLAN of the
// uplink, with the gateway and box address the config gives it.
func vlanCheck(u *config.Uplink) []vlancheck.Target {
	if u.VLANCheck == config.VLANCheckOff {
		return nil
	}
	var out []vlancheck.Target
	for _, v := range u.VLANs {
		t := vlancheck.Target{VLAN: v}
		for _, a := range u.Addresses {
			if a.VLAN != v {
				continue
			}
			if p, err := netip.ParsePrefix(a.Address); err == nil {
				t.Source = p.Addr()
			}
			if gw, err := netip.ParseAddr(a.Gateway); err == nil {
				t.Gateway = gw
			}
		}
		out = append(out, t)
	}
	return out
}
