// Package reach answers whether one place on the box's networks reaches
// another: an ICMP echo, a TCP connect or a DNS query, sent from inside a
// network namespace (a container's) or the box's own.
//
// It is what `nucbox test` checks a config's isolation with: the probe
// starts where the workload's own traffic starts, so a firewall rule, a
// VLAN or a route that keeps the workload out keeps the probe out too.
// The namespace is entered on a locked thread that is given back only
// once it is in the box's namespace again; if the way back fails the
// thread is left to die with its goroutine, so no later work of PID 1
// runs inside a tenant's network.
package reach
