package vswitch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/vishvananda/netlink"
)

// ErrNoBonding means the kernel cannot create bonds (module bonding).
var ErrNoBonding = errors.New("the kernel cannot create bonds (module bonding)")

const aliasBond = aliasPrefix + "bond"

// Bond is an uplink made of several NICs. The bridge enslaves the bond as
// it would a single uplink and takes its MAC, which is the first member's
// and stays the bond's across failovers.
type Bond struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
	// Mode is active-backup, 802.3ad or balance-xor.
	Mode string `json:"mode"`
}

// BondInfo is a bond as the kernel reports it.
type BondInfo struct {
	Mode   string
	Active string // the active member (active-backup), "" when none
}

// BondSlaveInfo is a bond member's state in its bond.
type BondSlaveInfo struct {
	State        string // ACTIVE or BACKUP
	MII          string // UP, GOING_DOWN, DOWN, GOING_BACK
	LinkFailures uint32
}

func bondInfo(b *netlink.Bond, names map[int]string) *BondInfo {
	return &BondInfo{Mode: b.Mode.String(), Active: names[b.ActiveSlave]}
}

func bondSlaveInfo(s *netlink.BondSlave) *BondSlaveInfo {
	return &BondSlaveInfo{State: s.State.String(), MII: s.MiiStatus.String(), LinkFailures: s.LinkFailureCount}
}

// BondStatus is the uplink bond for the box's status.
type BondStatus struct {
	Name    string         `json:"name"`
	Mode    string         `json:"mode"`
	MAC     string         `json:"mac"`
	Carrier bool           `json:"carrier"`
	Active  string         `json:"active,omitempty"`
	Members []MemberStatus `json:"members"`
}

// MemberStatus is one NIC of the bond.
type MemberStatus struct {
	Name    string `json:"name"`
	Carrier bool   `json:"carrier"`
	// State is the bonding driver's: active or backup.
	State        string `json:"state,omitempty"`
	MII          string `json:"mii,omitempty"`
	LinkFailures uint32 `json:"link_failures"`
	Enslaved     bool   `json:"enslaved"`
}

// EnsureBond creates the bond when it is missing and enslaves its
// members. A member must be down to join a bond; it is brought up again
// at once, and so is the bond. A bond of that name the kernel made by
// itself (loading the bonding module makes bond0) is taken over while it
// has no members; any other link of the name is an error.
func (s *Switch) EnsureBond(ctx context.Context, b Bond) ([]string, error) {
	if b.Name == "" || len(b.Name) > 15 || len(b.Members) == 0 {
		return nil, fmt.Errorf("bond %q: name or members invalid", b.Name)
	}
	mode := netlink.StringToBondMode(b.Mode)
	if mode == netlink.BOND_MODE_UNKNOWN {
		return nil, fmt.Errorf("bond %s: unknown mode %q", b.Name, b.Mode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []string
	l, err := s.h.LinkByName(b.Name)
	if err == nil {
		bl, isBond := l.(*netlink.Bond)
		switch {
		case !isBond:
			return nil, fmt.Errorf("bond %s: a %s link of that name exists", b.Name, l.Type())
		case bl.Mode != mode && l.Attrs().Alias != aliasBond && !s.hasSlaves(l.Attrs().Index):
			if err := s.mut(func() error { return s.h.LinkDel(l) }); err != nil {
				return nil, err
			}
			done = append(done, "delete "+b.Name+" (made by the module)")
			l = nil
		case bl.Mode != mode:
			return nil, fmt.Errorf("bond %s is in mode %s, not %s; its mode changes only at the next boot", b.Name, bl.Mode, b.Mode)
		}
	} else {
		l = nil
	}
	if l == nil {
		nb := netlink.NewLinkBond(netlink.LinkAttrs{Name: b.Name, Alias: aliasBond})
		nb.Mode = mode
		// The MII monitor notices a member losing carrier; without it an
		// active-backup bond never fails over.
		nb.Miimon = 100
		if mode == netlink.BOND_MODE_802_3AD {
			nb.LacpRate = netlink.BOND_LACP_RATE_FAST
		}
		err := s.mut(func() error { return s.h.LinkAdd(nb) })
		if errors.Is(err, syscall.EOPNOTSUPP) {
			return done, ErrNoBonding
		}
		if err != nil {
			return done, fmt.Errorf("create bond %s: %w", b.Name, err)
		}
		done = append(done, "create-bond "+b.Name+" "+b.Mode)
		if l, err = s.h.LinkByName(b.Name); err != nil {
			return done, err
		}
	}
	if l.Attrs().Alias != aliasBond {
		if err := s.mut(func() error { return s.h.LinkSetAlias(l, aliasBond) }); err != nil {
			return done, err
		}
	}
	for _, name := range b.Members {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		m, err := s.h.LinkByName(name)
		if err != nil {
			return done, fmt.Errorf("bond %s: member %s: %w", b.Name, name, err)
		}
		if m.Attrs().MasterIndex == l.Attrs().Index {
			if m.Attrs().Flags&syscall.IFF_UP == 0 {
				if err := s.mut(func() error { return s.h.LinkSetUp(m) }); err != nil {
					return done, err
				}
			}
			continue
		}
		if m.Attrs().MasterIndex != 0 {
			return done, fmt.Errorf("bond %s: member %s is a port of another master", b.Name, name)
		}
		if err := s.mut(func() error { return s.h.LinkSetDown(m) }); err != nil {
			return done, err
		}
		if err := s.mut(func() error { return s.h.LinkSetMasterByIndex(m, l.Attrs().Index) }); err != nil {
			return done, fmt.Errorf("bond %s: enslave %s: %w", b.Name, name, err)
		}
		if err := s.mut(func() error { return s.h.LinkSetUp(m) }); err != nil {
			return done, err
		}
		done = append(done, "enslave "+name+" "+b.Name)
	}
	if l.Attrs().Flags&syscall.IFF_UP == 0 {
		if err := s.mut(func() error { return s.h.LinkSetUp(l) }); err != nil {
			return done, err
		}
		done = append(done, "up "+b.Name)
	}
	return done, nil
}

func (s *Switch) hasSlaves(index int) bool {
	links, err := s.h.LinkList()
	if err != nil {
		return true
	}
	return slices.ContainsFunc(links, func(l netlink.Link) bool { return l.Attrs().MasterIndex == index })
}

// BondState reads the bond b as the kernel has it.
func (s *Switch) BondState(b Bond) (BondStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := ReadLinks(s.h)
	if err != nil {
		return BondStatus{}, err
	}
	return bondStatus(t, b), nil
}

func bondStatus(t LinkTable, b Bond) BondStatus {
	st := BondStatus{Name: b.Name, Mode: b.Mode}
	for _, l := range t.Links {
		if l.Name == b.Name {
			st.MAC, st.Carrier = l.MAC.String(), l.OperState == "up"
			if l.Bond != nil {
				st.Mode, st.Active = l.Bond.Mode, l.Bond.Active
			}
		}
	}
	for _, name := range b.Members {
		ms := MemberStatus{Name: name}
		for _, l := range t.Links {
			if l.Name != name {
				continue
			}
			ms.Carrier = l.OperState == "up"
			ms.Enslaved = l.Master == b.Name
			if l.BondSlave != nil {
				ms.State, ms.MII, ms.LinkFailures = l.BondSlave.State, l.BondSlave.MII, l.BondSlave.LinkFailures
			}
		}
		st.Members = append(st.Members, ms)
	}
	return st
}
