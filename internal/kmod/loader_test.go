package kmod

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func testModuleDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open("testdata/modules")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/arch/x86/kvm/kvm-intel.ko": "kvm_intel",
		"kernel/net/8021q/8021q.ko.xz":     "8021q",
		"e1000e.ko.zst":                    "e1000e",
		"kvm-amd":                          "kvm_amd",
		"virtio_net":                       "virtio_net",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseModulesDep(t *testing.T) {
	db := testModuleDB(t)
	br := db.mods["bridge"]
	if br == nil || br.Path != "kernel/net/bridge/bridge.ko" || !slices.Equal(br.Deps, []string{"stp", "llc"}) {
		t.Fatalf("bridge = %+v", br)
	}
	if e := db.mods["kvm_intel"]; e == nil || !slices.Equal(e.Deps, []string{"kvm", "irqbypass"}) {
		t.Errorf("kvm_intel = %+v", e)
	}
	if e := db.mods["llc"]; e == nil || len(e.Deps) != 0 {
		t.Errorf("llc = %+v", e)
	}
	if !db.builtin["af_packet"] || !db.builtin["unix"] || db.builtin["bridge"] {
		t.Errorf("builtin = %v", db.builtin)
	}
	if _, err := parseModulesDep(strings.NewReader("no colon here\n")); err == nil {
		t.Error("a line without ':' parsed")
	}
}

func planNames(p loadPlan) []string {
	var out []string
	for _, e := range p.order {
		out = append(out, e.Name)
	}
	return out
}

// before checks that a comes before b in order.
func before(t *testing.T, order []string, a, b string) {
	t.Helper()
	i, j := slices.Index(order, a), slices.Index(order, b)
	if i < 0 || j < 0 || i > j {
		t.Errorf("%s should load before %s: %v", a, b, order)
	}
}

func TestPlanOrdersDependenciesFirst(t *testing.T) {
	db := testModuleDB(t)
	p := db.plan([]string{"bridge", "8021q", "vxlan", "kvm-intel", "virtio_net"}, nil)
	if len(p.missing) > 0 {
		t.Fatalf("missing: %v", p.missing)
	}
	got := planNames(p)
	for _, d := range [][2]string{
		{"llc", "stp"}, {"stp", "bridge"}, {"garp", "8021q"}, {"mrp", "8021q"}, {"stp", "garp"},
		{"udp_tunnel", "vxlan"}, {"ip6_udp_tunnel", "vxlan"}, {"kvm", "kvm_intel"},
		{"irqbypass", "kvm"}, {"virtio", "virtio_net"}, {"virtio_ring", "virtio_net"},
		{"failover", "net_failover"}, {"net_failover", "virtio_net"},
	} {
		before(t, got, d[0], d[1])
	}
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Errorf("%s planned twice: %v", n, got)
		}
		seen[n] = true
	}
}

func TestPlanSkipsLoadedAndBuiltin(t *testing.T) {
	db := testModuleDB(t)
	p := db.plan([]string{"bridge", "af_packet", "unix"}, map[string]bool{"llc": true})
	if got := planNames(p); !slices.Equal(got, []string{"stp", "bridge"}) {
		t.Errorf("order = %v", got)
	}
	if !slices.Equal(p.builtin, []string{"af_packet", "unix"}) {
		t.Errorf("builtin = %v", p.builtin)
	}
	if p := db.plan([]string{"bridge"}, map[string]bool{"bridge": true}); len(p.order) != 0 {
		t.Errorf("loaded module planned again: %v", planNames(p))
	}
}

func TestPlanMissing(t *testing.T) {
	db := testModuleDB(t)
	// A dependency the image lacks: drop stp from the database.
	delete(db.mods, "stp")
	p := db.plan([]string{"nosuch", "bridge", "tun"}, nil)
	if got := planNames(p); !slices.Equal(got, []string{"tun"}) {
		t.Errorf("order = %v; want only tun", got)
	}
	want := []string{"nosuch: not in the image", "bridge: needs stp, which is not in the image"}
	if !slices.Equal(p.missing, want) {
		t.Errorf("missing = %q\nwant %q", p.missing, want)
	}
}

func TestPlanCycle(t *testing.T) {
	db := &DB{mods: map[string]*Module{
		"a": {Name: "a", Path: "a.ko", Deps: []string{"b"}},
		"b": {Name: "b", Path: "b.ko", Deps: []string{"a"}},
	}, builtin: map[string]bool{}}
	p := db.plan([]string{"a"}, nil)
	if len(p.missing) != 1 || !strings.Contains(p.missing[0], "cycle") {
		t.Errorf("missing = %v", p.missing)
	}
}

// fakeInsert records the modules loaded and checks that every module's
// dependencies were in before it.
type fakeInsert struct {
	db      *DB
	mu      sync.Mutex
	in      map[string]bool
	order   []string
	fail    map[string]error
	params  map[string]string
	running atomic.Int32
	peak    atomic.Int32
	errs    []string
}

func (f *fakeInsert) insert(path, params string) error {
	name := Name(path)
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.db.mods[name].Deps {
		if !f.in[d] {
			f.errs = append(f.errs, fmt.Sprintf("%s loaded before its dependency %s", name, d))
		}
	}
	if err := f.fail[name]; err != nil {
		return err
	}
	f.in[name] = true
	f.order = append(f.order, name)
	if f.params == nil {
		f.params = map[string]string{}
	}
	f.params[name] = params
	return nil
}

func newFakeLoader(t *testing.T, parallel int) (*Loader, *fakeInsert) {
	db := testModuleDB(t)
	f := &fakeInsert{db: db, in: map[string]bool{}, fail: map[string]error{}}
	return &Loader{db: db, loaded: map[string]bool{}, insert: f.insert, parallel: parallel}, f
}

func TestLoaderLoadsInDependencyOrder(t *testing.T) {
	for _, par := range []int{1, 4} {
		l, f := newFakeLoader(t, par)
		done, errs := l.Load(BaseModules())
		// xfrm_user etc. are in the fixture; the rest of BaseModules
		// (af_packet) is built in.
		for _, e := range errs {
			t.Errorf("parallel %d: %v", par, e)
		}
		for _, e := range f.errs {
			t.Errorf("parallel %d: %s", par, e)
		}
		if len(done) != len(f.order) || !l.loaded["bridge"] || !l.loaded["llc"] {
			t.Errorf("parallel %d: loaded %v, kernel got %v", par, done, f.order)
		}
		if par == 1 && f.peak.Load() != 1 {
			t.Errorf("parallel 1 ran %d at once", f.peak.Load())
		}
		if par == 4 && f.peak.Load() < 2 {
			t.Errorf("parallel 4 never ran two at once")
		}
		// Loading again does nothing.
		if done, errs := l.Load(BaseModules()); len(done) != 0 || len(errs) != 0 {
			t.Errorf("second load: %v %v", done, errs)
		}
	}
}

// A Load whose module sleeps in its init (ahci waiting for its links)
// does not hold back another Load; both end with their modules loaded.
func TestLoaderLoadsDoNotWaitForEachOther(t *testing.T) {
	l, f := newFakeLoader(t, 1)
	release, entered := make(chan struct{}), make(chan struct{})
	fake := l.insert
	l.insert = func(path, params string) error {
		if Name(path) == "tun" {
			close(entered)
			<-release
		}
		return fake(path, params)
	}
	slow := make(chan []string)
	go func() {
		done, _ := l.Load([]string{"tun"})
		slow <- done
	}()
	<-entered
	fast := make(chan []string)
	go func() {
		done, _ := l.Load([]string{"bridge"})
		fast <- done
	}()
	select {
	case done := <-fast:
		if !slices.Contains(done, "bridge") {
			t.Errorf("second load while the first sleeps: %v, want bridge", done)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a load waited for another one's sleeping module")
	}
	select {
	case <-slow:
		t.Fatal("the sleeping module's load ended before its init returned")
	default:
	}
	close(release)
	if done := <-slow; !slices.Contains(done, "tun") {
		t.Errorf("first load: %v, want tun", done)
	}
	if !l.isLoaded("tun") || !l.isLoaded("bridge") {
		t.Errorf("loaded = %v, want tun and bridge", l.loaded)
	}
	for _, e := range f.errs {
		t.Error(e)
	}
}

// Modules that bind no devices skip the kernel's wait for all async
// work; drivers (a device alias in modules.alias) keep their
// synchronous probe.
func TestLoaderAsyncProbeOnlyWithoutDevices(t *testing.T) {
	l, f := newFakeLoader(t, 2)
	if _, errs := l.Load([]string{"bridge", "tun", "virtio_pci", "button"}); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string]string{"bridge": "async_probe", "llc": "async_probe", "tun": "async_probe", "virtio_pci": "", "button": ""} {
		if got, ok := f.params[name]; !ok || got != want {
			t.Errorf("%s loaded with %q (loaded: %v), want %q", name, got, ok, want)
		}
	}
}

// IFB and dummy are loaded without the links they would otherwise make
// at once.
func TestLoaderModuleParams(t *testing.T) {
	l, f := newFakeLoader(t, 2)
	if _, errs := l.Load([]string{"ifb", "dummy", "sch_tbf"}); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string]string{"ifb": "async_probe numifbs=0", "dummy": "async_probe numdummies=0", "sch_tbf": "async_probe"} {
		if got := f.params[name]; got != want {
			t.Errorf("%s loaded with %q, want %q", name, got, want)
		}
	}
}

func TestLoaderFailures(t *testing.T) {
	l, f := newFakeLoader(t, 2)
	f.fail["stp"] = unix.ENOEXEC
	f.fail["tun"] = unix.EEXIST // already loaded is fine
	done, errs := l.Load([]string{"8021q", "bridge", "tun", "veth", "nosuch"})
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	slices.Sort(msgs)
	want := []string{
		"8021q: not loaded because garp failed",
		"bridge: not loaded because stp failed",
		"garp: not loaded because stp failed",
		"nosuch: not in the image",
		"stp: exec format error",
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if !slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, unix.ENOEXEC) }) {
		t.Error("the insert error is not wrapped")
	}
	slices.Sort(done)
	if !slices.Equal(done, []string{"llc", "mrp", "veth"}) {
		t.Errorf("loaded %v", done)
	}
	if !l.loaded["tun"] || l.loaded["stp"] || l.loaded["bridge"] {
		t.Errorf("loaded set %v", l.loaded)
	}
}

func TestOpenWithoutFiles(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p := db.plan([]string{"bridge"}, nil); len(p.missing) != 1 {
		t.Errorf("plan in an empty image: %+v", p)
	}
}

// Dependencies is what a Load would insert before the named modules;
// DriversFor the drivers a device still lacks.
func TestDependenciesAndDriversFor(t *testing.T) {
	l, _ := newFakeLoader(t, 2)
	deps := l.Dependencies([]string{"bridge"})
	if slices.Contains(deps, "bridge") || !slices.Contains(deps, "llc") || !slices.Contains(deps, "stp") {
		t.Errorf("Dependencies(bridge) = %v, want llc and stp without bridge", deps)
	}
	const virtio = "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"
	if got := l.DriversFor(virtio); !slices.Equal(got, []string{"virtio_pci"}) {
		t.Errorf("DriversFor before = %v, want [virtio_pci]", got)
	}
	if l.isLoaded("virtio_pci") || l.isLoaded("llc") {
		t.Fatal("asking loaded something")
	}
	l.Load([]string{"virtio_pci", "bridge"})
	if got := l.DriversFor(virtio); len(got) != 0 {
		t.Errorf("DriversFor after loading = %v, want none", got)
	}
	if got := l.Dependencies([]string{"bridge"}); len(got) != 0 {
		t.Errorf("Dependencies after loading = %v, want none", got)
	}
}
