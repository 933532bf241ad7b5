package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/image"
	"github.com/nucbox/nucbox/test/benchreport"
	"github.com/nucbox/nucbox/test/harness"
)

// rackBossConfig is box A of the rack tests, examples/rack.yaml's box: a
// static address on a segment with no other infrastructure, leases for
// the rack there (on-uplink), and network boots on that untagged segment
// (on-uplink) with configs from racks/ on its data partition.
const rackBossConfig = `hostname: rack-boss
uplink:
  interface: auto
  bridge: br0
  ipv4: {address: 192.168.60.1/24}
  probe: {disabled: true}
  dhcp-server: {range: 192.168.60.100-192.168.60.199, on-uplink: true}
pxe-server: {on-uplink: true, configs: racks}
`

// rackMachineConfig is a rack machine's config, as the boss serves it.
func rackMachineConfig(host string) string {
	return "hostname: " + host + "\nuplink:\n  interface: auto\n  bridge: br0\n  ipv4: dhcp\n  probe: {disabled: true}\n"
}

// rackMAC is rack machine i's MAC.
func rackMAC(i int) string { return fmt.Sprintf("52:54:00:00:70:%02x", i) }

// rackBoss boots box A from its USB stick under UEFI, so that it serves
// the kernel and initramfs of the unified kernel image it booted from,
// on a segment of its own; configs are written into its racks/ for the
// machines named by hosts (MAC index to host name).
func rackBoss(tb testing.TB, quiet bool, hosts map[int]string) (*harness.Machine, *harness.Segment) {
	tb.Helper()
	harness.Require(tb)
	img := harness.BuildImage(tb, harness.WriteConfig(tb, "rack-boss.yaml", rackBossConfig), harness.BuildArgs("--disk", "512M"))
	disk := filepath.Join(tb.TempDir(), "stick.img")
	if out, err := exec.Command("cp", "--sparse=always", filepath.Join(img.Dir, image.DiskName), disk).CombinedOutput(); err != nil {
		tb.Fatalf("copying the disk image: %v\n%s", err, out)
	}
	if err := os.Truncate(disk, 1<<30); err != nil {
		tb.Fatal(err)
	}
	seg := harness.NewSegment(tb, "rack")
	boss := harness.Boot(tb, harness.Options{
		Name:     "boss",
		Quiet:    quiet,
		Firmware: harness.OVMF,
		Drives:   []harness.Drive{{Path: disk, If: "usb", BootIndex: 1}},
		NICs:     []harness.NIC{{Segment: seg, MAC: "52:54:00:00:70:f0"}},
	})
	m := boss.MustExpect(firmwareReadyTimeout, `nucbox: serve: (pxe: serving network boots .*|warning: .*)$`)
	if !strings.HasPrefix(m[1], "pxe: serving network boots on br0 (VLAN 1) from 192.168.60.1 with the box's DHCP leases: the unified kernel image /EFI/Linux/nucbox-") {
		tb.Fatalf("box A does not serve its own image: %s", m[1])
	}
	boss.ExpectReady(firmwareReadyTimeout)
	// The modules loaded after ready make the kernel print on the console,
	// into the shell's lines: wait for them (a box with nothing left to
	// load says nothing, hence no failure here) before the shell.
	// "press Enter for a shell" comes before them: no openShell.
	boss.MustExpect(time.Minute, `press Enter for a shell`)
	boss.Expect(time.Minute, `nucbox: modules: after ready: loaded`)
	if err := boss.Send("\n"); err != nil {
		tb.Fatal(err)
	}
	// One short command per file: the console's line discipline cuts a
	// long line.
	mustShell(tb, boss, "mkdir -p /var/lib/nucbox/racks")
	for i, host := range hosts {
		mustShell(tb, boss, fmt.Sprintf("printf '%s' > /var/lib/nucbox/racks/%s.yaml", strings.ReplaceAll(rackMachineConfig(host), "\n", `\n`), rackMAC(i)))
	}
	return boss, seg
}

// bootRack powers on a rack machine that boots from the network: its
// firmware's iPXE is all it has, no QEMU tftp= and no kernel.
func bootRack(tb testing.TB, seg *harness.Segment, i int, quiet bool) *harness.Machine {
	return harness.Boot(tb, harness.Options{Name: fmt.Sprintf("rack-%d", i), Quiet: quiet, Boot: "n",
		NICs: []harness.NIC{{Segment: seg, MAC: rackMAC(i)}}})
}

// TestRackServer: box A, booted from its stick, is the boot server of a
// segment with nothing else on it. Two machines boot from it at once,
// each ready with its own host name from A's racks/; a third, whose MAC
// has no config there, is sent to maintenance mode at once, is listed by
// A's status as waiting (the two others as served: the positive control)
// and gets ready once nucbox apply --host, run on A, gives it a config.
func TestRackServer(t *testing.T) {
	boss, seg := rackBoss(t, false, map[int]string{1: "rack-1", 2: "rack-2"})
	start := time.Now()
	var wg sync.WaitGroup
	for _, i := range []int{1, 2} {
		m := bootRack(t, seg, i, false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ri, err := m.WaitReady(firmwareReadyTimeout)
			if err != nil {
				t.Errorf("%s: %v", m.Name, err)
				return
			}
			want := fmt.Sprintf("rack-%d", i)
			if ri.Hostname != want || ri.ConfigSource != "https://192.168.60.1:8444/configs/"+rackMAC(i)+".yaml" {
				t.Errorf("%s: ready as %q with config from %q; want %s from box A by its MAC", m.Name, ri.Hostname, ri.ConfigSource, want)
			}
			t.Logf("%s: ready %.1f s after power-on", m.Name, time.Since(m.Started).Seconds())
		}()
	}
	unknown := bootRack(t, seg, 3, false)
	unknown.MustExpect(firmwareReadyTimeout, `nucbox: failed: config: https://192\.168\.60\.1:8444/configs/`+rackMAC(3)+`\.yaml: HTTP 404 Not Found: the server has no config for this machine`)
	token := unknown.MustExpect(time.Minute, `api: new token \(shown once; also in \S+\): (\S+)`)[1]
	fp := unknown.MustExpect(time.Minute, `listening on :8443 \(TLS, certificate SHA-256 ([0-9A-F:]{95})\)`)[1]
	addr := unknown.MustExpect(time.Minute, `nucbox: maintenance: waiting for a config: nucbox apply --host (192\.168\.60\.\d+):8443`)[1]
	t.Logf("%s: in maintenance mode %.1f s after power-on", unknown.Name, time.Since(unknown.Started).Seconds())
	wg.Wait()

	// A's status: the two served, the third waiting for a config.
	deadline := time.Now().Add(time.Minute)
	var status string
	for {
		status = mustShell(t, boss, "nucbox status")
		if strings.Contains(status, rackMAC(3)) || time.Now().After(deadline) {
			break
		}
	}
	// Its address is the one it fetched its config from, a boot-time
	// lease, which its maintenance mode's lease need not repeat.
	waiting := regexp.MustCompile(regexp.QuoteMeta(rackMAC(3)) + `\s+192\.168\.60\.\d+\s+none: in maintenance mode`)
	if !waiting.MatchString(status) {
		t.Errorf("box A's status does not list %s as waiting for a config:\n%s", rackMAC(3), status)
	}
	for _, i := range []int{1, 2} {
		if !regexp.MustCompile(regexp.QuoteMeta(rackMAC(i)) + `\s+192\.168\.60\.\d+\s+served`).MatchString(status) {
			t.Errorf("box A's status does not list %s as served:\n%s", rackMAC(i), status)
		}
	}

	mustShell(t, boss, "cat > /tmp/rack-3.yaml <<'NBX_EOF'\n"+rackMachineConfig("rack-3")+"NBX_EOF\n"+
		fmt.Sprintf("nucbox apply --host https://%s:8443 --token %s --fingerprint %s /tmp/rack-3.yaml", addr, token, fp))
	ri := unknown.ExpectReady(2 * time.Minute)
	if ri.Hostname != "rack-3" {
		t.Errorf("%s left maintenance mode as %q, want rack-3", unknown.Name, ri.Hostname)
	}
	t.Logf("rack of three: %.1f s from the first power-on to the last ready", time.Since(start).Seconds())
}

// BenchmarkRack (P9 of `make bench`): time from power-on to ready of N
// machines booting at once from one box (N = 1, 2, 4) under TCG, each
// machine its own sample. The box is booted once, before the rounds.
func BenchmarkRack(b *testing.B) {
	hosts := map[int]string{}
	for i := 1; i <= 7; i++ {
		hosts[i] = fmt.Sprintf("bench-%d", i)
	}
	_, seg := rackBoss(b, true, hosts)
	next := 1
	var figs []benchreport.Figure
	for k, n := range []int{1, 2, 4} {
		f := benchreport.Figure{ID: fmt.Sprintf("P9%c", 'a'+k), Name: fmt.Sprintf("rack: power-on to ready, %d PXE machine(s) at once", n), Unit: "s", Load: "idle",
			Note: "TCG; box A booted from its USB stick serves DHCP, TFTP (boot.ipxe), HTTP (its own kernel and initramfs out of its UKI) and the configs over HTTPS; each machine's time from QEMU's start (SeaBIOS, iPXE) to its ready line"}
		var ms []*harness.Machine
		for range n {
			ms = append(ms, bootRack(b, seg, next, true))
			next++
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := m.WaitReady(firmwareReadyTimeout); err != nil {
					b.Errorf("%s: %v\n%s", m.Name, err, lastLines(m.Output(), 30))
					return
				}
				mu.Lock()
				f.Ours = append(f.Ours, time.Since(m.Started).Seconds())
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, m := range ms {
			m.Close()
		}
		figs = append(figs, f)
	}
	saveFigures(b, "p9-rack", figs...)
}
