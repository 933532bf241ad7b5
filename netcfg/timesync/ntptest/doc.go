// Package ntptest is an NTP server for tests: it answers client requests
// on a UDP socket with its own clock (the host's, optionally shifted), so
// that a test can show a box setting its clock from the network.
package ntptest
