// Package logship sends the box's log and its workloads' output to a
// remote syslog server: RFC 5424 messages over UDP (RFC 5426), TCP (RFC
// 6587) or TLS (RFC 5425), the streams octet-counted. The host name, the
// workload and its kind travel as structured data, with a sequence number
// that lets a receiver drop the duplicates a reconnect can cause. While
// the server is unreachable messages wait in a buffer of bounded size
// (the oldest go first when it is full, and the loss is reported); Send
// never blocks, so logging never waits on the network.
package logship
