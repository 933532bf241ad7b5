package box

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/image/pxe"
	"github.com/nucbox/nucbox/netcfg/pxed"
)

// pxeBundleDir is where the box's own kernel and initramfs are taken out
// of its image for the rack: in memory, since the image is the one
// running and is there again at the next boot.
const pxeBundleDir = "/run/nucbox/pxe"

// ownBundle finds the box's own kernel and initramfs for the rack, once
// per boot: the unified kernel image it booted from, copied out of the
// ESP. Without one (a box booted from the network, or QEMU's -kernel)
// the config must name a bundle directory.
type ownBundle struct {
	b *Box

	mu   sync.Mutex
	done bool
	got  pxed.Bundle
	err  error
}

func (o *ownBundle) get() (pxed.Bundle, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return o.got, o.err
	}
	o.got, o.err = o.find()
	o.done = o.err == nil
	return o.got, o.err
}

func (o *ownBundle) find() (pxed.Bundle, error) {
	sl := o.b.o.Slot
	if sl == nil || sl.Name == "" {
		return pxed.Bundle{}, fmt.Errorf("the box did not boot from a unified kernel image on its disk, so it has no kernel and initramfs of its own to serve: set pxe-server.bundle to a directory on the data partition with %s and %s (nucbox image build --pxe writes them)", pxed.KernelName, pxed.InitrdName)
	}
	var b pxed.Bundle
	err := sl.ReadRunning(func(img io.ReaderAt, path string) error {
		cmdline, err := pxe.FromUKI(img, pxeBundleDir)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		b = pxed.Bundle{Dir: pxeBundleDir, Cmdline: pxed.RackCmdline(cmdline), Source: "the unified kernel image " + path + " (slot " + sl.Name + ")"}
		return nil
	})
	return b, err
}

// rackCmdline is the kernel command line a rack boots a bundle directory
// with: the box's own, without what names its config or boot NIC.
func rackCmdline() string {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return "console=tty0 console=ttyS0,115200"
	}
	return pxed.RackCmdline(strings.TrimSpace(string(b)))
}

// pxeCert is the API's certificate, which the configs are served with.
func (b *Box) pxeCert(stateDir, hostname string) (tls.Certificate, error) {
	c, _, err := api.LoadOrCreateCert(b.credentialsDir(stateDir), hostname)
	return c, err
}

// pxeState is the boot server for the API's status.
func pxeState(st *pxed.Status) *api.PXEState {
	if st == nil {
		return nil
	}
	out := &api.PXEState{VLAN: st.VLAN, Interface: st.Interface, Address: st.Address, Mode: st.Mode,
		Bundle: st.Bundle, Configs: st.Configs, Error: st.Error}
	for _, m := range st.Machines {
		out.Machines = append(out.Machines, api.PXEMachine{MAC: m.MAC, Address: m.Address, Config: m.Config, Asked: m.Asked,
			FirstSeen: m.FirstSeen, LastSeen: m.LastSeen, Via: m.Via})
	}
	return out
}
