package xfer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// chunk is the size of each write: large enough that the system calls
// cost nothing next to the copy, as iperf3's default of 128 KiB.
const chunk = 128 << 10

// Result is one transfer.
type Result struct {
	Bytes   int64
	Elapsed time.Duration
}

// Gbps is the rate in Gbit/s (10⁹ bits per second).
func (r Result) Gbps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) * 8 / r.Elapsed.Seconds() / 1e9
}

func (r Result) String() string {
	return fmt.Sprintf("%d bytes in %v: %.2f Gbit/s", r.Bytes, r.Elapsed.Round(time.Microsecond), r.Gbps())
}

// Serve receives on every connection ln accepts, one at a time, until ln
// is closed; it then returns nil. Each connection is read to EOF and
// answered with the number of bytes read (8 bytes, big-endian).
func Serve(ln net.Listener) error {
	buf := make([]byte, chunk)
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(io.Discard, onlyReader{c}, buf)
		if err == nil {
			err = binary.Write(c, binary.BigEndian, uint64(n))
		}
		c.Close()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
	}
}

// onlyReader hides the connection's WriterTo, so that io.CopyBuffer uses
// the buffer given instead of allocating its own each time.
type onlyReader struct{ io.Reader }

// Send writes n bytes to c, half-closes it and waits for the receiver's
// count; the result is an error unless the count is n. c is closed.
func Send(c net.Conn, n int64) (Result, error) {
	defer c.Close()
	tc, ok := c.(interface{ CloseWrite() error })
	if !ok {
		return Result{}, fmt.Errorf("send: %T cannot half-close", c)
	}
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i) // not zeros, in case a path ever compresses
	}
	start := time.Now()
	for left := n; left > 0; {
		k := min(left, int64(len(buf)))
		w, err := c.Write(buf[:k])
		left -= int64(w)
		if err != nil {
			return Result{}, fmt.Errorf("send: after %d of %d bytes: %w", n-left, n, err)
		}
	}
	if err := tc.CloseWrite(); err != nil {
		return Result{}, fmt.Errorf("send: half-close: %w", err)
	}
	var got uint64
	if err := binary.Read(c, binary.BigEndian, &got); err != nil {
		return Result{}, fmt.Errorf("send: the receiver's count: %w", err)
	}
	r := Result{Bytes: n, Elapsed: time.Since(start)}
	if got != uint64(n) {
		return r, fmt.Errorf("send: the receiver counted %d bytes, %d were sent", got, n)
	}
	return r, nil
}
