package boot

import "testing"

func TestConsoleDevice(t *testing.T) {
	for in, want := range map[string]string{
		"ttyS0                -W- (EC p a)    4:64\ntty0                 -WU (E  p  )    4:1\n": "ttyS0",
		"tty0                 -WU (EC p  )    4:1\nttyS0                -W- (E  p a)    4:64\n": "tty0",
		"ttyS0                -W- (E p a)    4:64\n":                                            "",
		"": "",
	} {
		if got := consoleDevice(in); got != want {
			t.Errorf("consoleDevice(%q) = %q, want %q", in, got, want)
		}
	}
}
