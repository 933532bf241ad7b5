package ntptest

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ntpEpochOffset is the seconds from 1900 (NTP's epoch) to 1970.
const ntpEpochOffset = 2208988800

// Server answers NTPv3/v4 client requests as a stratum 1 server.
type Server struct {
	conn    net.PacketConn
	offset  time.Duration
	answer  atomic.Bool
	served  atomic.Int64
	dropped atomic.Int64
	wg      sync.WaitGroup
}

// Listen serves on addr ("127.0.0.1:0" for any free port) with the host's
// clock shifted by offset. It answers from the start; SetAnswering(false)
// makes it drop requests, as a server that is not reachable yet.
func Listen(addr string, offset time.Duration) (*Server, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{conn: c, offset: offset}
	s.answer.Store(true)
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the server's address.
func (s *Server) Addr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

// SetAnswering turns answers on or off.
func (s *Server) SetAnswering(on bool) { s.answer.Store(on) }

// Served counts the requests answered, Dropped those ignored.
func (s *Server) Served() int64  { return s.served.Load() }
func (s *Server) Dropped() int64 { return s.dropped.Load() }

// Close stops the server.
func (s *Server) Close() error {
	err := s.conn.Close()
	s.wg.Wait()
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	buf := make([]byte, 512)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		recv := time.Now().Add(s.offset)
		mode := buf[0] & 7
		if n < 48 || mode != 3 { // 3: client
			continue
		}
		if !s.answer.Load() {
			s.dropped.Add(1)
			continue
		}
		resp := make([]byte, 48)
		vn := (buf[0] >> 3) & 7
		resp[0] = vn<<3 | 4 // leap 0, the client's version, mode 4: server
		resp[1] = 1         // stratum 1
		resp[2] = buf[2]    // poll
		resp[3] = 0xec      // precision 2^-20 s
		// root delay and dispersion 0; reference id "TEST"
		copy(resp[12:16], "TEST")
		putTime(resp[16:24], recv.Add(-time.Second)) // reference time
		copy(resp[24:32], buf[40:48])                // origin: the client's transmit time
		putTime(resp[32:40], recv)
		putTime(resp[40:48], time.Now().Add(s.offset))
		if _, err := s.conn.WriteTo(resp, from); err == nil {
			s.served.Add(1)
		}
	}
}

func putTime(b []byte, t time.Time) {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	binary.BigEndian.PutUint32(b[0:4], uint32(secs))
	binary.BigEndian.PutUint32(b[4:8], uint32(frac))
}
