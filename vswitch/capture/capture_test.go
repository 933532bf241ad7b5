package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// fakeSource hands out frames, then blocks until closed.
type fakeSource struct {
	frames [][]byte
	vlans  []int // the stripped tag of each frame, -1 for none
	closed chan struct{}
}

func (f *fakeSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if len(f.frames) == 0 {
		<-f.closed
		return nil, gopacket.CaptureInfo{}, errors.New("closed")
	}
	d, v := f.frames[0], f.vlans[0]
	f.frames, f.vlans = f.frames[1:], f.vlans[1:]
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(d), Length: len(d)}
	if v >= 0 {
		ci.AncillaryData = []any{v}
	}
	return d, ci, nil
}

func (f *fakeSource) Close() error { close(f.closed); return nil }

// frame is an Ethernet frame of size bytes, tagged with vlan when not 0.
func frame(vlan, size int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, size)
	copy(b, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1})
	if vlan == 0 {
		binary.BigEndian.PutUint16(b[12:], 0x0800)
		return b
	}
	binary.BigEndian.PutUint16(b[12:], 0x8100)
	binary.BigEndian.PutUint16(b[14:], uint16(vlan))
	binary.BigEndian.PutUint16(b[16:], 0x0800)
	return b
}

func read(t *testing.T, b []byte) [][]byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		d, _, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
}

func TestRunLimits(t *testing.T) {
	untagged, tagged10 := frame(0, 100, 1), frame(10, 100, 2)
	stripped20 := frame(0, 100, 3) // as the kernel hands it: tag 20 in the metadata
	for _, tc := range []struct {
		name       string
		o          Options
		cancel     bool
		wantVLANs  []int
		wantReason string
	}{
		{name: "count", o: Options{Count: 2}, wantVLANs: []int{0, 10}, wantReason: "count"},
		{name: "vlan 20, its tag put back", o: Options{VLAN: 20, Count: 1}, wantVLANs: []int{20}, wantReason: "count"},
		{name: "bytes", o: Options{MaxBytes: 24 + 2*(16+100) + 50}, wantVLANs: []int{0, 10}, wantReason: "bytes"},
		{name: "stopped", o: Options{}, cancel: true, wantVLANs: []int{0, 10, 20}, wantReason: "stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{frames: [][]byte{untagged, tagged10, stripped20}, vlans: []int{-1, -1, 20}, closed: make(chan struct{})}
			tc.o.Open = func(string) (Source, error) { return src, nil }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			var buf bytes.Buffer
			res, err := Run(ctx, tc.o, &buf)
			if err != nil {
				t.Fatal(err)
			}
			got := read(t, buf.Bytes())
			var vlans []int
			for _, f := range got {
				vlans = append(vlans, tagOf(f))
			}
			if res.Reason != tc.wantReason || res.Packets != len(tc.wantVLANs) || res.Bytes != int64(buf.Len()) || len(vlans) != len(tc.wantVLANs) {
				t.Fatalf("result %+v (pcap %d bytes), frames tagged %v; want %s with %v", res, buf.Len(), vlans, tc.wantReason, tc.wantVLANs)
			}
			for i := range vlans {
				if vlans[i] != tc.wantVLANs[i] {
					t.Errorf("frame %d tagged %d, want %d", i, vlans[i], tc.wantVLANs[i])
				}
			}
		})
	}
}

// TestCaptureVeth captures on one end of a veth the frames sent from the
// other, tagged 42 so that the VLAN filter keeps them apart from the
// kernel's own (IPv6 neighbour discovery), and reads them back with a pcap
// reader.
func TestCaptureVeth(t *testing.T) {
	a := netnstest.New(t, "capa")
	b := netnstest.New(t, "capb")
	netnstest.Veth(t, a, "eth0", b, "eth0", true)
	a.Up(t, "eth0")
	var c *packet.Conn
	if err := b.Namespace().Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	open := func(link string) (s Source, err error) {
		err = a.Namespace().Do(func() error { s, err = OpenLink(link); return err })
		return s, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var buf bytes.Buffer
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = Run(ctx, Options{Link: "eth0", VLAN: 42, Count: 3, Open: open}, &buf)
		done <- err
	}()
	// Sent until the capture has its three: it may open after the first.
	sent := 0
	for wait := true; wait; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			wait = false
		case <-time.After(50 * time.Millisecond):
			sent++
			f := frame(42, 64, byte(sent))
			if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := read(t, buf.Bytes())
	if res.Packets != 3 || len(got) != 3 || res.Reason != "count" {
		t.Fatalf("result %+v, %d frames in the pcap (sent %d)", res, len(got), sent)
	}
	for _, f := range got {
		if len(f) != 64 || f[63] == 0 || tagOf(f) != 42 || !bytes.Equal(f[6:12], []byte{2, 0, 0, 0, 0, 1}) {
			t.Errorf("captured % x", f)
		}
	}
}
