// Package labtest reads the test files of `nucbox test`: what a config's
// workloads must reach and must not, and what status must say, each check
// with the line it was written on so that a failure names it.
//
//	within: 2m
//	checks:
//	  - from: ct10           # a container, or box
//	    ping: 10.0.10.1
//	  - from: ct20
//	    ping: 10.0.10.1
//	    expect: unreachable
//	  - from: ct10
//	    resolve: vm10.lab
//	    answer: 10.0.10.10
//	  - from: ct10
//	    connect: 10.0.10.1:53
//	  - status: vm10
//	    state: running
package labtest
