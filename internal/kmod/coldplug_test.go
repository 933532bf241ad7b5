package kmod

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00", true},
		{"pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d000010D4sv00008086sd0000A01Fbc02sc00i00", false},
		{"acpi*:PNP0C0C:*", "acpi:PNP0C0C:", true},
		{"acpi*:PNP0C0C:*", "acpi:LNXPWRBN:", false},
		{"acpi*:LNXPWRBN:*", "acpi:LNXPWRBN:", true},
		{"of:N*T*Cfsl,imx*", "of:NspiTCfsl,imx6-spi", true},
		{"usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*", "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"x*", "x/y/z", true}, // '*' crosses '/' in fnmatch without FNM_PATHNAME
		{"[abc]x", "bx", true},
		{"[!abc]x", "bx", false},
		{"[^abc]x", "dx", true},
		{"[0-9A-F]z", "Cz", true},
		{"[0-9A-F]z", "cz", false},
		{"[]]x", "]x", true},
		{"[x", "[x", true}, // unterminated class is a literal '['
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{"*0085*", ",0000,0085,0100", true},
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c*", "xxaxxcxxbxx", false},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func testAliases(t *testing.T, keep func(string) bool) *aliasDB {
	t.Helper()
	f, err := os.Open("testdata/modules/modules.alias")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := parseModulesAlias(f, keep)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAliasMatch(t *testing.T) {
	a := testAliases(t, nil)
	for _, tc := range []struct {
		modalias string
		want     []string
	}{
		// An Intel NUC's I219 (e1000e) and I225 (igc), a Realtek board.
		{"pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00", []string{"e1000e"}},
		{"pci:v00008086d000015F3sv00008086sd00000000bc02sc00i00", []string{"igc"}},
		{"pci:v000010ECd00008168sv00001043sd00008677bc02sc00i00", []string{"r8169"}},
		// QEMU: the virtio PCI function, then the virtio net device on it.
		{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", []string{"virtio_pci"}},
		{"virtio:d00000001v00001AF4", []string{"virtio_net"}},
		{"virtio:d00000002v00001AF4", nil},
		{"acpi:LNXPWRBN:", []string{"button"}},
		{"acpi:PNP0C0C:PNP0C0C:", []string{"button"}},
		{"acpi:PNP0A03:", nil},
		{"input:b0019v0000p0001e0000-e0,1,k74,ramlsfw", []string{"evdev"}},
		{"cpu:type:x86,ven0000fam0006mod0055:feature:,0000,0001,0002,0085,00C0", []string{"kvm_intel"}},
		{"cpu:type:x86,ven0002fam0017mod0001:feature:,0000,0001,00C2", []string{"kvm_amd"}},
		{"platform:serial8250", nil},
	} {
		if got := a.match(tc.modalias); !slices.Equal(got, tc.want) {
			t.Errorf("match(%q) = %v, want %v", tc.modalias, got, tc.want)
		}
	}
}

func TestAliasKeepsOnlyImageModules(t *testing.T) {
	db := testModuleDB(t)
	a := testAliases(t, func(m string) bool { return db.mods[m] != nil })
	if got := a.match("cpu:type:x86,ven0002fam0017mod0001:feature:,00C2"); got != nil {
		t.Errorf("kvm_amd is not in the fixture image but matched: %v", got)
	}
	if got := a.match("acpi:LNXPWRBN:"); !slices.Equal(got, []string{"button"}) {
		t.Errorf("button: %v", got)
	}
}

func TestReadModaliases(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	write("pci0000:00/0000:00:03.0/modalias", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n")
	write("pci0000:00/0000:00:03.0/virtio0/modalias", "virtio:d00000001v00001AF4\n")
	write("LNXSYSTM:00/LNXPWRBN:00/modalias", "acpi:LNXPWRBN:\n")
	write("system/cpu/cpu0/modalias", "cpu:type:x86,ven0000:feature:,0085\n")
	write("system/cpu/cpu1/modalias", "cpu:type:x86,ven0000:feature:,0085\n")
	write("platform/empty/modalias", "\n")
	write("platform/notit/uevent", "MODALIAS=ignored\n")
	// A symlink loop, as sysfs has plenty of: must not be followed.
	if err := os.Symlink("..", filepath.Join(root, "pci0000:00/0000:00:03.0/subsystem")); err != nil {
		t.Fatal(err)
	}
	got := readModaliases(root)
	want := []string{
		"acpi:LNXPWRBN:",
		"cpu:type:x86,ven0000:feature:,0085",
		"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
		"virtio:d00000001v00001AF4",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseUevent(t *testing.T) {
	msg := "add@/devices/pci0000:00/0000:00:03.0/usb2/2-1/2-1:1.0\x00ACTION=add\x00DEVPATH=/devices/pci0000:00/0000:00:03.0/usb2/2-1/2-1:1.0\x00SUBSYSTEM=usb\x00MODALIAS=usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00\x00SEQNUM=1234\x00"
	a, m := parseUevent([]byte(msg))
	if a != "add" || m != "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00" {
		t.Errorf("parseUevent = %q, %q", a, m)
	}
	if a, m := parseUevent([]byte("remove@/x\x00ACTION=remove\x00")); a != "remove" || m != "" {
		t.Errorf("remove: %q, %q", a, m)
	}
	if a, _ := parseUevent([]byte("libudev\x00\xfe\xed\xca\xfeACTION=add\x00MODALIAS=x\x00")); a != "" {
		t.Errorf("a udev message was taken for the kernel's: %q", a)
	}
}

// TestColdplugRounds: a driver that reveals new devices (virtio_pci, the
// virtio devices on it) gets their drivers loaded in the next round.
func TestColdplugRounds(t *testing.T) {
	l, f := newFakeLoader(t, 2)
	l.sysDevices = t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(l.sysDevices, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	write("pci0000:00/0000:00:03.0/modalias", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n")
	write("LNXSYSTM:00/LNXPWRBN:00/modalias", "acpi:LNXPWRBN:\n")
	insert := l.insert
	l.insert = func(path, params string) error {
		if Name(path) == "virtio_pci" {
			write("pci0000:00/0000:00:03.0/virtio0/modalias", "virtio:d00000001v00001AF4\n")
		}
		return insert(path, params)
	}
	loaded, warnings := l.Coldplug()
	if len(warnings) > 0 || len(f.errs) > 0 {
		t.Fatalf("warnings %v, order errors %v", warnings, f.errs)
	}
	for _, m := range []string{"button", "virtio_pci", "virtio_net"} {
		if !slices.Contains(loaded, m) || !l.isLoaded(m) {
			t.Errorf("%s not loaded: %v", m, loaded)
		}
	}
	if again, _ := l.Coldplug(); len(again) != 0 {
		t.Errorf("a second scan loaded %v again", again)
	}
	if got, errs := l.LoadFor("virtio:d00000001v00001AF4"); len(got) != 0 || len(errs) != 0 {
		t.Errorf("hotplug of a device whose driver is in: %v %v", got, errs)
	}
}

// TestColdplugExcept: the skipped device's driver stays out until LoadFor
// asks for it, and the others load as with Coldplug.
func TestColdplugExcept(t *testing.T) {
	l, _ := newFakeLoader(t, 2)
	l.sysDevices = t.TempDir()
	for rel, ma := range map[string]string{
		"pci0000:00/0000:00:03.0/modalias": "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
		"LNXSYSTM:00/LNXPWRBN:00/modalias": "acpi:LNXPWRBN:",
	} {
		p := filepath.Join(l.sysDevices, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(ma+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	acpi := func(ma string) bool { return strings.HasPrefix(ma, "acpi:") }
	loaded, warnings := l.ColdplugExcept(acpi)
	if len(warnings) > 0 || !slices.Contains(loaded, "virtio_pci") {
		t.Fatalf("loaded %v, warnings %v: want virtio_pci", loaded, warnings)
	}
	if l.isLoaded("button") {
		t.Fatalf("button loaded for the skipped acpi:LNXPWRBN: (loaded %v)", loaded)
	}
	if got, errs := l.LoadFor("acpi:LNXPWRBN:"); !slices.Contains(got, "button") || len(errs) > 0 {
		t.Errorf("LoadFor the skipped device: %v %v, want button", got, errs)
	}
}

// TestColdplugRescansBelowLoaded: a later round walks only below the
// devices whose drivers the round before loaded, which is where those
// drivers add devices; one that appears elsewhere is hotplug's.
func TestColdplugRescansBelowLoaded(t *testing.T) {
	l, _ := newFakeLoader(t, 2)
	l.sysDevices = t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(l.sysDevices, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	write("pci0000:00/0000:00:03.0/modalias", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n")
	insert := l.insert
	l.insert = func(path, params string) error {
		if Name(path) == "virtio_pci" {
			write("pci0000:00/0000:00:03.0/virtio0/modalias", "virtio:d00000001v00001AF4\n")
			write("LNXSYSTM:00/LNXPWRBN:00/modalias", "acpi:LNXPWRBN:\n")
		}
		return insert(path, params)
	}
	loaded, _ := l.Coldplug()
	if !slices.Contains(loaded, "virtio_net") {
		t.Errorf("virtio_net, for the device below virtio_pci's, not loaded: %v", loaded)
	}
	if slices.Contains(loaded, "button") {
		t.Errorf("button loaded: the later round walked the whole tree again (%v)", loaded)
	}
	if got := outermost([]string{"/a/b", "/a", "/ab", "/a/b/c", "/a"}); !slices.Equal(got, []string{"/a", "/ab"}) {
		t.Errorf("outermost = %v, want [/a /ab]", got)
	}
}

// ColdplugUnder loads the drivers of the devices below the given
// directories and nothing else; the rest of the tree, loaded after,
// shows that the other device had a driver to load.
func TestColdplugUnder(t *testing.T) {
	l, _ := newFakeLoader(t, 2)
	l.sysDevices = t.TempDir()
	for rel, ma := range map[string]string{
		"pci0000:00/0000:00:03.0/modalias": "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
		"LNXSYSTM:00/LNXPWRBN:00/modalias": "acpi:LNXPWRBN:",
	} {
		p := filepath.Join(l.sysDevices, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(ma+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	loaded, warnings := l.ColdplugUnder([]string{filepath.Join(l.sysDevices, "LNXSYSTM:00")})
	if len(warnings) > 0 || !slices.Contains(loaded, "button") {
		t.Fatalf("loaded %v, warnings %v: want button", loaded, warnings)
	}
	if l.isLoaded("virtio_pci") {
		t.Fatalf("virtio_pci loaded for a device outside the given directory (loaded %v)", loaded)
	}
	if loaded, _ := l.ColdplugUnder(nil); len(loaded) > 0 {
		t.Errorf("no directories loaded %v", loaded)
	}
	if rest, _ := l.Coldplug(); !slices.Contains(rest, "virtio_pci") || slices.Contains(rest, "button") {
		t.Errorf("the whole tree after: %v, want virtio_pci alone", rest)
	}
}

// TestColdplugIndexed: with sysfs's bus and class indexes beside the
// device tree, the first round reads the devices they list and does not
// walk the tree: a device no index lists (the power button here) is not
// seen, a class device (input) is, and the later rounds still walk below
// what loaded (virtio_net on the virtio device that virtio_pci reveals).
// Without the indexes the walk finds the button.
func TestColdplugIndexed(t *testing.T) {
	sys := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(sys, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	link := func(rel, target string) {
		p := filepath.Join(sys, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write("devices/pci0000:00/0000:00:03.0/modalias", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n")
	write("devices/LNXSYSTM:00/LNXPWRBN:00/modalias", "acpi:LNXPWRBN:\n")
	write("devices/LNXSYSTM:00/LNXPWRBN:00/input/input0/modalias", "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw\n")
	link("bus/pci/devices/0000:00:03.0", "../../../devices/pci0000:00/0000:00:03.0")
	link("class/input/input0", "../../devices/LNXSYSTM:00/LNXPWRBN:00/input/input0")
	coldplug := func() []string {
		l, f := newFakeLoader(t, 2)
		l.sysDevices = filepath.Join(sys, "devices")
		insert := l.insert
		l.insert = func(path, params string) error {
			if Name(path) == "virtio_pci" {
				write("devices/pci0000:00/0000:00:03.0/virtio0/modalias", "virtio:d00000001v00001AF4\n")
			}
			return insert(path, params)
		}
		loaded, warnings := l.Coldplug()
		if len(warnings) > 0 || len(f.errs) > 0 {
			t.Fatalf("warnings %v, order errors %v", warnings, f.errs)
		}
		return loaded
	}
	loaded := coldplug()
	for _, m := range []string{"virtio_pci", "virtio_net", "evdev"} {
		if !slices.Contains(loaded, m) {
			t.Errorf("with the indexes: %s not loaded: %v", m, loaded)
		}
	}
	if slices.Contains(loaded, "button") {
		t.Errorf("with the indexes the tree was walked: button, which no index lists, loaded: %v", loaded)
	}
	for _, d := range []string{"bus", "class"} {
		if err := os.RemoveAll(filepath.Join(sys, d)); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(filepath.Join(sys, "devices/pci0000:00/0000:00:03.0/virtio0"))
	if loaded := coldplug(); !slices.Contains(loaded, "button") || !slices.Contains(loaded, "virtio_net") {
		t.Errorf("without the indexes the walk missed the button or virtio_net: %v", loaded)
	}
}
