package ntpd

import (
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"time"
)

const (
	// packetLen is an NTP header without extensions or MAC.
	packetLen = 48
	// ntpEpochOffset is the seconds from 1900 (NTP's era 0) to 1970.
	ntpEpochOffset = 2208988800

	modeClient = 3
	modeServer = 4
	// LeapAlarm is the leap indicator of a clock that is not synced.
	LeapAlarm = 3
	// Unsynced is the stratum of a server that is not synced (RFC 5905's
	// MAXSTRAT): clients ignore it.
	Unsynced = 16
	// phi is RFC 5905's frequency tolerance (15 ppm): the dispersion a
	// clock gathers per second since its last sync.
	phi = 15e-6
)

// Upstream is what the box's own NTP client knows, which its answers
// pass on.
type Upstream struct {
	// Synced is set once an upstream server answered this boot.
	Synced bool
	// Stratum is the upstream's; the box is one more.
	Stratum int
	// Addr is the upstream's address: an IPv4 address is the reference
	// id itself, an IPv6 one is hashed as RFC 5905 says.
	Addr netip.Addr
	// At is the last sync: the reference time.
	At time.Time
	// RTT is the round trip to the upstream, RootDelay and
	// RootDispersion the upstream's own.
	RTT, RootDelay, RootDispersion time.Duration
}

// synced reports whether u makes the box a usable server: synced, with
// a stratum that leaves room for the box's.
func (u Upstream) synced() bool { return u.Synced && u.Stratum >= 1 && u.Stratum+1 < Unsynced }

// Reply is the answer to req, a request received at recv, stamped to
// leave at xmit; nil when req is no NTP client request this server
// answers (too short, another mode, an unknown version).
func Reply(req []byte, up Upstream, recv, xmit time.Time) []byte {
	if len(req) < packetLen {
		return nil
	}
	vn, mode := req[0]>>3&7, req[0]&7
	if mode != modeClient || vn < 1 || vn > 4 {
		return nil
	}
	r := make([]byte, packetLen)
	r[2] = req[2]              // poll: the client's
	r[3] = 0xec                // precision, -20 as a signed byte
	copy(r[24:32], req[40:48]) // origin: the client's transmit time
	putTime(r[32:40], recv)
	if !up.synced() {
		r[0] = LeapAlarm<<6 | vn<<3 | modeServer
		r[1] = Unsynced
		copy(r[12:16], "INIT")
		putTime(r[40:48], xmit)
		return r
	}
	r[0] = vn<<3 | modeServer
	r[1] = byte(up.Stratum + 1)
	binary.BigEndian.PutUint32(r[4:8], short(up.RootDelay+up.RTT))
	age := max(recv.Sub(up.At), 0)
	disp := up.RootDispersion + up.RTT/2 + time.Duration(float64(age)*phi)
	binary.BigEndian.PutUint32(r[8:12], short(disp))
	copy(r[12:16], refID(up.Addr))
	putTime(r[16:24], up.At)
	putTime(r[40:48], xmit)
	return r
}

// refID is an upstream's reference id: its IPv4 address, or the first
// four bytes of the MD5 of its IPv6 address.
func refID(a netip.Addr) []byte {
	a = a.Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		return b[:]
	case a.Is6():
		b := a.As16()
		h := md5.Sum(b[:])
		return h[:4]
	}
	return make([]byte, 4)
}

// short is d in NTP's short format, 16.16 fixed-point seconds, capped.
func short(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	v := d.Seconds() * 65536
	if v >= 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(v)
}

// putTime writes t in NTP's timestamp format (era 0; the zero time as 0).
func putTime(b []byte, t time.Time) {
	if t.IsZero() {
		clear(b[:8])
		return
	}
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	binary.BigEndian.PutUint32(b[0:4], uint32(secs))
	binary.BigEndian.PutUint32(b[4:8], uint32(frac))
}
