package main

import (
	"fmt"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/spf13/cobra"
)

// newPowerCmd is `nucbox poweroff` and `nucbox reboot`: the request goes
// through the API, so it works from another machine too. The poweroff and
// reboot links in the image (argv[0]) signal PID 1 directly instead.
func newPowerCmd(action api.PowerAction) *cobra.Command {
	var r remote
	verb, doing := "Power off", "powering off"
	if action == api.Reboot {
		verb, doing = "Reboot", "rebooting"
	}
	c := &cobra.Command{
		Use:   string(action),
		Short: verb + " a running box in order (workloads stopped, filesystems unmounted)",
		Long: verb + ` a running box through its API. The box stops its workloads in
order (VMs get an ACPI shutdown, containers SIGTERM), unmounts its
filesystems and then ` + map[api.PowerAction]string{api.PowerOff: "powers off", api.Reboot: "reboots"}[action] + `. The command returns once the box has
accepted the request.`,
		Example: fmt.Sprintf(`  nucbox %s
  nucbox %s --host https://192.168.1.10:8443 --token $TOKEN --insecure`, action, action),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := r.client()
			if err != nil {
				return err
			}
			_, body, err := cl.Power(c.Context(), action)
			if err != nil {
				return err
			}
			if r.output == "json" {
				return printJSON(c.OutOrStdout(), body)
			}
			fmt.Fprintf(c.OutOrStdout(), "The box is %s.\n", doing)
			return nil
		},
	}
	addRemoteFlags(c, &r)
	return c
}

func newPowerOffCmd() *cobra.Command { return newPowerCmd(api.PowerOff) }
func newRebootCmd() *cobra.Command   { return newPowerCmd(api.Reboot) }
