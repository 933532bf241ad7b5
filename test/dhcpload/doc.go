// Package dhcpload is the load of the DHCP benchmark: many simulated
// clients, each with a MAC of its own, doing the full DISCOVER, OFFER,
// REQUEST, ACK exchange against one server, a bounded number at a time.
//
// All clients share one packet socket (nclient4's raw UDP conn, which
// needs no address on the link) and one reader that hands each reply to
// the exchange waiting for its transaction ID. Every message carries the
// broadcast flag, so a server answers to the broadcast MAC, which the
// socket hears whatever client MAC the message was for.
//
// A run is only a figure if it is correct: Result.Check fails when a
// client got no lease, when two clients got the same address, or when an
// address lies outside the range served, so a server that is fast because
// it answers wrongly reports no rate.
//
// Callers open the socket where they like (a test opens it inside a
// client namespace); once open it stays in that namespace whichever
// thread uses it. The package is used by tests and benchmarks only; it
// imports nothing of the product.
package dhcpload
