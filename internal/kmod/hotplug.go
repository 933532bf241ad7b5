package kmod

import (
	"bytes"
	"strings"

	"golang.org/x/sys/unix"
)

// Hotplug does for devices that appear after the coldplug scan what the
// scan did for those already there: a USB stick is enumerated a moment
// after its controller's driver loads, often after the scan, and without
// this its storage driver would never load. The kernel announces every new
// device on the kobject uevent netlink socket with its MODALIAS.
type Hotplug struct {
	l  *Loader
	fd int
}

// ListenHotplug opens the uevent socket. Open it before the coldplug scan
// so that no device falls between the scan and the first event read.
func (l *Loader) ListenHotplug() (*Hotplug, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1, Pid: 0}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Bursts (a hub with many ports) must not overflow the socket.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20)
	return &Hotplug{l: l, fd: fd}, nil
}

// Serve loads the drivers of each device the kernel adds, logging what
// it loaded and what failed. It returns only when reading the socket
// fails; it may be called again then.
func (h *Hotplug) Serve() error {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(h.fd, buf, 0)
		if err != nil {
			if err == unix.EINTR || err == unix.ENOBUFS {
				continue
			}
			return err
		}
		action, modalias := parseUevent(buf[:n])
		if action != "add" || modalias == "" {
			continue
		}
		loaded, errs := h.l.LoadFor(modalias)
		if len(loaded) > 0 {
			h.l.logf("hotplug: %s for %s", strings.Join(loaded, " "), modalias)
		}
		for _, e := range errs {
			h.l.logf("warning: hotplug: %v", e)
		}
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
