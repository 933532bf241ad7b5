package timesync

import (
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/beevik/ntp"
	"golang.org/x/sys/unix"
)

// Query asks one NTP server ("host" or "host:port") and checks that its
// answer can be used (synchronised, not a kiss of death, a sane root
// distance).
func Query(server string) (Sample, error) {
	// The dialer notes the address a name resolved to: the box's own
	// NTP server names its upstream by address.
	var addr netip.Addr
	dial := func(local, remote string) (net.Conn, error) {
		c, err := net.Dial("udp", remote)
		if err == nil {
			if ua, ok := c.RemoteAddr().(*net.UDPAddr); ok {
				addr = ua.AddrPort().Addr().Unmap()
			}
		}
		return c, err
	}
	r, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: QueryTimeout, Dialer: dial})
	if err != nil {
		return Sample{}, err
	}
	if err := r.Validate(); err != nil {
		return Sample{}, err
	}
	return Sample{Offset: r.ClockOffset, RTT: r.RTT, Stratum: int(r.Stratum), Addr: addr,
		RootDelay: r.RootDelay, RootDispersion: r.RootDispersion}, nil
}

// Adjust moves the system clock by offset: a step from StepThreshold on,
// a slew below it (the kernel's adjtime, so that time never runs
// backwards for a small correction), and writes the hardware clock
// after a step.
func Adjust(offset time.Duration) (stepped bool, err error) {
	if offset.Abs() < StepThreshold {
		tx := unix.Timex{Modes: unix.ADJ_OFFSET_SINGLESHOT, Offset: offset.Microseconds()}
		_, err := unix.Adjtimex(&tx)
		return false, err
	}
	ts := unix.NsecToTimespec(time.Now().Add(offset).UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return true, err
	}
	// The hardware clock is a convenience for the next boot; a board
	// without one still has the right time now.
	_ = WriteRTC(time.Now())
	return true, nil
}

// WriteRTC sets the hardware clock (/dev/rtc0, kept in UTC) to t.
func WriteRTC(t time.Time) error {
	f, err := os.OpenFile("/dev/rtc0", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	u := t.UTC()
	return unix.IoctlSetRTCTime(int(f.Fd()), &unix.RTCTime{
		Sec: int32(u.Second()), Min: int32(u.Minute()), Hour: int32(u.Hour()),
		Mday: int32(u.Day()), Mon: int32(u.Month()) - 1, Year: int32(u.Year()) - 1900,
	})
}
