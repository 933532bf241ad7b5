package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// waitEth0 waits for the NIC driver to bind (it probes asynchronously
// after insmod returns).
const waitEth0 = `while [ ! -e /sys/class/net/eth0 ]; do usleep 20000; done
`

// TestHarnessTinyMachines proves the harness against QEMU without the
// appliance, so that a harness bug is not mistaken for an appliance bug:
// two busybox guests on one Segment reach each other, one answers on its
// console shell and to QMP, the other powers off by itself. It lives here
// rather than in the harness package so that all QEMU boots run in one
// package, one after the other.
func TestHarnessTinyMachines(t *testing.T) {
	harness.Require(t)
	k, _ := harness.DebianKernel()
	seg := harness.NewSegment(t, "lan")

	// The peer answers pings until a line is typed on its console; the
	// talker hands its console to an interactive shell that pings.
	peer := harness.Boot(t, harness.Options{
		Name:      "peer",
		Kernel:    k.Path,
		MemoryMiB: 256,
		Initramfs: harness.TinyInitramfs(t, harness.Tiny{
			Modules: []string{"virtio_pci", "virtio_net"},
			Script: waitEth0 + `ip link set eth0 up
ip addr add 192.168.77.2/24 dev eth0
echo peer-up
read line
echo peer-got-$line
`,
		}),
		NICs: []harness.NIC{{Segment: seg, MAC: "52:54:00:00:77:02"}},
	})
	talker := harness.Boot(t, harness.Options{
		Name:      "talker",
		Kernel:    k.Path,
		MemoryMiB: 256,
		Initramfs: harness.TinyInitramfs(t, harness.Tiny{
			Modules: []string{"virtio_pci", "virtio_net"},
			Script: waitEth0 + `ip link set eth0 up
ip addr add 192.168.77.1/24 dev eth0
echo talker-up
setsid cttyhack sh
`,
		}),
		NICs: []harness.NIC{{Segment: seg, MAC: "52:54:00:00:77:01"}},
	})

	peer.MustExpect(60*time.Second, `^peer-up$`)
	talker.MustExpect(60*time.Second, `^talker-up$`)

	if st, err := talker.Status(); err != nil || st != "running" {
		t.Fatalf("status = %q, %v; want running", st, err)
	}
	out, err := talker.Shell(30*time.Second, "ping -c 2 -W 5 192.168.77.2")
	if err != nil {
		t.Fatalf("ping over the segment: %v", err)
	}
	if !strings.Contains(out, "2 packets received") {
		t.Errorf("ping output = %q", out)
	}
	if _, err := talker.Shell(10*time.Second, "false"); err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("Shell(false) error = %v, want exit status 1", err)
	}

	seen := false
	for _, f := range seg.Frames() {
		if f.From == "talker.nic0" && len(f.Data) >= 14 && f.Data[12] == 0x08 && f.Data[13] == 0x06 {
			seen = true // the talker's ARP request crossed the hub
		}
	}
	if !seen {
		t.Errorf("no ARP frame from talker.nic0 among %d frames", len(seg.Frames()))
	}

	// Typing on the peer's console ends its script, which powers off.
	if err := peer.Send("hello\n"); err != nil {
		t.Fatal(err)
	}
	peer.MustExpect(10*time.Second, `^peer-got-hello$`)
	if err := peer.WaitExit(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Expect(time.Second, `never printed`); err == nil {
		t.Error("Expect after exit matched")
	}

	if err := talker.Quit(); err != nil {
		t.Fatal(err)
	}
}
