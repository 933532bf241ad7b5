package esp

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	if got := SlotPath(SlotB); got != "/EFI/Linux/nucbox-b.efi" {
		t.Errorf("SlotPath(SlotB) = %q", got)
	}
	conf := string(LoaderConfig())
	for _, line := range []string{"timeout 0", "editor no"} {
		if !strings.Contains(conf, "\n"+line+"\n") {
			t.Errorf("loader.conf lacks %q:\n%s", line, conf)
		}
	}
	// FAT labels are at most 11 characters; GPT names at most 36.
	if len(ESPLabel) > 11 || len(ESPName) > 36 || len(DataName) > 36 {
		t.Error("a name is too long for its field")
	}
}

func TestEnrollingLoaderConfig(t *testing.T) {
	conf := string(EnrollingLoaderConfig())
	if !strings.HasPrefix(conf, string(LoaderConfig())) || !strings.HasSuffix(conf, "\nsecure-boot-enroll force\n") {
		t.Errorf("loader.conf for enrolment:\n%s", conf)
	}
	// systemd-boot 252 enrols without asking only from a directory named auto.
	if KeysDir != "/loader/keys/auto" {
		t.Errorf("KeysDir %s", KeysDir)
	}
	if strings.Contains(string(LoaderConfig()), "secure-boot-enroll") {
		t.Error("the plain loader.conf enrols")
	}
}
