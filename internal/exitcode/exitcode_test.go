package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// classified is an error a classifier knows.
type classified struct{ code int }

func (c *classified) Error() string { return fmt.Sprintf("classified %d", c.code) }

func classify(e error) (int, bool) {
	if c, ok := e.(*classified); ok {
		return c.code, true
	}
	return 0, false
}

// The API errors are mapped by internal/cloud's classifier (cloud.APIExitCode, tested there);
// this is how FromError uses a classifier.
func TestFromError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", errors.New("x"), Failure},
		{"context canceled", context.Canceled, Failure},
		{"usage", Usagef("bad %s", "flag"), Usage},
		{"wrapped usage", fmt.Errorf("ctx: %w", Usagef("bad")), Usage},
		{"explicit wrap", Wrap(Preflight, errors.New("subnet too small")), Preflight},
		{"rolled back", Errorf(RolledBack, "rolled back"), RolledBack},
		{"silent", Silent(Preflight), Preflight},
		{"outermost wins", Wrap(RolledBack, Wrap(Conflict, errors.New("x"))), RolledBack},
		{"explicit beats classified", Wrap(Failure, &classified{Permission}), Failure},
		{"classified", &classified{Permission}, Permission},
		{"classified, wrapped", fmt.Errorf("update service: %w", &classified{Conflict}), Conflict},
		{"classified inside join", errors.Join(errors.New("a"), &classified{Permission}), Permission},
		{"usage with a classified cause", Wrap(Usage, &classified{Permission}), Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromError(tt.err, classify); got != tt.want {
				t.Errorf("FromError(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if got := FromError(&classified{Permission}); got != Failure {
		t.Errorf("without a classifier: %d, want 1", got)
	}
}

// cycle wraps itself; FromError must still terminate.
type cycle struct{ next error }

func (c *cycle) Error() string { return "cycle" }
func (c *cycle) Unwrap() error { return c.next }

func TestFromErrorCycleTerminates(t *testing.T) {
	c := &cycle{}
	c.next = c
	// errors.As would loop forever on a cycle too, so only walk is tested.
	n := 0
	walk(c, 0, func(error) bool { n++; return false })
	if n != maxDepth {
		t.Fatalf("walk visited %d errors, want %d", n, maxDepth)
	}
}

func TestWrap(t *testing.T) {
	if Wrap(Conflict, nil) != nil {
		t.Fatal("Wrap(code, nil) must be nil")
	}
	base := errors.New("base")
	err := Wrap(Conflict, base)
	if !errors.Is(err, base) {
		t.Fatal("Wrap must keep the chain")
	}
	if err.Error() != "base" {
		t.Fatalf("Error() = %q", err.Error())
	}
	var ee *Error
	if !errors.As(Silent(Preflight), &ee) || !ee.Silent() || ee.Code != Preflight {
		t.Fatalf("Silent: got %#v", ee)
	}
	if got := Silent(3).Error(); got != "exit status 3" {
		t.Fatalf("Silent(3).Error() = %q", got)
	}
}

func TestTable(t *testing.T) {
	want := []int{OK, Failure, Usage, Preflight, Permission, Conflict, RolledBack}
	if len(Table) != len(want) {
		t.Fatalf("Table has %d entries, want %d", len(Table), len(want))
	}
	seen := map[string]bool{}
	for i, e := range Table {
		if e.Code != want[i] {
			t.Errorf("Table[%d].Code = %d, want %d", i, e.Code, want[i])
		}
		if e.Name == "" || e.Meaning == "" || seen[e.Name] {
			t.Errorf("Table[%d] = %+v: name must be set and unique, meaning set", i, e)
		}
		seen[e.Name] = true
		if Name(e.Code) != e.Name {
			t.Errorf("Name(%d) = %q, want %q", e.Code, Name(e.Code), e.Name)
		}
	}
	if Name(99) != "" {
		t.Error("Name(99) should be empty")
	}
}
