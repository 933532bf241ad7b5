package boot

import (
	"errors"
	"io/fs"
	"os"
)

// vmDevices are the device nodes an unprivileged QEMU opens, which
// devtmpfs makes root-only (0600) as their modules load: /dev/kvm for
// the accelerator, /dev/net/tun for a NIC added by name. Distributions'
// udev rules make both 0666; so does PID 1, once the modules stage loaded
// them. Containers have a /dev of their own, which these modes do not
// reach (and their device cgroup refuses /dev/kvm).
var vmDevices = []string{"/dev/kvm", "/dev/net/tun"}

func openVMDevices() {
	for _, dev := range vmDevices {
		fi, err := os.Stat(dev)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			Logf("vms: %s: %v", dev, err)
			continue
		}
		if fi.Mode().Perm() == 0o666 {
			continue
		}
		if err := os.Chmod(dev, 0o666); err != nil {
			Logf("vms: %s stays mode %04o (%v): QEMU, unprivileged, cannot open it", dev, fi.Mode().Perm(), err)
		}
	}
}
