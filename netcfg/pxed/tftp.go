package pxed

import (
	"fmt"
	"io"

	"github.com/pin/tftp/v3"

	"github.com/nucbox/nucbox/internal/safe"
)

// tftpRead serves a read request: the bundle's files by name. The
// library runs it on a goroutine of its own: a panic here is caught, so
// that one bad transfer never takes PID 1 down.
func (s *Server) tftpRead(name string, rf io.ReaderFrom) (err error) {
	defer safe.Recover(s.o.Logf, "pxe: tftp "+name)
	f, size, _, err := s.open(name)
	if err != nil {
		return fmt.Errorf("%s: not served", name)
	}
	defer f.Close()
	if t, ok := rf.(tftp.OutgoingTransfer); ok {
		t.SetSize(size)
		ra := t.RemoteAddr()
		s.machines.byAddr(remoteAddr(ra.String()), "tftp")
	}
	_, err = rf.ReadFrom(f)
	return err
}
