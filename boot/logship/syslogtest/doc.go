// Package syslogtest is a syslog server for tests: it takes RFC 5424
// messages, octet-counted over TCP or TLS, parses them with a syslog
// library of its own, and keeps them for the test to check.
package syslogtest
