package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// A second taker of the state lock waits (and says so) until the first releases it; one whose
// context ends gives up with an error that says what it waited for.
func TestStateLockWaitsItsTurn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	first, err := lockState(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan string, 1)
	got := make(chan error, 1)
	go func() {
		l, err := lockState(context.Background(), path, func(holder string) { waiting <- holder })
		if err == nil {
			err = l.unlock()
		}
		got <- err
	}()
	holder := <-waiting // the second is blocked: it said so
	if want := "pid " + itoa(os.Getpid()); holder != want {
		t.Errorf("holder = %q, want %q", holder, want)
	}
	select {
	case err := <-got:
		t.Fatalf("the second took the lock while the first held it: %v", err)
	default:
	}
	if err := first.unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("second: %v", err)
	}

	held, err := lockState(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.unlock()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = lockState(ctx, path, func(string) { cancel() })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for another runnet --emulator command") {
		t.Errorf("cancelled wait: %v", err)
	}
}

// Commands that only read leave the embedded emulator's state file as it is: not rewritten,
// not even with the same bytes.
func TestEmbeddedReadOnlyCommandsLeaveTheStateAlone(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	run := func(args ...string) {
		t.Helper()
		streams, _, _, errOut := iostreams.Test()
		f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorState, state))
		if code := execute(context.Background(), f, NewRootCmd(f), append([]string{"--emulator"}, args...)); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	run("status") // creates it from the demo seed
	before, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"connector", "list"}, {"subnet", "list"}, {"inventory"}, {"status", "run-service", "--format", "json"}} {
		run(args...)
	}
	after, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("a read-only command rewrote the embedded emulator's state")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
