package cli

import (
	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// migrate's flags about the network underneath the switch: the source addresses the internet
// sees and Private Google Access.

func (o *MigrateOptions) addNetworkFlags(fl *pflag.FlagSet) {
	fl.BoolVar(&o.KeepEgressIP, "keep-egress-ip", false, "fail the nat-egress-ip check, instead of warning, when internet destinations would see other source addresses (partners' allow-lists)")
	fl.BoolVar(&o.EnablePrivateGoogleAccess, "enable-private-google-access", false, "turn Private Google Access on on the target subnet before the switch, when it is off (private-google-access check)")
}

// completeNetwork checks the network flags.
func (o *MigrateOptions) completeNetwork() error {
	if o.Resume && (o.set["keep-egress-ip"] || o.set["enable-private-google-access"]) {
		return exitcode.Usagef("--keep-egress-ip and --enable-private-google-access apply to a new migration, not to --resume")
	}
	return nil
}

// completeNetworkTarget checks the network flags against the target mode: Private Google
// Access is turned on on the Direct VPC subnet, which only --to direct has.
func (o *MigrateOptions) completeNetworkTarget() error {
	if o.set["enable-private-google-access"] && o.mode != egress.ModeDirect {
		return exitcode.Usagef("--enable-private-google-access turns Private Google Access on on the Direct VPC egress subnet; it is used with --to direct, not --to %s", o.mode)
	}
	return nil
}

func (o *MigrateOptions) networkOptions() migration.NetworkOptions {
	return migration.NetworkOptions{KeepEgressIP: o.KeepEgressIP, EnablePrivateGoogleAccess: o.EnablePrivateGoogleAccess}
}
