// Package secureboot makes what a machine needs to trust images signed by
// its owner: a PK/KEK/db key set, the EFI signature lists and signed
// (time-based authenticated) variable updates that enrol them, and, on
// the box, the reading of the SecureBoot and db variables that decide
// whether an image would boot.
//
// PK.auth is signed by the PK itself, KEK.auth by the PK and db.auth by
// the KEK: firmware in setup mode accepts that order (db, KEK, then PK,
// which ends setup mode), and so does systemd-boot's enrolment from
// /loader/keys/auto on the ESP.
package secureboot
