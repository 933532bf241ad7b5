package harness

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// maxFrames bounds the frames a Segment keeps for Frames: enough for the
// tail of a test's traffic, small enough not to matter in memory. The pcap
// file has all of them.
const maxFrames = 10000

// Segment is an Ethernet segment shared by the machines of one test, the
// cable between two appliances. A hub in the test process forwards every
// frame to every other NIC on the segment and records it, so that a test
// can check what crossed the wire (802.1Q tags, for instance) and a human
// can open the pcap file after a failure.
//
// Each NIC talks to the hub over a unix datagram socket (QEMU's dgram
// netdev): no multicast route, no UDP port to pick, no root.
type Segment struct {
	Name string

	tb      testing.TB
	dir     string
	hubPath string
	conn    *net.UnixConn

	mu      sync.Mutex
	members map[string]string // socket path -> member name
	nextID  int
	frames  []Frame
	total   int
	pcap    *bufio.Writer
	pcapF   *os.File
	wake    chan struct{} // closed and replaced on every frame
	done    chan struct{}
	closed  sync.Once
}

// Frame is one Ethernet frame seen by the hub.
type Frame struct {
	Time time.Time
	From string // member name, machine.nicN
	Data []byte
}

// VLAN returns the frame's 802.1Q VLAN id, or ok false for an untagged
// frame.
func (f Frame) VLAN() (id int, ok bool) {
	if len(f.Data) < 18 || binary.BigEndian.Uint16(f.Data[12:14]) != 0x8100 {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(f.Data[14:16]) & 0x0fff), true
}

// NewSegment starts a hub for an Ethernet segment; it stops with the test.
// The frames are written to NAME.pcap in the test's artifacts directory.
func NewSegment(tb testing.TB, name string) *Segment {
	tb.Helper()
	dir, err := socketDir("seg")
	if err != nil {
		tb.Fatalf("segment %s: %v", name, err)
	}
	s := &Segment{
		Name:    name,
		tb:      tb,
		dir:     dir,
		hubPath: filepath.Join(dir, "hub"),
		members: map[string]string{},
		wake:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.hubPath, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatalf("segment %s: %v", name, err)
	}
	if err := s.openPcap(filepath.Join(ArtifactsDir(tb), safeName(name)+".pcap")); err != nil {
		s.conn.Close()
		os.RemoveAll(dir)
		tb.Fatalf("segment %s: %v", name, err)
	}
	go s.forward()
	tb.Cleanup(s.close)
	return s
}

// attach reserves a socket for a NIC; QEMU creates it.
func (s *Segment) attach(member string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	p := filepath.Join(s.dir, fmt.Sprint(s.nextID))
	s.members[p] = member
	return p
}

// Frames returns the frames seen so far, oldest first (at most the last
// maxFrames).
func (s *Segment) Frames() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Frame(nil), s.frames...)
}

// WaitFrame waits for a frame for which match is true, looking at the
// frames already seen first, and returns it.
func (s *Segment) WaitFrame(timeout time.Duration, match func(Frame) bool) (Frame, error) {
	deadline := time.After(timeout)
	seen := 0 // frames already tried, counted over the whole run
	for {
		s.mu.Lock()
		first := s.total - len(s.frames) // frames dropped from the ring
		for i := max(seen-first, 0); i < len(s.frames); i++ {
			if match(s.frames[i]) {
				f := s.frames[i]
				s.mu.Unlock()
				return f, nil
			}
		}
		seen = s.total
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-s.done:
			return Frame{}, fmt.Errorf("segment %s: closed before a matching frame", s.Name)
		case <-deadline:
			return Frame{}, fmt.Errorf("segment %s: no matching frame among %d: %w after %v", s.Name, seen, ErrTimeout, timeout)
		}
	}
}

// Inject puts a frame on the segment as a device of the test named from
// would (a switch sending LLDP, a rogue server): every machine gets it
// and it is recorded like the machines' own.
func (s *Segment) Inject(from string, b []byte) {
	s.mu.Lock()
	f := Frame{Time: time.Now(), From: from, Data: append([]byte(nil), b...)}
	s.record(f)
	var dst []string
	for p := range s.members {
		dst = append(dst, p)
	}
	s.mu.Unlock()
	for _, p := range dst {
		s.send(p, f.Data)
	}
}

func (s *Segment) forward() {
	defer close(s.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := s.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		if from == nil {
			continue
		}
		s.mu.Lock()
		src, ok := s.members[from.Name]
		if !ok {
			s.mu.Unlock()
			continue
		}
		f := Frame{Time: time.Now(), From: src, Data: append([]byte(nil), buf[:n]...)}
		s.record(f)
		var dst []string
		for p := range s.members {
			if p != from.Name {
				dst = append(dst, p)
			}
		}
		s.mu.Unlock()
		for _, p := range dst {
			s.send(p, f.Data)
		}
	}
}

// send never blocks: a NIC whose queue is full (its machine is paused or
// gone) loses the frame, as on a real congested port, instead of stalling
// the whole segment.
func (s *Segment) send(path string, b []byte) {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return
	}
	to := &syscall.SockaddrUnix{Name: path}
	_ = rc.Write(func(fd uintptr) bool {
		_ = syscall.Sendto(int(fd), b, syscall.MSG_DONTWAIT, to)
		return true
	})
}

func (s *Segment) record(f Frame) {
	s.total++
	if len(s.frames) >= maxFrames {
		s.frames = append(s.frames[:0], s.frames[len(s.frames)-maxFrames/2:]...)
	}
	s.frames = append(s.frames, f)
	close(s.wake)
	s.wake = make(chan struct{})
	if s.pcap != nil {
		var h [16]byte
		us := f.Time.UnixMicro()
		binary.LittleEndian.PutUint32(h[0:], uint32(us/1e6))
		binary.LittleEndian.PutUint32(h[4:], uint32(us%1e6))
		binary.LittleEndian.PutUint32(h[8:], uint32(len(f.Data)))
		binary.LittleEndian.PutUint32(h[12:], uint32(len(f.Data)))
		s.pcap.Write(h[:])
		s.pcap.Write(f.Data)
	}
}

func (s *Segment) openPcap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4) // microsecond timestamps
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535) // snaplen
	binary.LittleEndian.PutUint32(h[20:], 1)     // LINKTYPE_ETHERNET
	if _, err := w.Write(h[:]); err != nil {
		f.Close()
		return err
	}
	s.pcap, s.pcapF = w, f
	return nil
}

func (s *Segment) close() {
	s.closed.Do(s.shutdown)
}

func (s *Segment) shutdown() {
	s.conn.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.pcap != nil {
		err = errors.Join(s.pcap.Flush(), s.pcapF.Close())
		s.pcap = nil
	}
	if err != nil {
		s.tb.Logf("segment %s: pcap: %v", s.Name, err)
	}
	s.tb.Logf("segment %s: %d frames (capture %s)", s.Name, s.total, s.pcapF.Name())
	os.RemoveAll(s.dir)
}
