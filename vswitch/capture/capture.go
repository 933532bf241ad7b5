package capture

import (
	"context"
	"encoding/binary"
	"io"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nucbox/nucbox/internal/safe"
)

const (
	// Snaplen is the most of a frame the capture keeps, as tcpdump's
	// default.
	Snaplen = 262144
	// DefaultMaxBytes bounds a capture that names no limit.
	DefaultMaxBytes = 64 << 20
	// recordHeader is the size of a pcap record's header.
	recordHeader = 16
)

// Source reads frames: a packet socket on the port, or a test's.
type Source interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	Close() error
}

// Options say what to capture and when to stop.
type Options struct {
	Link string
	// VLAN keeps only the frames tagged with it; 0 keeps all.
	VLAN int
	// Count stops after that many frames; 0: no limit.
	Count int
	// MaxBytes stops before the pcap grows past it (default
	// DefaultMaxBytes).
	MaxBytes int64
	// Open opens the port; default OpenLink.
	Open func(link string) (Source, error)
	// Logf hears of a panic in the capture's helper goroutine.
	Logf func(format string, args ...any)
}

// Result says what was captured and why it stopped: "count", "bytes"
// or "stopped" (the caller went away).
type Result struct {
	Packets int
	Bytes   int64
	Reason  string
}

// OpenLink is a packet socket on the named link.
func OpenLink(link string) (Source, error) {
	h, err := pcapgo.NewEthernetHandle(link)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// flusher is a writer that can push out what it holds (an HTTP
// response): every frame goes out at once.
type flusher interface{ Flush() error }

// Run writes a pcap stream of the link's frames to w until a limit is
// reached or ctx ends (a nil error then).
func Run(ctx context.Context, o Options, w io.Writer) (Result, error) {
	if o.Open == nil {
		o.Open = OpenLink
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	src, err := o.Open(o.Link)
	if err != nil {
		return Result{}, err
	}
	var closeOnce sync.Once
	closeSrc := func() { closeOnce.Do(func() { src.Close() }) }
	defer closeSrc()
	stop := make(chan struct{})
	defer close(stop)
	safe.Go(o.Logf, "capture on "+o.Link, func() {
		select {
		case <-ctx.Done():
			closeSrc() // ends the read below
		case <-stop:
		}
	})
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		return Result{}, err
	}
	res := Result{Bytes: 24}
	fl, _ := w.(flusher)
	if fl != nil {
		fl.Flush()
	}
	for {
		data, ci, err := src.ReadPacketData()
		if err != nil {
			if ctx.Err() != nil {
				res.Reason = "stopped"
				return res, nil
			}
			return res, err
		}
		data = withTag(data, ci)
		if o.VLAN != 0 && tagOf(data) != o.VLAN {
			continue
		}
		ci.Length = max(ci.Length, len(data))
		if len(data) > Snaplen {
			data = data[:Snaplen]
		}
		ci.CaptureLength = len(data)
		if res.Bytes+recordHeader+int64(len(data)) > o.MaxBytes {
			res.Reason = "bytes"
			return res, nil
		}
		if err := pw.WritePacket(ci, data); err != nil {
			return res, err
		}
		if fl != nil {
			if err := fl.Flush(); err != nil {
				return res, err
			}
		}
		res.Packets++
		res.Bytes += recordHeader + int64(len(data))
		if o.Count > 0 && res.Packets >= o.Count {
			res.Reason = "count"
			return res, nil
		}
	}
}

// withTag puts back the 802.1Q tag the kernel moved into the frame's
// metadata (pcapgo passes it as the first ancillary datum), as tcpdump
// shows it.
func withTag(data []byte, ci gopacket.CaptureInfo) []byte {
	if len(ci.AncillaryData) == 0 || len(data) < 12 {
		return data
	}
	vlan, ok := ci.AncillaryData[0].(int)
	if !ok {
		return data
	}
	out := make([]byte, 0, len(data)+4)
	out = append(out, data[:12]...)
	out = binary.BigEndian.AppendUint16(out, 0x8100)
	out = binary.BigEndian.AppendUint16(out, uint16(vlan))
	return append(out, data[12:]...)
}

// tagOf is a frame's VLAN id, 0 when untagged.
func tagOf(data []byte) int {
	if len(data) < 16 || binary.BigEndian.Uint16(data[12:14]) != 0x8100 {
		return 0
	}
	return int(binary.BigEndian.Uint16(data[14:16]) & 0x0fff)
}
