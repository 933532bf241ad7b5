package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func nested(levels int, open func(i int) string, end string) string {
	var b strings.Builder
	for i := range levels {
		b.WriteString(open(i))
	}
	b.WriteString(end)
	return b.String()
}

// blockMaps nests mappings by indentation: "k:\n  k:\n    k: v".
func blockMaps(levels int) string {
	return nested(levels, func(i int) string { return strings.Repeat(" ", 2*i) + "k:\n" }, strings.Repeat(" ", 2*levels)+"v: 1\n")
}

// indentless alternates a key and a sequence at the key's column.
func indentless(levels int) string {
	return nested(levels, func(i int) string {
		pad := strings.Repeat(" ", 2*(i/2))
		if i%2 == 0 {
			return pad + "k:\n"
		}
		return pad + "-\n"
	}, "")
}

func TestNestingDepth(t *testing.T) {
	mib := 1 << 20
	for _, tc := range []struct {
		name      string
		in        string
		deep      bool
		line, col int // where the error points, when deep
	}{
		{"a megabyte of [", strings.Repeat("[", mib), true, 1, 65},
		{"a megabyte of {a: ", strings.Repeat("{a: ", mib/4), true, 1, 4*64 + 1},
		{"a megabyte of - ", strings.Repeat("- ", mib/2) + "x", true, 1, 2*64 + 1},
		{"a megabyte of ? ", strings.Repeat("? ", mib/2) + "x", true, 1, 2*64 + 1},
		{"block mappings 65 deep", blockMaps(65), true, 65, 129},
		{"block mappings 64 deep", blockMaps(63), false, 0, 0},
		{"flow 64 deep", strings.Repeat("[", 64) + strings.Repeat("]", 64), false, 0, 0},
		{"flow 64 deep, closed, then again", "a: " + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "\nb: " + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "\n", false, 0, 0},
		{"block then flow", blockMaps(40)[:len(blockMaps(40))-len("v: 1\n")] + "v: " + strings.Repeat("[", 30), true, 41, 2*40 + 4 + 23},
		{"indentless sequences under keys", indentless(70), true, 65, 0},
		{"a config", "hostname: lab1\nvms:\n- name: a\n  disks:\n  - {path: a.qcow2, size: 1GiB}\n  nics: [{vlan: 10}]\n", false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse("deep.yaml", []byte(tc.in))
			took := time.Since(start)
			if took > 5*time.Second {
				t.Errorf("Parse took %v", took)
			}
			var list ErrorList
			isDeep := errors.As(err, &list) && len(list) == 1 && strings.Contains(list[0].Message, "nested more than 64 deep")
			if isDeep != tc.deep {
				t.Fatalf("Parse = %v; want the nesting error: %v", err, tc.deep)
			}
			if !tc.deep {
				return
			}
			e := list[0]
			if e.File != "deep.yaml" || e.Line != tc.line || (tc.col != 0 && e.Column != tc.col) {
				t.Errorf("error at %d:%d, want %d:%d: %v", e.Line, e.Column, tc.line, tc.col, e)
			}
			if want := fmt.Sprintf("deep.yaml:%d:%d: ", e.Line, e.Column); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			t.Logf("%v (in %v)", err, took)
		})
	}
}
