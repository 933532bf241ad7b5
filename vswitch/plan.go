package vswitch

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// observed is the part of the kernel's state Reconcile compares against:
// every link of the namespace by name, the VLAN table of the bridge and
// its ports, and the IPv4 and (not link-local) IPv6 addresses of
// nucbox's VLAN interfaces.
type observed struct {
	links map[string]obsLink
	// filtering and defaultPVID describe the bridge, when it exists.
	filtering   bool
	defaultPVID int
	vlans       map[string][]VLAN
	addrs       map[string][]netip.Prefix
}

type obsLink struct {
	Name   string
	Index  int
	Kind   string // netlink's type: bridge, tuntap, veth, vlan, device...
	MAC    net.HardwareAddr
	Master string // name of the master link, "" when none
	Up     bool   // administratively up
	Alias  string
	VlanID int    // for vlan links
	Parent string // for vlan links
	MTU    int
	// Tunnel is a tunnel device's identity, FloodTo its head-end
	// replication remotes (VXLAN's all-zero FDB entries).
	Tunnel  *Tunnel
	FloodTo []netip.Addr
}

type op string

// The operations a plan is made of; each is one or a few mutating netlink
// calls.
const (
	opDelete       op = "delete"
	opCreateBridge op = "create-bridge"
	opFiltering    op = "set-vlan-filtering"
	opDefaultPVID  op = "set-default-pvid"
	opCreateTAP    op = "create-tap"
	opCreateVeth   op = "create-veth"
	opCreateVLAN   op = "create-vlan-link"
	opSetMAC       op = "set-mac"
	opSetAlias     op = "set-alias"
	opDown         op = "down"
	opMaster       op = "set-master"
	opVLANDel      op = "vlan-del"
	opVLANAdd      op = "vlan-add"
	opUp           op = "up"
	opAddrAdd      op = "addr-add"
	opAddrDel      op = "addr-del"
	opCreateTunnel op = "create-tunnel"
	opFDBAdd       op = "fdb-add"
	opFDBDel       op = "fdb-del"
	opSetMTU       op = "set-mtu"
)

// action is one step of a plan. Only the fields its op needs are set.
type action struct {
	Op     op
	Link   string
	Port   Port
	Bridge Bridge
	VLAN   VLAN
	Self   bool // the VLAN entry is the bridge device's own
	MAC    net.HardwareAddr
	Alias  string
	Master string
	Addr   netip.Prefix
	On     bool
}

func (a action) String() string {
	s := string(a.Op) + " " + a.Link
	switch a.Op {
	case opVLANAdd, opVLANDel:
		s += " vid " + a.VLAN.String()
		if a.Self {
			s += " self"
		}
	case opSetMAC:
		s += " " + a.MAC.String()
	case opSetAlias:
		s += " " + a.Alias
	case opMaster:
		s += " " + a.Master
	case opAddrAdd, opAddrDel:
		s += " " + a.Addr.String()
	case opFDBAdd, opFDBDel:
		s += " 00:00:00:00:00:00 dst " + a.Addr.Addr().String()
	case opSetMTU:
		s += fmt.Sprint(" ", a.Port.MTU)
	case opFiltering:
		s += fmt.Sprint(" ", a.On)
	case opCreateVLAN:
		s += fmt.Sprint(" vid ", a.VLAN.ID)
	}
	return s
}

// plan computes the steps that turn o into d. It never touches links it
// does not own except the external ports d names, and orders the steps so
// that no port is ever forwarding in a VLAN it should not be in: a port is
// down (or, for the uplink, VLAN-less thanks to default PVID 0) while it
// joins the bridge, and VLANs are removed before new ones are added.
func plan(d Desired, o observed) ([]action, error) {
	var acts []action
	var errs []error
	o = o.clone()
	do := func(a action) { acts = append(acts, a) }
	br := d.Bridge
	filtering := br.VLANFiltering

	// Stale links first, so their names are free for what replaces them.
	want := map[string]bool{}
	for _, p := range d.Ports {
		want[p.Name+"\x00"+string(p.Kind)] = true
	}
	for _, a := range d.Addresses {
		want[a.Link+"\x00vlan"] = true
	}
	for _, name := range sortedKeys(o.links) {
		l := o.links[name]
		var kind string
		switch {
		case strings.HasPrefix(l.Alias, aliasPort) && l.Kind == "tuntap":
			kind = string(KindTAP)
		case strings.HasPrefix(l.Alias, aliasPort) && l.Kind == "veth":
			kind = string(KindVeth)
		case strings.HasPrefix(l.Alias, aliasPort) && isTunnel(PortKind(l.Kind)):
			kind = l.Kind
		case strings.HasPrefix(l.Alias, aliasVLAN):
			kind = "stale"
			if l.Parent == br.Name && wantVLANLink(d, name, l.VlanID) {
				kind = "vlan"
			}
		case strings.HasPrefix(l.Alias, aliasPort):
			kind = "unknown"
		default:
			continue
		}
		if !want[name+"\x00"+kind] {
			do(action{Op: opDelete, Link: name})
			delete(o.links, name)
		}
	}

	// The bridge.
	bl, exists := o.links[br.Name]
	switch {
	case !exists:
		do(action{Op: opCreateBridge, Link: br.Name, Bridge: br})
		o.filtering, o.defaultPVID = filtering, 0
		if !filtering {
			o.defaultPVID = 1
		}
	case bl.Kind != "bridge":
		return nil, fmt.Errorf("bridge %s: a %s link of that name exists", br.Name, bl.Kind)
	case bl.Alias != aliasBridge:
		return nil, fmt.Errorf("bridge %s exists but was not created by nucbox (alias %q); remove it or choose another name", br.Name, bl.Alias)
	default:
		if br.MAC != nil && !bytes.Equal(br.MAC, bl.MAC) {
			do(action{Op: opSetMAC, Link: br.Name, MAC: br.MAC})
		}
		if o.filtering != filtering {
			do(action{Op: opFiltering, Link: br.Name, On: filtering})
		}
	}
	if filtering {
		// Ports join with no VLAN at all rather than the default VLAN 1:
		// the VLAN leak closed at the source.
		if o.defaultPVID != 0 {
			do(action{Op: opDefaultPVID, Link: br.Name})
		}
		acts = append(acts, vlanDiff(br.Name, true, o.vlans[br.Name], d.selfVLANs())...)
	}

	// Ports.
	for _, p := range d.Ports {
		l, ok := o.links[p.Name]
		wantVLANs := p.VLANs()
		if p.Kind == KindExternal {
			if !ok {
				errs = append(errs, fmt.Errorf("port %s: link not found", p.Name))
				continue
			}
			if l.Master != br.Name {
				do(action{Op: opMaster, Link: p.Name, Master: br.Name})
				o.vlans[p.Name] = nil
			}
			if filtering {
				acts = append(acts, vlanDiff(p.Name, false, o.vlans[p.Name], wantVLANs)...)
			}
			if !l.Up {
				do(action{Op: opUp, Link: p.Name})
			}
			continue
		}
		if ok && !Owned(l.Alias) {
			errs = append(errs, fmt.Errorf("port %s: a link of that name exists and was not created by nucbox", p.Name))
			continue
		}
		if ok && isTunnel(p.Kind) && !sameTunnel(p, l) {
			// A tunnel's identity (VNI, source, peer) is fixed at
			// creation: it is made anew.
			do(action{Op: opDelete, Link: p.Name})
			delete(o.links, p.Name)
			ok = false
		}
		if !ok {
			op := opCreateTAP
			switch {
			case p.Kind == KindVeth:
				op = opCreateVeth
			case isTunnel(p.Kind):
				op = opCreateTunnel
			}
			// Created down, enslaved, given its VLANs, and only then up.
			do(action{Op: op, Link: p.Name, Port: p})
			acts = append(acts, fdbDiff(p, nil)...)
			do(action{Op: opMaster, Link: p.Name, Master: br.Name})
			if filtering {
				acts = append(acts, vlanDiff(p.Name, false, nil, wantVLANs)...)
			}
			do(action{Op: opUp, Link: p.Name})
			continue
		}
		if mac := p.HostMAC(); mac != nil && !bytes.Equal(mac, l.MAC) {
			do(action{Op: opSetMAC, Link: p.Name, MAC: mac})
		}
		if a := portAlias(p); a != l.Alias {
			do(action{Op: opSetAlias, Link: p.Name, Alias: a})
		}
		if p.MTU != 0 && p.MTU != l.MTU {
			do(action{Op: opSetMTU, Link: p.Name, Port: p})
		}
		acts = append(acts, fdbDiff(p, l.FloodTo)...)
		up := l.Up
		if l.Master != br.Name {
			if up {
				do(action{Op: opDown, Link: p.Name})
				up = false
			}
			do(action{Op: opMaster, Link: p.Name, Master: br.Name})
			o.vlans[p.Name] = nil
		}
		if filtering {
			acts = append(acts, vlanDiff(p.Name, false, o.vlans[p.Name], wantVLANs)...)
		}
		if !up {
			do(action{Op: opUp, Link: p.Name})
		}
	}
	if !exists || !bl.Up {
		do(action{Op: opUp, Link: br.Name})
	}

	// Box addresses on VLAN interfaces.
	byVLAN := map[int][]netip.Prefix{}
	linkOf := map[int]string{}
	var vids []int
	for _, a := range d.Addresses {
		if _, ok := byVLAN[a.VLAN]; !ok {
			vids = append(vids, a.VLAN)
			linkOf[a.VLAN] = a.Link
		}
		byVLAN[a.VLAN] = append(byVLAN[a.VLAN], a.Prefix)
	}
	slices.Sort(vids)
	for _, vid := range vids {
		name := linkOf[vid]
		l, ok := o.links[name]
		if ok && !Owned(l.Alias) {
			errs = append(errs, fmt.Errorf("VLAN %d: link %s exists and was not created by nucbox", vid, name))
			continue
		}
		if !ok {
			do(action{Op: opCreateVLAN, Link: name, Master: br.Name, VLAN: VLAN{ID: vid}})
		}
		have := o.addrs[name]
		for _, p := range byVLAN[vid] {
			if !slices.Contains(have, p) {
				do(action{Op: opAddrAdd, Link: name, Addr: p})
			}
		}
		for _, p := range have {
			if !slices.Contains(byVLAN[vid], p) {
				do(action{Op: opAddrDel, Link: name, Addr: p})
			}
		}
		if !ok || !l.Up {
			do(action{Op: opUp, Link: name})
		}
	}
	return acts, errors.Join(errs...)
}

// clone copies what plan edits as it goes, so the caller's view stays
// the kernel's.
func (o observed) clone() observed {
	c := o
	c.links = maps.Clone(o.links)
	c.vlans = maps.Clone(o.vlans)
	if c.links == nil {
		c.links = map[string]obsLink{}
	}
	if c.vlans == nil {
		c.vlans = map[string][]VLAN{}
	}
	return c
}

func wantVLANLink(d Desired, name string, vid int) bool {
	for _, a := range d.Addresses {
		if a.VLAN == vid && a.Link == name {
			return true
		}
	}
	return false
}

// vlanDiff removes what should not be there before adding what is
// missing, so a port never carries the union of old and new VLANs. A VLAN
// whose flags change is re-added: the kernel replaces the flags in place.
func vlanDiff(link string, self bool, have, want []VLAN) []action {
	var acts []action
	for _, h := range have {
		if !slices.ContainsFunc(want, func(w VLAN) bool { return w.ID == h.ID }) {
			acts = append(acts, action{Op: opVLANDel, Link: link, VLAN: h, Self: self})
		}
	}
	for _, w := range want {
		if !slices.Contains(have, w) {
			acts = append(acts, action{Op: opVLANAdd, Link: link, VLAN: w, Self: self})
		}
	}
	return acts
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
