package box

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/vswitch/capture"
)

// CapturePort names the link of a port: VM.N is the VM's Nth NIC's TAP,
// CONTAINER.N the container's Nth veth (the box's end), uplink the link
// the network stage selected; any other name must be a link of the box.
func (a *apiBox) CapturePort(port string) (string, error) {
	link := port
	if port == "uplink" {
		link = ""
		if a.b.net != nil {
			if st := a.b.net.status(); st != nil {
				link = st.Uplink
			}
		}
	} else if name, idx, ok := strings.Cut(port, "."); ok {
		n, err := strconv.Atoi(idx)
		if err != nil || n < 0 {
			return "", api.ErrNoPort
		}
		link = ""
		for _, w := range a.Workloads() {
			switch {
			case w.Name != name:
			case w.Kind == "vm":
				link = config.TAPName(name, n)
			case w.Kind == "container":
				link = config.VethName(name, n)
			}
		}
	}
	if link == "" {
		return "", api.ErrNoPort
	}
	if _, err := net.InterfaceByName(link); err != nil {
		return "", api.ErrNoPort
	}
	return link, nil
}

// CaptureLink records link's frames into w.
func (a *apiBox) CaptureLink(ctx context.Context, link string, req api.CaptureRequest, w io.Writer) (api.CaptureResult, error) {
	res, err := capture.Run(ctx, capture.Options{Link: link, VLAN: req.VLAN, Count: req.Count, MaxBytes: req.MaxBytes,
		Logf: a.b.log.logf}, w)
	return api.CaptureResult{Link: link, Packets: res.Packets, Bytes: res.Bytes, Reason: res.Reason}, err
}
