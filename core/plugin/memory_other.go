//go:build !(linux && (amd64 || arm64))

package plugin

import "errors"

// Elsewhere guest memory is wazero's own (a Go slice).
const mappedMemory = false

func mapMemory(uint64) ([]byte, error) { return nil, errors.New("not supported") }

func unmapMemory([]byte) {}
