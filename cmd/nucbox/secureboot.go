package main

import (
	"fmt"
	"time"

	"github.com/nucbox/nucbox/image/secureboot"
	"github.com/spf13/cobra"
)

func newSecureBootCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "secureboot",
		Short: "Make Secure Boot keys for boxes that boot only images you signed",
		Long: `A box with Secure Boot on boots only EFI programs signed by a key in its
firmware's db. With your own keys:

  1. nucbox secureboot keys keys/sb        once; keep the directory safe
  2. nucbox image build ... --disk 2GiB --sign-key keys/sb/db.key \
       --sign-cert keys/sb/db.crt --enroll-keys keys/sb
  3. put the box's firmware into setup mode (clear the Secure Boot keys
     in its setup menu) and boot the stick: systemd-boot enrols db, KEK
     and PK by itself and reboots with Secure Boot on
  4. later images: nucbox image build --uki --sign-key ... --sign-cert ...
     --image-version N, and nucbox upgrade; a box that booted with Secure
     Boot on refuses images its db would not boot`,
	}
	c.AddCommand(newSecureBootKeysCmd())
	return c
}

func newSecureBootKeysCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keys DIR",
		Short: "Make a PK/KEK/db key set and the files that enrol it",
		Long: `Write a new Secure Boot key set into DIR (created if needed; refused if it
already holds one):

  PK.key  PK.crt  PK.auth     platform key; PK.auth is signed by itself
  KEK.key KEK.crt KEK.auth    key exchange key; KEK.auth signed by the PK
  db.key  db.crt  db.auth     image signing key; db.auth signed by the KEK

Keys are RSA-2048 (PEM, mode 0600), certificates self-signed for 30
years. The .auth files are authenticated EFI variable writes: image
build --enroll-keys puts them on the ESP, where systemd-boot enrols
them; firmware setup menus and efi-updatevar take them too. Sign images
with db.key and db.crt.`,
		Args: exactFiles(1, "a directory for the key set"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := secureboot.Generate(args[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote PK, KEK and db keys, certificates and .auth files to %s\nsign images with --sign-key %s --sign-cert %s\n",
				args[0], secureboot.KeyFile(args[0], "db"), secureboot.CertFile(args[0], "db"))
			return nil
		},
	}
}
