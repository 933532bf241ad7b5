// Package arch holds the tests that keep the repository's shape true: which
// packages may import which (data flows down from config to the domain
// packages, never back up), how big PID 1 proper may grow, how long a
// product file may be, and that every skip goes through package test/ci.
// They read the package graph with `go list` and the sources with
// go/parser, so they run in the pure-Go tier.
package arch
