package boot

import "github.com/nucbox/nucbox/netcfg/timesync"

// clock is the box's one NTP client: the config fetch at boot sets the
// clock with it before an https URL is checked, and the box's time stage
// keeps it synced once the config is applied.
var clock = timesync.New(timesync.Options{Logf: func(f string, a ...any) { Logf("time: "+f, a...) }})
