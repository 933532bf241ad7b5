package ci

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func TestEnforced(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "false": false, "FALSE": false, "False": false, "0": false, " false ": false,
		"true": true, "TRUE": true, "1": true, "yes": true, "on": true, "github": true,
	} {
		t.Setenv(Var, v)
		if got := Enforced(); got != want {
			t.Errorf("CI=%q: Enforced() = %v, want %v", v, got, want)
		}
	}
	os.Unsetenv(Var)
	if Enforced() {
		t.Error("CI unset: Enforced() = true")
	}
}

// helperEnv selects, in a child test process, the helper that TestOutcome
// runs; the helper tests do nothing in an ordinary run.
const helperEnv = "NUCBOX_CI_HELPER"

func TestHelperMissing(t *testing.T) {
	if os.Getenv(helperEnv) != "missing" {
		return
	}
	Missing(t, "frobnicator not installed (apt-get install frob)")
	t.Log("still running after Missing")
}

func TestHelperHostLacks(t *testing.T) {
	if os.Getenv(helperEnv) != "hostlacks" {
		return
	}
	HostLacks(t, "no widget in this kernel; the QEMU tier covers it")
	t.Log("still running after HostLacks")
}

// TestOutcome runs each helper in a child `go test` process, as a real
// test would call it, and reads go test's own verdict: under CI a
// missing prerequisite fails with the same message it skips with
// otherwise, and a host limitation skips either way.
func TestOutcome(t *testing.T) {
	const missingMsg = "missing prerequisite: frobnicator not installed (apt-get install frob)"
	const hostMsg = "host limitation, not a missing prerequisite: no widget in this kernel; the QEMU tier covers it"
	for _, tc := range []struct {
		helper, ci string
		set        bool
		verdict    string // PASS, SKIP or FAIL of the helper test
		msg        string
	}{
		{"missing", "", false, "SKIP", missingMsg},
		{"missing", "", true, "SKIP", missingMsg},
		{"missing", "false", true, "SKIP", missingMsg},
		{"missing", "0", true, "SKIP", missingMsg},
		{"missing", "true", true, "FAIL", missingMsg},
		{"missing", "1", true, "FAIL", missingMsg},
		{"missing", "yes", true, "FAIL", missingMsg},
		{"hostlacks", "", false, "SKIP", hostMsg},
		{"hostlacks", "true", true, "SKIP", hostMsg},
	} {
		name := map[string]string{"missing": "TestHelperMissing", "hostlacks": "TestHelperHostLacks"}[tc.helper]
		cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
		env := []string{helperEnv + "=" + tc.helper}
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, Var+"=") && !strings.HasPrefix(e, helperEnv+"=") {
				env = append(env, e)
			}
		}
		if tc.set {
			env = append(env, Var+"="+tc.ci)
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		desc := tc.helper + " with CI unset"
		if tc.set {
			desc = tc.helper + " with CI=" + tc.ci
		}
		verdict := regexp.MustCompile(`--- (PASS|SKIP|FAIL): ` + name).FindSubmatch(out)
		if verdict == nil {
			t.Errorf("%s: no verdict for %s (err %v):\n%s", desc, name, err, out)
			continue
		}
		if string(verdict[1]) != tc.verdict {
			t.Errorf("%s: %s, want %s:\n%s", desc, verdict[1], tc.verdict, out)
		}
		if (tc.verdict == "FAIL") != (err != nil) {
			t.Errorf("%s: test binary exit error %v, want failure only with FAIL", desc, err)
		}
		if !strings.Contains(string(out), tc.msg) {
			t.Errorf("%s: output lacks %q:\n%s", desc, tc.msg, out)
		}
		if strings.Contains(string(out), "still running after") {
			t.Errorf("%s: the test went on after the helper ended it:\n%s", desc, out)
		}
	}
}
