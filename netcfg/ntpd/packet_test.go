package ntpd

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// request is a client request of version vn sent at xmit.
func request(vn byte, xmit time.Time) []byte {
	b := make([]byte, packetLen)
	b[0] = vn<<3 | modeClient
	b[2] = 6
	putTime(b[40:48], xmit)
	return b
}

func getTime(b []byte) time.Time {
	secs, frac := binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8])
	if secs == 0 && frac == 0 {
		return time.Time{}
	}
	return time.Unix(int64(secs)-ntpEpochOffset, int64(uint64(frac)*1e9>>32)).UTC()
}

var (
	sent   = time.Date(2026, 12, 7, 11, 0, 0, 500_000_000, time.UTC)
	recv   = sent.Add(3 * time.Millisecond)
	xmit   = recv.Add(20 * time.Microsecond)
	synced = sent.Add(-10 * time.Minute)
)

// The reply's fields, synced and not: the same request gets the alarm
// and stratum 16 from a box whose clock was never synced, and its
// upstream's stratum plus one, reference id and time once it was.
func TestReply(t *testing.T) {
	req := request(4, sent)
	up := Upstream{Synced: true, Stratum: 2, Addr: netip.MustParseAddr("192.0.2.7"), At: synced,
		RTT: 4 * time.Millisecond, RootDelay: 10 * time.Millisecond, RootDispersion: 5 * time.Millisecond}
	for _, tc := range []struct {
		name    string
		up      Upstream
		li, str byte
		ref     string
		refTime time.Time
	}{
		{"never synced", Upstream{}, LeapAlarm, Unsynced, "INIT", time.Time{}},
		{"synced", up, 0, 3, string([]byte{192, 0, 2, 7}), synced},
		{"upstream at stratum 15", Upstream{Synced: true, Stratum: 15, At: synced}, LeapAlarm, Unsynced, "INIT", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Reply(req, tc.up, recv, xmit)
			if len(r) != packetLen {
				t.Fatalf("reply of %d bytes", len(r))
			}
			if li, vn, mode := r[0]>>6, r[0]>>3&7, r[0]&7; li != tc.li || vn != 4 || mode != modeServer {
				t.Errorf("li %d vn %d mode %d, want li %d vn 4 mode 4", li, vn, mode, tc.li)
			}
			if r[1] != tc.str || r[2] != 6 || string(r[12:16]) != tc.ref {
				t.Errorf("stratum %d poll %d refid %q, want stratum %d poll 6 refid %q", r[1], r[2], r[12:16], tc.str, tc.ref)
			}
			if got := getTime(r[16:24]); !got.Equal(tc.refTime.Truncate(time.Microsecond)) && got.Sub(tc.refTime).Abs() > time.Microsecond {
				t.Errorf("reference time %s, want %s", got, tc.refTime)
			}
			if string(r[24:32]) != string(req[40:48]) {
				t.Errorf("origin %x is not the client's transmit time %x", r[24:32], req[40:48])
			}
			if got := getTime(r[32:40]); got.Sub(recv).Abs() > time.Microsecond {
				t.Errorf("receive time %s, want %s", got, recv)
			}
			if got := getTime(r[40:48]); got.Sub(xmit).Abs() > time.Microsecond {
				t.Errorf("transmit time %s, want %s", got, xmit)
			}
		})
	}
	r := Reply(req, up, recv, xmit)
	// Root delay: the upstream's plus the round trip to it; dispersion:
	// the upstream's, half the round trip and 15 ppm of the 10 minutes
	// since the sync (9 ms).
	delay := time.Duration(binary.BigEndian.Uint32(r[4:8])) * time.Second >> 16
	disp := time.Duration(binary.BigEndian.Uint32(r[8:12])) * time.Second >> 16
	if (delay-14*time.Millisecond).Abs() > 100*time.Microsecond || (disp-16*time.Millisecond).Abs() > 100*time.Microsecond {
		t.Errorf("root delay %s dispersion %s, want 14ms and 16ms", delay, disp)
	}
	// An IPv6 upstream is hashed, not truncated.
	up.Addr = netip.MustParseAddr("2001:db8::1")
	if r := Reply(req, up, recv, xmit); string(r[12:16]) == "\x20\x01\x0d\xb8" || string(r[12:16]) == "\x00\x00\x00\x00" {
		t.Errorf("refid of an IPv6 upstream %x", r[12:16])
	}
}

// Only client requests of versions 1 to 4 get an answer, in the
// client's version.
func TestReplyDrops(t *testing.T) {
	up := Upstream{Synced: true, Stratum: 1, At: synced}
	if r := Reply(request(3, sent), up, recv, xmit); r == nil || r[0]>>3&7 != 3 {
		t.Fatalf("an NTPv3 request got %x, want a v3 reply", r)
	}
	server := request(4, sent)
	server[0] = 4<<3 | modeServer
	for name, req := range map[string][]byte{
		"short":     request(4, sent)[:47],
		"mode 4":    server,
		"version 5": request(5, sent),
		"version 0": request(0, sent),
	} {
		if r := Reply(req, up, recv, xmit); r != nil {
			t.Errorf("%s request answered: %x", name, r)
		}
	}
}
