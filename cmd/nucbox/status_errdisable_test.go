package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
)

// An err-disabled port is a line of its own, with how to enable it.
func TestStatusErrDisabled(t *testing.T) {
	var b strings.Builder
	st := api.Status{BoxState: api.BoxState{Hostname: "lab1", Phase: "ready", ErrDisabled: []api.ErrDisabledPort{
		{Port: "web.0", Link: "v-web-0", Reason: "BPDU", Source: "02:00:00:00:00:01", Since: time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)},
	}}}
	if err := writeStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	if want := "port web.0  err-disabled since 2026-12-07T14:00:00Z: BPDU from 02:00:00:00:00:01 (nucbox port enable web.0)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("no %q in:\n%s", want, b.String())
	}
}
