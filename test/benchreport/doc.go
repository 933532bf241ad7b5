// Package benchreport is the one table of `make bench`: every figure with
// the baseline measured in the same run, the spread of repeated runs
// (min/median/max), the ratio of the medians and whether the goal is met.
//
// Benchmarks in several packages and processes (host-tier containers and
// VMs, QEMU boots of the appliance) each save their figures as one JSON
// file under DIR/figures; the report command (cmd/report) merges them and
// writes DIR/report.md and DIR/report.json and prints the table. A figure
// that misses its goal, or has no samples, is marked missed: the report
// never drops a figure because it looks bad.
//
// The package is used by tests and the bench command only; it imports
// nothing of the product.
package benchreport
