// Package xfer is the bounded TCP transfer of the throughput benchmark,
// what iperf does in a few lines: the sender writes exactly N bytes and
// half-closes, the receiver counts what arrives until EOF and answers with
// the count, and the sender's rate is N over the time from its first write
// to that answer (the receiver has every byte by then). A count that is
// not N is an error, so a path that loses or adds bytes cannot report a
// rate.
//
// Callers open the listener and the connection where they like (a test
// opens each inside a network namespace of its own); once open, a socket
// stays in its namespace whichever thread uses it.
//
// The package is used by tests and benchmarks only; it imports nothing of
// the product.
package xfer
