// Package vswitch owns the Linux bridge: VLAN filtering, access and trunk
// ports, TAP and veth creation, and the box's VLAN interfaces. It talks
// netlink only and reconciles kernel state against the desired ports:
// Reconcile reads the links and VLAN tables, plans the difference (plan is
// pure and unit-tested) and applies only that, so a second Reconcile makes
// no change.
//
// vswitch does not read the config: config/plan compiles the Desired
// state, with every link name (TAP, veth and its peer, VLAN interface)
// and MAC final, and the uplink port as a template the network stage
// names once it has selected the link (WithUplink). The network stage
// owns the box's only Switch; netcfg's takeover (EnsureBridge, Attach,
// Detach, BringUp) and the containers' veth ports (EnsurePort) go through
// it, so the bridge has one writer.
//
// Links nucbox creates carry an alias starting with "nucbox:"; Reconcile
// never changes or deletes any other link, except the external ports (the
// uplink) the desired state names, which it enslaves and gives VLANs.
//
// Two kernel traps shape the order of operations. A port that joins the
// bridge before its VLANs are set forwards in the default VLAN for a
// moment (guests picked up the uplink's router adverts that way): the
// bridge's default PVID is 0, so new ports join in no VLAN at all, and
// TAPs and veths are created down, enslaved, given their VLANs and only
// then brought up. And a kernel without CONFIG_BRIDGE_VLAN_FILTERING or
// 8021q gets ErrNoVLANFiltering or ErrNo8021Q instead of a bridge that
// quietly forwards every VLAN everywhere.
//
// Namespace runs the calls netlink cannot route by itself (TUN creation,
// packet sockets) inside the right network namespace; the netnstest
// package builds namespaces for tests.
package vswitch
