// Package harness is the test harness of runnet's end-to-end tests: an emulator on loopback
// (StartEmulator, NewWorld), runnet run in process against it (World.Run, through a Main the
// caller supplies), helpers that change the emulated world through the real client libraries
// as another tool would (World.ChangeService, CreateServices, InsertSubnet, ...), a barrier
// that makes concurrent runs race deterministically (HoldWrites), and the commands of the
// txtar scripts (ScriptParams).
//
// It is test code: only _test.go files import it (the depcheck test in internal/depcheck
// enforces it), which is why it may use the Google client libraries directly. It does not
// import internal/cli: cli's own tests use it too, and a package cannot import its importer;
// runnet is passed in as a Main.
package harness
