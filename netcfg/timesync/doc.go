// Package timesync keeps the box's clock right. A box boots with whatever
// its hardware clock says (1970 on a board whose battery is flat, or a
// hypervisor's choice), and certificates, https config URLs and registry
// pulls need the right date. Clock asks NTP servers for the time, steps
// the system clock to it when it is far off and slews it when it is
// close, and writes the hardware clock, so that the next boot starts near
// the right time even before the network is up.
package timesync
