package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// member plays a QEMU dgram NIC: a unix datagram socket bound where the
// segment told it to, sending to the hub.
func member(t *testing.T, s *Segment, name string) *net.UnixConn {
	t.Helper()
	p := s.attach(name)
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(vlan int) []byte {
	f := make([]byte, 64)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], []byte{0x52, 0x54, 0, 0, 0, 1})
	if vlan > 0 {
		binary.BigEndian.PutUint16(f[12:], 0x8100)
		binary.BigEndian.PutUint16(f[14:], uint16(vlan))
		binary.BigEndian.PutUint16(f[16:], 0x0800)
	} else {
		binary.BigEndian.PutUint16(f[12:], 0x0800)
	}
	return f
}

func TestSegmentFloodsToOthersAndRecords(t *testing.T) {
	t.Setenv("NUCBOX_ARTIFACTS", t.TempDir())
	s := NewSegment(t, "lan")
	a := member(t, s, "a.nic0")
	b := member(t, s, "b.nic0")
	c := member(t, s, "c.nic0")
	hub := &net.UnixAddr{Name: s.hubPath, Net: "unixgram"}

	sent := frame(10)
	if _, err := a.WriteToUnix(sent, hub); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for _, rx := range []*net.UnixConn{b, c} {
		rx.SetReadDeadline(time.Now().Add(long))
		n, err := rx.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], sent) {
			t.Fatalf("received %x, sent %x", buf[:n], sent)
		}
	}
	// The sender does not get its own frame back: after a frame from b
	// reaches a, nothing else is queued for a.
	if _, err := b.WriteToUnix(frame(0), hub); err != nil {
		t.Fatal(err)
	}
	a.SetReadDeadline(time.Now().Add(long))
	n, err := a.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, tagged := (Frame{Data: buf[:n]}).VLAN(); tagged {
		t.Fatal("a got its own tagged frame back")
	}

	// Strangers cannot inject frames; c's frame, sent after the
	// stranger's, shows the hub has read both.
	stranger, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(s.dir, "x"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	stranger.WriteToUnix(frame(20), hub)
	c.WriteToUnix(frame(30), hub)
	if _, err := s.WaitFrame(long, func(f Frame) bool { return f.From == "c.nic0" }); err != nil {
		t.Fatal(err)
	}

	// Frames are recorded in order with their sender and VLAN.
	fs := s.Frames()
	if len(fs) != 3 || fs[0].From != "a.nic0" || fs[1].From != "b.nic0" || fs[2].From != "c.nic0" {
		t.Fatalf("frames = %+v", fs)
	}
	if id, ok := fs[0].VLAN(); !ok || id != 10 {
		t.Errorf("VLAN() = %d, %v; want 10, true", id, ok)
	}
	if _, ok := fs[1].VLAN(); ok {
		t.Error("untagged frame reported as tagged")
	}
	if f, err := s.WaitFrame(long, func(f Frame) bool { id, _ := f.VLAN(); return id == 10 }); err != nil || f.From != "a.nic0" {
		t.Errorf("WaitFrame for an earlier frame = %+v, %v", f, err)
	}
	if _, err := s.WaitFrame(20*time.Millisecond, func(f Frame) bool { id, _ := f.VLAN(); return id == 20 }); !errors.Is(err, ErrTimeout) {
		t.Errorf("WaitFrame for the stranger's frame: %v, want timeout", err)
	}

	s.close()
	pcap, err := os.ReadFile(filepath.Join(os.Getenv("NUCBOX_ARTIFACTS"), safeName(t.Name()), "lan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 24 + 3*(16+64); len(pcap) != want || binary.LittleEndian.Uint32(pcap) != 0xa1b2c3d4 {
		t.Errorf("pcap: %d bytes, magic %x; want %d bytes", len(pcap), pcap[:4], want)
	}
}
