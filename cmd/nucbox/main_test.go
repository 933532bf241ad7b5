package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// run executes the CLI in-process as a user would type it.
func run(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.Execute(); err != nil {
		if err != errSilent {
			errb.WriteString("nucbox: " + err.Error() + "\n")
		}
		code = exitCode(err)
	}
	return out.String(), errb.String(), code
}

func TestGolden(t *testing.T) {
	tests := []goldenCase{
		{"help", []string{"--help"}, 0},
		{"validate-help", []string{"validate", "--help"}, 0},
		{"plan-help", []string{"plan", "--help"}, 0},
		{"image-build-help", []string{"image", "build", "--help"}, 0},
		{"validate-basic", []string{"validate", "../../examples/basic.yaml"}, 0},
		{"validate-all-examples", []string{"validate", "../../examples/basic.yaml", "../../examples/lab.yaml", "../../examples/static.yaml"}, 0},
		{"validate-bad", []string{"validate", "testdata/bad.yaml"}, 1},
		{"validate-missing-file", []string{"validate", "testdata/no-such-file.yaml"}, 1},
		{"validate-no-args", []string{"validate"}, 2},
		{"plan-lab", []string{"plan", "../../examples/lab.yaml"}, 0},
		{"plan-lab-json", []string{"plan", "../../examples/lab.yaml", "--output", "json"}, 0},
		{"plan-bad-output", []string{"plan", "../../examples/lab.yaml", "--output", "yaml"}, 2},
		{"plan-bad", []string{"plan", "testdata/bad.yaml"}, 1},
		{"unknown-flag", []string{"plan", "--frobnicate"}, 2},
		{"image-build-no-flags", []string{"image", "build"}, 2},
	}
	runGolden(t, "", tests, nil, nil)
}

// goldenCase is one command line, as a user would type it, and the exit
// status it must end with.
type goldenCase struct {
	name string
	args []string
	code int
}

// runGolden runs each case as a subtest and compares its transcript with
// testdata/<prefix><name>.golden. in, when not nil, turns placeholders in
// the arguments into what this run needs (the test server's URL, a
// temporary directory); out, when not nil, turns those back in the
// transcript, so that the golden files do not change from run to run.
func runGolden(t *testing.T, prefix string, tests []goldenCase, in, out *strings.Replacer) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if in != nil {
				args = make([]string, len(tt.args))
				for i, a := range tt.args {
					args[i] = in.Replace(a)
				}
			}
			stdout, stderr, code := run(args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			got := "$ nucbox " + strings.Join(tt.args, " ") + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr
			if out != nil {
				got = out.Replace(got)
			}
			checkGolden(t, filepath.Join("testdata", prefix+tt.name+".golden"), got)
		})
	}
}

// serveBox serves the real API handler for box over TLS until the test
// ends.
func serveBox(t *testing.T, box api.Box) *httptest.Server {
	t.Helper()
	ts := httptest.NewTLSServer(api.New(api.Options{Box: box, Token: cliToken, Links: testLinks, Switch: testSwitch}))
	t.Cleanup(ts.Close)
	return ts
}

// checkGolden compares got with a golden file, or rewrites the file with
// -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/nucbox -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/nucbox -update rewrites it):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

func TestSchemaIsJSON(t *testing.T) {
	stdout, stderr, code := run("schema")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	props, _ := s["properties"].(map[string]any)
	if props == nil {
		// invopop puts the root under $defs and refers to it.
		defs, _ := s["$defs"].(map[string]any)
		cfg, _ := defs["Config"].(map[string]any)
		props, _ = cfg["properties"].(map[string]any)
	}
	for _, field := range []string{"hostname", "uplink", "vms", "containers"} {
		if _, ok := props[field]; !ok {
			t.Errorf("schema has no property %q", field)
		}
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code := run("version")
	if code != 0 || !strings.HasPrefix(stdout, "nucbox "+version+" (go") {
		t.Fatalf("version printed %q (exit %d)", stdout, code)
	}
	stdout, _, _ = run("--version")
	if stdout != "nucbox "+version+"\n" {
		t.Fatalf("--version printed %q", stdout)
	}
}

func TestModulesDirFor(t *testing.T) {
	if got := modulesDirFor("/boot/vmlinuz-6.1.0-26-amd64"); got != "/lib/modules/6.1.0-26-amd64" {
		t.Fatalf("modulesDirFor = %q", got)
	}
}

// TestImageBuildPlatformFlags: --modules and the platform's flags are
// refused where they would be ignored, and an unreachable mirror stops
// the build with the URL it tried and no output directory.
func TestImageBuildPlatformFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--modules", "/lib/modules/x"}, "--modules is for a custom kernel: give --kernel too"},
		{[]string{"--kernel", "/boot/vmlinuz-x", "--mirror", "http://x"}, "--mirror and --cache are for the pinned platform"},
		{[]string{"--kernel", "/boot/vmlinuz-x", "--cache", "/tmp/x"}, "--mirror and --cache are for the pinned platform"},
		{[]string{"--mirror", "http://127.0.0.1:1", "--cache", filepath.Join(t.TempDir(), "cache")}, "http://127.0.0.1:1/debian"},
	} {
		args := append([]string{"image", "build", "--config", "../../examples/basic.yaml", "-o", out}, c.args...)
		_, stderr, code := run(args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused build created the output directory")
	}
}

// TestImageBuildFlagsBeforeFetch: a usage mistake in a platform build is
// reported without touching the mirror (here one that would fail).
func TestImageBuildFlagsBeforeFetch(t *testing.T) {
	_, stderr, code := run("image", "build", "--config", "../../examples/basic.yaml", "-o", t.TempDir(),
		"--mirror", "http://127.0.0.1:1", "--cache", t.TempDir(), "--disk", "1GB")
	if code != 2 || strings.Contains(stderr, "127.0.0.1") || !strings.Contains(stderr, "--disk") {
		t.Fatalf("exit %d, stderr %q; want the --disk mistake alone", code, stderr)
	}
}
