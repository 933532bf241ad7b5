// Package loopdev attaches files as loop devices for host-tier tests.
// It is for _test.go files only: it fails and skips tests through
// testing.TB and leaves nothing attached when the test ends.
package loopdev
