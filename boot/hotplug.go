package boot

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Hotplug does for devices that appear after the coldplug scan what the
// scan did for those already there: a USB stick is enumerated a moment
// after its controller's driver loads, often after the scan, and without
// this its storage driver would never load. The kernel announces every new
// device on the kobject uevent netlink socket with its MODALIAS.

var hotplugOnce sync.Once

// startHotplug opens the uevent socket; call it before the coldplug scan
// so that no device falls between the scan and the first event read.
func startHotplug() {
	hotplugOnce.Do(func() {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
		if err != nil {
			Logf("modules: warning: no hotplug: %v", err)
			return
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1, Pid: 0}); err != nil {
			unix.Close(fd)
			Logf("modules: warning: no hotplug: %v", err)
			return
		}
		// Bursts (a hub with many ports) must not overflow the socket.
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20)
		goForever("hotplug", func() { hotplugLoop(fd) })
	})
}

func hotplugLoop(fd int) {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if err == unix.EINTR || err == unix.ENOBUFS {
				continue
			}
			Logf("modules: hotplug: %v", err)
			return
		}
		action, modalias := parseUevent(buf[:n])
		if action != "add" || modalias == "" {
			continue
		}
		hotplugLoad(modalias)
	}
}

// parseUevent reads a kernel uevent: "ACTION@DEVPATH\0KEY=VALUE\0...".
// Messages from udev daemons ("libudev" header) are not the kernel's and
// are ignored.
func parseUevent(b []byte) (action, modalias string) {
	if bytes.HasPrefix(b, []byte("libudev")) {
		return "", ""
	}
	for _, f := range bytes.Split(b, []byte{0}) {
		k, v, ok := strings.Cut(string(f), "=")
		if !ok {
			continue
		}
		switch k {
		case "ACTION":
			action = v
		case "MODALIAS":
			modalias = v
		}
	}
	return action, modalias
}

var hotplugMu sync.Mutex

// hotplugLoad loads the drivers that match a new device's modalias.
func hotplugLoad(modalias string) {
	hotplugMu.Lock()
	defer hotplugMu.Unlock()
	db, err := openModuleDB(moduleDir())
	if err != nil {
		return
	}
	f, err := os.Open(filepath.Join(db.dir, "modules.alias"))
	if err != nil {
		return
	}
	aliases, err := parseModulesAlias(f, func(m string) bool { return db.mods[m] != nil })
	f.Close()
	if err != nil {
		return
	}
	l := newModuleLoader(db)
	var want []string
	for _, m := range aliases.match(modalias) {
		if !l.loaded[m] {
			want = append(want, m)
		}
	}
	if len(want) == 0 {
		return
	}
	loaded, errs := l.Load(want)
	if len(loaded) > 0 {
		Logf("modules: hotplug: %s for %s", strings.Join(loaded, " "), modalias)
	}
	for _, e := range errs {
		Logf("modules: warning: hotplug: %v", e)
	}
}
