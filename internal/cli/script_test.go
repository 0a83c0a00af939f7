package cli

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// TestMain lets scripts run runnet as a real process ("exec runnet ..."): testscript re-runs
// this test binary as the runnet command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"runnet": func() {
			os.Exit(Execute(context.Background(), os.Args[1:], iostreams.System()))
		},
	})
}

// TestScripts runs the end-to-end scenarios in testdata/script: each starts a fresh emulator
// seeded with the demo world (fast timings), points runnet at it with RUNNET_EMULATOR_HOST,
// runs runnet commands, and checks their output and the resulting API state through the real
// client libraries (the commands are the harness's: emu, api, exits, deploy).
func TestScripts(t *testing.T) {
	testscript.Run(t, harness.ScriptParams("testdata/script", harness.Scripts, func(env *testscript.Env) {
		env.Setenv(EnvEmulatorState, env.WorkDir+"/embedded-state.json")
	}))
}
