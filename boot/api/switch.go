package api

import (
	"errors"

	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// SwitchState is what the box's bridges have learnt and dropped: their MAC
// tables and the port policies' counters.
type SwitchState struct {
	FDB    []FDBEntry      `json:"fdb"`
	Policy []PolicyCounter `json:"policy,omitempty"`
}

// FDBEntry is one MAC address a bridge knows, and where.
type FDBEntry struct {
	Bridge string `json:"bridge"`
	MAC    string `json:"mac"`
	Port   string `json:"port"`
	VLAN   int    `json:"vlan,omitempty"`
	// Local is the bridge's or a port's own address; the others are
	// learnt (or static).
	Local  bool `json:"local,omitempty"`
	Static bool `json:"static,omitempty"`
}

// PolicyCounter is one port policy rule's count.
type PolicyCounter = policy.Counter

// netlinkSwitch reads the MAC tables of nucbox's bridges and the policy
// counters in the calling thread's namespace.
func netlinkSwitch() (*SwitchState, error) {
	t, err := vswitch.ReadLinks(nil)
	if err != nil {
		return nil, err
	}
	st := &SwitchState{FDB: []FDBEntry{}}
	var errs []error
	for _, l := range t.Links {
		if l.Kind != "bridge" || !vswitch.Owned(l.Alias) {
			continue
		}
		fdb, err := vswitch.ReadFDB(nil, l.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range fdb {
			st.FDB = append(st.FDB, FDBEntry{Bridge: l.Name, MAC: e.MAC.String(), Port: e.Port, VLAN: e.VLAN, Local: e.Local, Static: e.Static})
		}
	}
	ns, err := vswitch.OpenNamespace("")
	if err != nil {
		return st, errors.Join(append(errs, err)...)
	}
	defer ns.Close()
	st.Policy, err = policy.Counters(ns)
	return st, errors.Join(append(errs, err)...)
}
