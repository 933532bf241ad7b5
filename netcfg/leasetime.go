package netcfg

import "time"

// infiniteLease is DHCP's 0xffffffff seconds: the lease never expires.
const infiniteLease = time.Duration(0xffffffff) * time.Second

// leaseTimes are the instants of RFC 2131's client state machine.
type leaseTimes struct {
	T1, T2, Expiry time.Time // all zero for an infinite lease
}

// computeLeaseTimes applies RFC 2131 section 4.4.5: T1 and T2 default to
// 0.5 and 0.875 of the lease, and values the server sends that break
// T1 < T2 < lease are replaced by the defaults rather than trusted.
func computeLeaseTimes(acquired time.Time, lease, t1, t2 time.Duration) leaseTimes {
	if lease <= 0 || lease >= infiniteLease {
		return leaseTimes{}
	}
	if t2 <= 0 || t2 >= lease {
		t2 = lease * 7 / 8
	}
	if t1 <= 0 || t1 >= t2 {
		t1 = min(lease/2, t2)
		if t1 == t2 {
			t1 = t2 / 2
		}
	}
	return leaseTimes{T1: acquired.Add(t1), T2: acquired.Add(t2), Expiry: acquired.Add(lease)}
}

// minRetry is the floor between retransmissions while renewing or
// rebinding. RFC 2131 suggests 60 s, which with the short leases labs use
// would mean no retry at all before T2 or expiry.
const minRetry = time.Second

// retryAt is when to retransmit a renewal (deadline T2) or a rebinding
// request (deadline expiry): after half the remaining time, per RFC 2131,
// but not sooner than minRetry and never after the deadline.
func retryAt(now, deadline time.Time) time.Time {
	remaining := deadline.Sub(now)
	if remaining <= minRetry {
		return deadline
	}
	return now.Add(max(remaining/2, minRetry))
}
