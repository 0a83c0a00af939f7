// Package faultmatrix holds runnet's fault-matrix test (faultmatrix_test.go): every API call a
// migration makes, failing transiently, permanently and after it was applied, and the runnet
// process killed at every call, against the emulator; after each run (and after
// `runnet migrate --resume` where it was killed or left a journal) the workload must have
// served only from Ready revisions, end fully migrated or fully as it was, and keep every
// field but its VPC access. docs/reliability.md describes the method and its results.
//
//	go test ./internal/faultmatrix/                          # the CI matrix
//	RUNNET_FAULT_MATRIX=full go test ./internal/faultmatrix/ # every occurrence, more fault kinds
//
// The package has no code of its own: it only tests.
package faultmatrix
