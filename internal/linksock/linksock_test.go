package linksock

import (
	"errors"
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
