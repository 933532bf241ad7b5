package randseed

import (
	"bytes"
	"errors"
	"testing"
)

func TestSeedRoundTrip(t *testing.T) {
	id := Identity("dmi-uuid", "part-uuid")
	var data [Size]byte
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, cred := range []bool{true, false} {
		in := Seed{Creditable: cred, Identity: id, Data: data}
		out, err := Parse(in.Marshal())
		if err != nil {
			t.Fatalf("creditable=%v: %v", cred, err)
		}
		if out != in {
			t.Errorf("creditable=%v: round trip changed the seed", cred)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	good := Fresh([Size]byte{1, 2, 3}, Identity("a"))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	for _, tc := range []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrNotSeed},
		{"short", good[:len(good)-1], ErrNotSeed},
		{"long", append(bytes.Clone(good), 0), ErrNotSeed},
		{"other magic", flip(0), ErrNotSeed},
		{"flag edited", flip(flagOff), ErrChecksum},
		{"identity edited", flip(identityOff), ErrChecksum},
		{"seed edited", flip(seedOff + 100), ErrChecksum},
		{"checksum edited", flip(fileSize - 1), ErrChecksum},
	} {
		if _, err := Parse(tc.file); !errors.Is(err, tc.want) {
			t.Errorf("%s: Parse = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Parse(good); err != nil {
		t.Errorf("control: the unedited file: %v", err)
	}
}

func TestIdentityIsUnambiguous(t *testing.T) {
	if Identity("ab", "c") == Identity("a", "bc") {
		t.Error("parts are not delimited: (ab,c) and (a,bc) give one identity")
	}
	if Identity("x") != Identity("x") {
		t.Error("identity is not deterministic")
	}
}
