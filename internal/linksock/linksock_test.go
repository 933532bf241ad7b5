package linksock

import (
	"errors"
	"net/netip"
	"sort"
	"testing"
)

func TestSync(t *testing.T) {
	type ln struct {
		key   string
		index int
	}
	have := map[string]*ln{"keep": {"keep", 1}, "gone": {"gone", 1}, "remade": {"remade", 1}}
	var stopped, started []string
	stale := func(k string, l *ln) bool { return k == "remade" }
	stop := func(l *ln) { stopped = append(stopped, l.key) }
	start := func(k string) (*ln, error) {
		if k == "broken" {
			return nil, errors.New("broken: address in use")
		}
		started = append(started, k)
		return &ln{k, 2}, nil
	}
	errs := Sync(have, []string{"keep", "remade", "new", "broken"}, stale, stop, start)
	sort.Strings(stopped)
	sort.Strings(started)
	if len(errs) != 1 || errs[0].Error() != "broken: address in use" {
		t.Errorf("errors %v", errs)
	}
	if want := []string{"gone", "remade"}; len(stopped) != 2 || stopped[0] != want[0] || stopped[1] != want[1] {
		t.Errorf("stopped %v, want %v", stopped, want)
	}
	if want := []string{"new", "remade"}; len(started) != 2 || started[0] != want[0] || started[1] != want[1] {
		t.Errorf("started %v, want %v", started, want)
	}
	if len(have) != 3 || have["keep"].index != 1 || have["remade"].index != 2 || have["broken"] != nil {
		t.Errorf("have %v", have)
	}
}

func TestIndex(t *testing.T) {
	if Index("") != 0 || Index("no-such-link0") != 0 {
		t.Error("a missing link has an index")
	}
	if Index("lo") == 0 {
		t.Error("lo has no index")
	}
}

type fakeBound struct {
	index   int
	stopped bool
}

func (b *fakeBound) LinkIndex() int { return b.index }
func (b *fakeBound) Stop()          { b.stopped = true }

// A listener bound to an index its link no longer has is started again;
// one whose link kept its index is kept (the control); a start that fails
// names the service, the link and the address.
func TestSyncListeners(t *testing.T) {
	kept := Listener{Address: netip.MustParsePrefix("10.0.10.1/24")}
	stale := Listener{Address: netip.MustParsePrefix("10.0.20.1/24")}
	bad := Listener{Interface: "nolink0", Address: netip.MustParsePrefix("10.0.30.1/24")}
	old := &fakeBound{index: 0}
	gone := &fakeBound{index: 7} // no link named "" has index 7
	have := map[Listener]*fakeBound{kept: old, stale: gone}
	err := SyncListeners(have, []Listener{kept, stale, bad}, "ntp", func(l Listener) (*fakeBound, error) {
		if l == bad {
			return nil, errors.New("no such device")
		}
		return &fakeBound{}, nil
	})
	if have[kept] != old || old.stopped {
		t.Error("a listener whose link kept its index was restarted")
	}
	if !gone.stopped || have[stale] == gone || have[stale] == nil {
		t.Error("a listener bound to an old link index was not started again")
	}
	if _, ok := have[bad]; ok || err == nil || err.Error() != "ntp on nolink0 10.0.30.1: no such device" {
		t.Errorf("failed start: in map %v, error %v", ok, err)
	}
}
