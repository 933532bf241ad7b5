package e2e

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/image"
	"github.com/nucbox/nucbox/internal/configsig"
	"github.com/nucbox/nucbox/test/harness"
)

// Boots from firmware take longer than direct kernel boots: OVMF, the
// boot loader and reading a 20 MiB image from a USB stick or over TFTP
// come first, all under TCG.
const (
	firmwareReadyTimeout = 6 * time.Minute
	// A failed trial boot: the bad kernel panics, waits panic= seconds,
	// and the firmware starts over.
	rollbackTimeout = 10 * time.Minute
)

// usbConfig is a box with the TLS API on a known token, booted from the
// USB image.
const usbConfig = "hostname: stick\n" + apiUplink

// stickImage builds the USB disk image of cfg and copies it to a fresh
// file of size bytes, the way it would be flashed to a bigger stick: the
// box must grow its data partition to the end.
func stickImage(t *testing.T, cfg string, size int64, args ...string) string {
	t.Helper()
	img := harness.BuildImage(t, harness.WriteConfig(t, "stick.yaml", cfg), harness.BuildArgs(append([]string{"--disk", "512M"}, args...)...))
	src := filepath.Join(img.Dir, image.DiskName)
	dst := filepath.Join(t.TempDir(), "stick.img")
	if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying the disk image: %v\n%s", err, out)
	}
	if err := os.Truncate(dst, size); err != nil {
		t.Fatal(err)
	}
	return dst
}

// bootStick boots a disk image under OVMF from USB, with the API
// forwarded and reboots kept in the same QEMU (EFI variables and the
// disk live on).
func bootStick(t *testing.T, disk string, opts ...func(*harness.Options)) *harness.Machine {
	return bootStickVars(t, disk, filepath.Join(t.TempDir(), "vars.fd"), opts...)
}

// bootStickVars is bootStick with the EFI variables in vars, so that a
// later QEMU on the same stick boots the same machine again.
func bootStickVars(t *testing.T, disk, vars string, opts ...func(*harness.Options)) *harness.Machine {
	o := harness.Options{
		Firmware:    harness.OVMF,
		EFIVars:     vars,
		Drives:      []harness.Drive{{Path: disk, If: "usb", BootIndex: 1}},
		NICs:        []harness.NIC{{User: &harness.UserNet{Forward: []harness.Forward{{GuestPort: 8443}}}}},
		AllowReboot: true,
	}
	for _, f := range opts {
		f(&o)
	}
	return harness.Boot(t, o)
}

// noHardwareEntropy boots a machine as a hypervisor's default CPU model
// or an older board would: no RDRAND, no virtio-rng.
func noHardwareEntropy(o *harness.Options) { o.CPU, o.NoRNG = "qemu64", true }

// entropyBootBound is how long a boot may take, from QEMU's start (or the
// reboot) to the ready line, with no hardware entropy: the pool must not
// hold it up.
const entropyBootBound = 30 * time.Second

// checkEntropyBoot checks that a boot with no hardware entropy was ready
// within entropyBootBound of since, that the ready summary tells when the
// pool became ready (before ready), and how the seed was used.
func checkEntropyBoot(t *testing.T, which string, ri harness.ReadyInfo, since time.Time, wantSeed string) {
	t.Helper()
	took := time.Since(since)
	t.Logf("%s boot: ready %.1f s after start; pool ready at kernel %d ms, ready at %d ms, seed %s",
		which, took.Seconds(), ri.EntropyReadyMS, ri.ReadyMS, ri.EntropySeed)
	if took > entropyBootBound {
		t.Errorf("%s boot: ready %.1f s after start, want within %s with no hardware entropy", which, took.Seconds(), entropyBootBound)
	}
	if ri.EntropyReadyMS <= 0 || ri.EntropyReadyMS > ri.ReadyMS {
		t.Errorf("%s boot: entropy_ready_ms %d, want 0 < it <= ready_ms %d", which, ri.EntropyReadyMS, ri.ReadyMS)
	}
	if ri.EntropySeed != wantSeed {
		t.Errorf("%s boot: entropy_seed %q, want %q", which, ri.EntropySeed, wantSeed)
	}
	if ri.Network == nil || len(ri.Network.Addresses) == 0 {
		t.Errorf("%s boot: no DHCP lease in the ready summary", which)
	}
}

// persistConfig is usbConfig with two containers: keeper's volume is on
// the data partition, scratch needs nothing there (its state directory
// is elsewhere, in RAM), so that a box without its data partition holds
// the one and runs the other.
const persistConfig = usbConfig + `state-dir: /srv/scratch
containers:
  - name: keeper
    image: oci-layout:` + stickBusybox + `
    command: [sleep, "100000"]
    volumes: [{source: /var/lib/nucbox/keep, target: /keep}]
    stop-timeout: 1s
  - name: scratch
    image: oci-layout:` + stickBusybox + `
    command: [sleep, "100000"]
    stop-timeout: 1s
`

// stickBusybox is where the stick image carries the containers' image:
// not under the data partition's mount point, which hides what the
// image has there.
const stickBusybox = "/usr/share/e2e/busybox"

// TestUSBImagePersists boots the USB disk image under UEFI: the box
// formats and grows its data partition on the first boot, a file written
// there and the config survive a reboot, and the second boot takes its
// config from the data partition and keeps the first boot's log. Then
// the stick is damaged between boots, as a torn write or a bad flash
// chip would: with its primary superblock zeroed the third boot repairs
// it from a backup and keeps the file; with every superblock destroyed
// the fourth gets ready without it, writes nothing to it and holds the
// container that needs it (see checkRepairedBoot, checkDestroyedBoot).
func TestUSBImagePersists(t *testing.T) {
	harness.Require(t)
	disk := stickImage(t, persistConfig, 1<<30, "--add-file", stickBusybox+"="+busyboxLayout(t))
	vars := filepath.Join(t.TempDir(), "vars.fd")
	m := bootStickVars(t, disk, vars, noHardwareEntropy)

	m.MustExpect(firmwareReadyTimeout, `nucbox: data partition: \S+ formatted ext4`)
	r1 := m.ExpectReady(firmwareReadyTimeout)
	checkEntropyBoot(t, "first", r1, m.Started, "none")
	if r1.ConfigSource != "/etc/nucbox/config.yaml" {
		t.Errorf("first boot's config source %q, want the baked config", r1.ConfigSource)
	}
	openShell(t, m)
	out, err := m.Shell(shellTimeout, "echo kept-$((6*7)) > /var/lib/nucbox/probe.txt && sync && grep ' /var/lib/nucbox ' /proc/mounts && cat /sys/class/block/$(basename $(grep ' /var/lib/nucbox ' /proc/mounts | cut -d' ' -f1))/size")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, " ext4 ") {
		t.Fatalf("the state directory is not an ext4 mount:\n%s", out)
	}
	// Grown to the end of the 1 GiB stick: more than the 512 MiB image
	// minus the ESP, in 512-byte sectors.
	var sectors int64
	for _, f := range strings.Fields(out) {
		fmt.Sscan(f, &sectors)
	}
	if sectors*512 < 700<<20 {
		t.Errorf("data partition is %d MiB, want it grown to fill the 1 GiB stick", sectors*512>>20)
	}

	rebootAt := time.Now()
	if err := m.Send("reboot\n"); err != nil {
		t.Fatal(err)
	}
	m.MustExpect(firmwareReadyTimeout, `nucbox: data partition: \S+ mounted at /var/lib/nucbox`)
	// The machine restarts in place, so the second boot's bound runs
	// from the reboot command: it includes the first boot's shutdown.
	r2 := m.ExpectReady(firmwareReadyTimeout)
	checkEntropyBoot(t, "second", r2, rebootAt, "credited")
	if r2.ConfigSource != "/var/lib/nucbox/config/last-good.yaml" || r2.Config != r1.Config {
		t.Errorf("second boot's config %s from %q, want %s from the data partition", r2.Config, r2.ConfigSource, r1.Config)
	}
	// A box booted from its stick marks its slot good after ready; PID
	// 1's memory stays as it was at ready from then on (this opens the
	// console shell).
	checkRSSFlat(t, m, r2)
	out, err = m.Shell(shellTimeout, "cat /var/lib/nucbox/probe.txt; test -d /var/lib/nucbox/keep && echo keeper-volume-made; grep -c 'nucbox: ready' /var/lib/nucbox/logs/boot.log.1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kept-42") {
		t.Errorf("the file written before the reboot is gone:\n%s", out)
	}
	// The positive control of the last boot's check that nothing is
	// made under the mount point: a running keeper makes its volume.
	if !strings.Contains(out, "keeper-volume-made") {
		t.Errorf("keeper's volume is not on the data partition:\n%s", out)
	}
	if !strings.Contains(out, "\n1") {
		t.Errorf("the first boot's log (boot.log.1) has no ready line:\n%s", out)
	}
	second := m.Output()[strings.LastIndex(m.Output(), "nucbox: starting as PID 1"):]
	if strings.Contains(second, "formatted") {
		t.Error("the second boot formatted the data partition again")
	}
	// The reboot unmounted the data partition cleanly.
	if strings.Contains(second, "recovering journal") {
		t.Error("the data partition's journal needed recovery after an orderly reboot")
	}
	powerOff(t, m)

	checkRepairedBoot(t, disk, vars)
	checkDestroyedBoot(t, disk, vars)
}

// powerOff presses the power button and waits for QEMU to exit: the
// stick's file is only changed while no QEMU has it open.
func powerOff(t *testing.T, m *harness.Machine) {
	t.Helper()
	if err := m.Powerdown(); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitExit(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
}

// dataOutcome is the console's one line on the data partition, mounted
// or not: the test waits for whichever comes, so that the wrong one
// fails it at once.
const dataOutcome = `nucbox: data partition: (\S+ ready in .*|.*; workloads that need it are held, the box runs on without it)$`

// checkRepairedBoot zeroes the data partition's primary superblock and
// boots the stick: the box must not format it, but repair it from a
// backup superblock, keep the file written on the first boot, and say
// so on the console and in its status.
func checkRepairedBoot(t *testing.T, disk, vars string) {
	part := dataPart(t, disk)
	part.write(t, 1024, make([]byte, 1024))
	if part.superblock(t, 1024) != nil {
		t.Fatal("the primary superblock still reads after zeroing it")
	}
	before := part.hash(t)

	m := bootStickVars(t, disk, vars)
	line := m.MustExpect(firmwareReadyTimeout, dataOutcome)[1]
	remote, _ := apiReady(t, m, firmwareReadyTimeout)
	if !regexp.MustCompile(`ready in .* mounted at /var/lib/nucbox .*; primary superblock damaged, repaired from backup at block [1-9]\d*`).MatchString(line) {
		t.Errorf("the console's data partition line %q does not say it was repaired from a backup", line)
	}
	if strings.Contains(m.Output(), "formatted ext4") {
		t.Error("the box formatted a data partition whose primary superblock was zeroed")
	}
	bin := harness.Nucbox(t)
	st := pollStatus(t, bin, remote, "the status with the data partition", time.Minute, func(st *api.Status) bool { return st.Data != nil })
	if d := st.Data; d.State != api.DataMounted || d.RepairedFrom == 0 || !strings.Contains(d.Note, "repaired from backup at block") ||
		d.FS != "ext4" || d.Free <= 0 || d.Size < 600<<20 {
		t.Errorf("status data partition %+v; want mounted, repaired from a backup, with its size and free space", *d)
	}
	stdout, _, _ := cli(t, bin, append([]string{"status"}, remote...)...)
	if !regexp.MustCompile(`(?m)^data +/dev/\S+ on /var/lib/nucbox, ext4, .* free; primary superblock damaged, repaired from backup at block \d+`).MatchString(stdout) {
		t.Errorf("nucbox status does not show the repaired data partition:\n%s", stdout)
	}
	openShell(t, m)
	if out := mustShell(t, m, "cat /var/lib/nucbox/probe.txt"); !strings.Contains(out, "kept-42") {
		t.Errorf("the file written on the first boot is gone after the repair:\n%s", out)
	}
	powerOff(t, m)
	// The positive control for the last boot's unchanged checksum: this
	// boot's repair wrote the primary superblock back, and the hash sees it.
	if part.hash(t) == before {
		t.Error("the partition's hash did not change although e2fsck repaired it")
	}
	if part.superblock(t, 1024) == nil {
		t.Error("no primary superblock after the repair")
	}
}

// checkDestroyedBoot overwrites every superblock of the data partition,
// the primary and each backup, and boots the stick: the box must get
// ready without the data partition, leave it exactly as it was (same
// hash after the boot), say why on the console and in its status, hold
// keeper, whose volume is on it, and run scratch, which does not need it.
func checkDestroyedBoot(t *testing.T, disk, vars string) {
	part := dataPart(t, disk)
	locs := part.superblockLocations(t)
	for _, off := range locs {
		part.write(t, off, make([]byte, 1024))
	}
	for _, off := range locs {
		if part.superblock(t, off) != nil {
			t.Fatalf("a superblock still reads at byte %d", off)
		}
	}
	// Not blank, or formatting it would be right.
	if part.zeros(t, 1<<20) {
		t.Fatal("the partition's first MiB is zeros after destroying its superblocks")
	}
	before := part.hash(t)

	m := bootStickVars(t, disk, vars)
	line := m.MustExpect(firmwareReadyTimeout, dataOutcome)[1]
	if !regexp.MustCompile(`^/dev/\S+: no usable superblock: .*: not mounted, not formatted; workloads that need it are held, the box runs on without it$`).MatchString(line) {
		t.Errorf("the console's data partition line %q does not say it is neither mounted nor formatted and what is held", line)
	}
	remote, _ := apiReady(t, m, firmwareReadyTimeout)
	if strings.Contains(m.Output(), "formatted ext4") {
		t.Error("the box formatted a data partition whose superblocks were destroyed")
	}
	bin := harness.Nucbox(t)
	st := pollStatus(t, bin, remote, "scratch running beside the held keeper", 2*time.Minute, func(st *api.Status) bool {
		for _, w := range st.Workloads {
			if w.Name == "scratch" && w.State == "running" {
				return true
			}
		}
		return false
	})
	if d := st.Data; d == nil || d.State != api.DataNotMounted || !strings.Contains(d.Reason, "no usable superblock") ||
		!strings.Contains(d.Reason, "not formatted") || d.Device == "" {
		t.Errorf("status data partition %+v; want not mounted, not formatted, no usable superblock", d)
	}
	var keeper *api.Workload
	for i, w := range st.Workloads {
		if w.Name == "keeper" {
			keeper = &st.Workloads[i]
		}
	}
	if keeper == nil || !keeper.Held || keeper.State != "stopped" || keeper.PID != 0 ||
		!strings.Contains(keeper.LastError, "/var/lib/nucbox/keep") || !strings.Contains(keeper.LastError, "not mounted") {
		t.Errorf("keeper %+v; want held, stopped, with the data partition as the reason", keeper)
	}
	stdout, _, _ := cli(t, bin, append([]string{"status"}, remote...)...)
	for _, re := range []string{`(?m)^data +NOT MOUNTED: /dev/\S+: no usable superblock.*not formatted; workloads that need it are held$`,
		`(?m)^container +keeper +stopped \(held\) .*/var/lib/nucbox/keep`, `(?m)^container +scratch +running `} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("nucbox status does not match %s:\n%s", re, stdout)
		}
	}
	_, stderr, code := cli(t, bin, append([]string{"start", "keeper"}, remote...)...)
	if code == 0 || !strings.Contains(stderr, "409") || !strings.Contains(stderr, "not mounted") {
		t.Errorf("nucbox start keeper: exit %d\n%s; want refused while the data partition is not mounted", code, stderr)
	}
	// Nothing was made in the data partition's place: no volume, no
	// state, not even an empty directory under the mount point.
	openShell(t, m)
	out := mustShell(t, m, "ls -A /var/lib/nucbox | wc -l; grep ' /var/lib/nucbox ' /proc/mounts; echo end")
	if f := strings.Fields(out); len(f) == 0 || f[0] != "0" || strings.Contains(out, "ext4") {
		t.Errorf("the mount point holds files or the data partition is mounted:\n%s", out)
	}
	powerOff(t, m)
	if part.hash(t) != before {
		t.Error("the boot wrote to the data partition it refused")
	}
}

// stickPart is the data partition inside a stick image file.
type stickPart struct {
	path      string
	off, size int64
}

// dataPart finds the nucbox-data partition in the stick's GPT.
func dataPart(t *testing.T, disk string) stickPart {
	t.Helper()
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, 512)
	if _, err := f.ReadAt(hdr, 512); err != nil || string(hdr[:8]) != "EFI PART" {
		t.Fatalf("no GPT header in %s: %v", disk, err)
	}
	le := binary.LittleEndian
	entries, n, esize := int64(le.Uint64(hdr[72:])), int64(le.Uint32(hdr[80:])), int64(le.Uint32(hdr[84:]))
	e := make([]byte, esize)
	for i := int64(0); i < n; i++ {
		if _, err := f.ReadAt(e, entries*512+i*esize); err != nil {
			t.Fatal(err)
		}
		u := make([]uint16, 36)
		for j := range u {
			u[j] = le.Uint16(e[56+2*j:])
		}
		if strings.TrimRight(string(utf16.Decode(u)), "\x00") == "nucbox-data" {
			first, last := int64(le.Uint64(e[32:])), int64(le.Uint64(e[40:]))
			return stickPart{path: disk, off: first * 512, size: (last - first + 1) * 512}
		}
	}
	t.Fatalf("no nucbox-data partition in %s", disk)
	return stickPart{}
}

func (p stickPart) read(t *testing.T, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(p.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, p.off+off); err != nil {
		t.Fatal(err)
	}
	return b
}

func (p stickPart) write(t *testing.T, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p.path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, p.off+off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// hash is the SHA-256 of the whole partition.
func (p stickPart) hash(t *testing.T) string {
	t.Helper()
	f, err := os.Open(p.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, p.off, p.size)); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// zeros reports whether the partition's first n bytes are all zero.
func (p stickPart) zeros(t *testing.T, n int) bool {
	for _, c := range p.read(t, 0, n) {
		if c != 0 {
			return false
		}
	}
	return true
}

// ext4SB is what the test needs from an ext4 superblock.
type ext4SB struct {
	blockSize, blocks, perGroup, firstData int64
	group                                  int64 // s_block_group_nr: which group's copy this is
	sparse, sparse2                        bool
	backupGroups                           [2]int64 // sparse_super2's two backups
}

// superblock parses the superblock at off, nil without one.
func (p stickPart) superblock(t *testing.T, off int64) *ext4SB {
	b := p.read(t, off, 1024)
	le := binary.LittleEndian
	if le.Uint16(b[0x38:]) != 0xEF53 || le.Uint32(b[0x18:]) > 6 {
		return nil
	}
	sb := &ext4SB{
		blockSize: 1024 << le.Uint32(b[0x18:]),
		blocks:    int64(le.Uint32(b[0x4:])),
		perGroup:  int64(le.Uint32(b[0x20:])),
		firstData: int64(le.Uint32(b[0x14:])),
		group:     int64(le.Uint16(b[0x5A:])),
		sparse:    le.Uint32(b[0x64:])&0x1 != 0,   // ro_compat sparse_super
		sparse2:   le.Uint32(b[0x5C:])&0x200 != 0, // compat sparse_super2
	}
	if le.Uint32(b[0x60:])&0x80 != 0 { // incompat 64bit
		sb.blocks |= int64(le.Uint32(b[0x150:])) << 32
	}
	sb.backupGroups = [2]int64{int64(le.Uint32(b[0x24C:])), int64(le.Uint32(b[0x250:]))}
	return sb
}

// superblockLocations are the byte offsets of the primary superblock
// and of every backup, computed from the primary's geometry the way
// mke2fs places them. Each is checked to hold the copy of its group,
// and every other group to hold none, so that a location missed here
// fails the test rather than leaving a backup for the box to find.
func (p stickPart) superblockLocations(t *testing.T) []int64 {
	t.Helper()
	sb := p.superblock(t, 1024)
	if sb == nil {
		t.Fatal("no primary superblock to compute the backups from")
	}
	groups := (sb.blocks - sb.firstData + sb.perGroup - 1) / sb.perGroup
	has := func(g int64) bool {
		switch {
		case g <= 1:
			return g == 0 || !sb.sparse2 || sb.backupGroups[0] == 1 || sb.backupGroups[1] == 1
		case sb.sparse2:
			return g == sb.backupGroups[0] || g == sb.backupGroups[1]
		case !sb.sparse:
			return true
		}
		for _, base := range []int64{3, 5, 7} {
			n := g
			for n%base == 0 {
				n /= base
			}
			if n == 1 {
				return true
			}
		}
		return false
	}
	locs := []int64{1024}
	for g := int64(1); g < groups; g++ {
		off := (g*sb.perGroup + sb.firstData) * sb.blockSize
		got := p.superblock(t, off)
		switch {
		case has(g) && (got == nil || got.group != g):
			t.Fatalf("group %d: no backup superblock at byte %d where mke2fs puts it (%+v)", g, off, got)
		case !has(g) && got != nil:
			t.Fatalf("group %d: a superblock at byte %d where none was expected", g, off)
		case has(g):
			locs = append(locs, off)
		}
	}
	if len(locs) < 3 {
		t.Fatalf("only %d superblocks in %d groups of %+v: the filesystem is not the one the test expects", len(locs), groups, *sb)
	}
	t.Logf("superblocks at %v (%d groups of %d blocks of %d bytes)", locs, groups, sb.perGroup, sb.blockSize)
	return locs
}

// rackConfigs serves configs by MAC, each with its signature beside it
// (MAC.yaml.sig), as a lab's provisioning server does.
type rackConfigs struct {
	mu      sync.Mutex
	configs map[string]string // by MAC
	sigs    map[string][]byte // by MAC
	hits    map[string]int    // by path
}

func (r *rackConfigs) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	name, ok := strings.CutPrefix(req.URL.Path, "/configs/")
	mac, isSig := strings.CutSuffix(name, ".yaml.sig")
	if !isSig {
		mac, ok = strings.CutSuffix(name, ".yaml")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits[req.URL.Path]++
	cfg, found := r.configs[mac]
	if !ok || !found {
		http.NotFound(w, req)
		return
	}
	if isSig {
		w.Write(r.sigs[mac])
		return
	}
	fmt.Fprint(w, cfg)
}

// set serves cfg for mac with signed as its signature.
func (r *rackConfigs) set(mac, cfg string, sig []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.configs[mac] = cfg
	r.sigs[mac] = sig
}

func (r *rackConfigs) hitCount(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

// rackKey is the rack's config key pair. The seed is fixed so that the
// image, which carries the public key, is built once and cached; the
// public key's file is named by its fingerprint, which the image cache
// sees in the build arguments.
func rackKey(t *testing.T) (pubFile string, priv ed25519.PrivateKey) {
	seed := sha256.Sum256([]byte("nucbox e2e: the PXE rack's config key"))
	priv = ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	pem, err := configsig.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubFile = filepath.Join(harness.CacheDir(t, "keys"), "config-"+configsig.Fingerprint(pub)+".pub")
	if err := os.WriteFile(pubFile, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return pubFile, priv
}

// pxePort is where the config server listens on the host's loopback;
// guests reach it through the user network's gateway, 10.0.2.2. It is
// fixed so that the bundle (which has the URL in its iPXE script) is
// built once and cached.
const pxePort = 18473

// TestPXERack boots two machines with different MACs from one PXE bundle
// over TFTP: each fetches its own config by MAC, signed with the key the
// image carries, and gets ready with its own hostname. A third machine is
// served a config whose signature does not match: it refuses it at once
// and enters maintenance mode. A fourth machine that
// cannot reach the config server enters maintenance mode instead of
// hanging, and leaves it by itself once the server is back with its
// config.
func TestPXERack(t *testing.T) {
	harness.Require(t)
	rack := &rackConfigs{configs: map[string]string{}, sigs: map[string][]byte{}, hits: map[string]int{}}
	// serve starts the config server; its stop makes the URL unreachable
	// (connection refused), as a provisioning server that is down.
	serve := func() (stop func()) {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", pxePort))
		if err != nil {
			t.Fatalf("config server: %v", err)
		}
		srv := &http.Server{Handler: rack}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return func() { srv.Close() }
	}
	stop := serve()

	pubFile, priv := rackKey(t)
	fp := configsig.Fingerprint(priv.Public().(ed25519.PublicKey))
	rackCfg := func(host string) string {
		return "hostname: " + host + "\nuplink:\n  interface: auto\n  bridge: br0\n  ipv4: dhcp\n"
	}
	signed := func(cfg string) []byte { return configsig.Sign(priv, []byte(cfg)) }
	macs := []string{"52:54:00:00:00:01", "52:54:00:00:00:02"}
	rack.set(macs[0], rackCfg("rack-1"), signed(rackCfg("rack-1")))
	rack.set(macs[1], rackCfg("rack-2"), signed(rackCfg("rack-2")))
	// Changed on the way: the signature is the one of the config as
	// written, the server hands out another.
	forged := "52:54:00:00:00:03"
	rack.set(forged, rackCfg("forged"), signed(rackCfg("rack-3")))

	// The image's own config is never used by these machines.
	img := harness.BuildImage(t, harness.WriteConfig(t, "pxe.yaml", rackCfg("baked")),
		harness.BuildArgs("--pxe", "--config-url", fmt.Sprintf("http://10.0.2.2:%d/configs/${mac}.yaml", pxePort), "--config-key", pubFile))
	bundle := filepath.Join(img.Dir, image.PXEDir)
	boot := func(mac string) *harness.Machine {
		return harness.Boot(t, harness.Options{
			Name: "pxe-" + mac[len(mac)-2:],
			Boot: "n",
			NICs: []harness.NIC{{MAC: mac, User: &harness.UserNet{TFTP: bundle, BootFile: "boot.ipxe"}}},
		})
	}

	var wg sync.WaitGroup
	for i, mac := range macs {
		m := boot(mac)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ri, err := m.WaitReady(firmwareReadyTimeout)
			if err != nil {
				t.Errorf("%s: %v", mac, err)
				return
			}
			want := fmt.Sprintf("rack-%d", i+1)
			if ri.Hostname != want || !strings.Contains(ri.ConfigSource, "/configs/"+mac+".yaml") {
				t.Errorf("%s: ready as %q with config from %q; want %s from its MAC's URL", mac, ri.Hostname, ri.ConfigSource, want)
			}
			if !strings.Contains(m.Output(), "nucbox: config: http://10.0.2.2:"+fmt.Sprint(pxePort)+"/configs/"+mac+".yaml: signature verified with the image's config key "+fp) {
				t.Errorf("%s: the console does not say that the signature was checked", mac)
			}
		}()
	}
	wg.Wait()

	// Booted after the others, when they idle, rather than beside them:
	// three emulated machines on a small host slow each other down more
	// than one more boot costs.
	bad := boot(forged)
	url := fmt.Sprintf("http://10.0.2.2:%d/configs/%s.yaml", pxePort, forged)
	match := bad.MustExpect(firmwareReadyTimeout, `nucbox: (ready .*|failed: .*)$`)
	if !strings.HasPrefix(match[1], "failed: config: "+url+": the signature "+url+".sig does not match") {
		t.Errorf("%s: %s\nwant the config refused for its bad signature", forged, match[1])
	}
	bad.MustExpect(time.Minute, `nucbox: maintenance mode: no valid config`)
	// Refused at once: one fetch of each, no retries.
	if c, s := rack.hitCount("/configs/"+forged+".yaml"), rack.hitCount("/configs/"+forged+".yaml.sig"); c != 1 || s != 1 {
		t.Errorf("%s: config fetched %d times, signature %d times; want once each", forged, c, s)
	}
	bad.Close()

	// The config server is down: the URL is unreachable, the box gives up
	// after its retries and enters maintenance mode. Then the server comes
	// back with a config for it, and the box picks it up by itself.
	stop()
	lost := "52:54:00:00:00:09"
	m := boot(lost)
	m.MustExpect(firmwareReadyTimeout, `nucbox: config: http://10\.0\.2\.2:\d+/configs/`+lost+`\.yaml: attempt 1: .*connection refused`)
	m.MustExpect(firmwareReadyTimeout, `nucbox: failed: config: http://10\.0\.2\.2:\d+/configs/`+lost+`\.yaml: gave up after`)
	m.MustExpect(time.Minute, `nucbox: maintenance mode: no valid config`)
	m.MustExpect(firmwareReadyTimeout, `nucbox: maintenance: waiting for a config`)
	rack.set(lost, rackCfg("rack-9"), signed(rackCfg("rack-9")))
	serve()
	ri := m.ExpectReady(3 * time.Minute)
	if ri.Hostname != "rack-9" {
		t.Errorf("left maintenance as %q, want rack-9", ri.Hostname)
	}
}
