package vswitch

import (
	"net"
	"testing"
)

// The bond's status comes from the one reading of the links: the bond's
// mode, MAC and active member, each member's carrier and state, and a
// member that is not (or no longer) in the bond says so.
func TestBondStatusFromLinks(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0, 0, 0x60, 1}
	tab := LinkTable{Links: []Link{
		{Name: "eth0", OperState: "down", Master: "bond0", BondSlave: &BondSlaveInfo{State: "BACKUP", MII: "DOWN", LinkFailures: 2}},
		{Name: "eth1", OperState: "up", Master: "bond0", BondSlave: &BondSlaveInfo{State: "ACTIVE", MII: "UP"}},
		{Name: "eth2", OperState: "up"},
		{Name: "bond0", Kind: "bond", OperState: "up", MAC: mac, Master: "br0", Bond: &BondInfo{Mode: "active-backup", Active: "eth1"}},
	}}
	st := bondStatus(tab, Bond{Name: "bond0", Members: []string{"eth0", "eth1", "eth2"}, Mode: "active-backup"})
	if st.Active != "eth1" || st.MAC != mac.String() || !st.Carrier || st.Mode != "active-backup" || len(st.Members) != 3 {
		t.Fatalf("bond status %+v", st)
	}
	e0, e1, e2 := st.Members[0], st.Members[1], st.Members[2]
	if e0.Carrier || e0.State != "BACKUP" || e0.LinkFailures != 2 || !e0.Enslaved {
		t.Errorf("eth0 %+v", e0)
	}
	if !e1.Carrier || e1.State != "ACTIVE" || !e1.Enslaved {
		t.Errorf("eth1 %+v", e1)
	}
	if e2.Enslaved || e2.State != "" {
		t.Errorf("eth2, not in the bond: %+v", e2)
	}
}
