package plugin

import (
	"encoding/binary"
	"errors"
	"slices"
)

// Data segment merging.
//
// Go's linker writes a module's initial memory as tens of thousands of
// small active data segments (json.wasm: 58,483 segments for 1.6 MB),
// leaving out the short runs of zeros between them. wazero pays per
// segment twice: decoding them on every load, cache hit or not, and
// copying them one by one into every new instance. mergeData rewrites the
// data section as a few segments, writing the zeros in the gaps
// explicitly; memory starts zeroed, so every instance starts with exactly
// the same bytes.
//
// It leaves the module as it is unless every segment is active, targets
// memory 0 at an i32.const offset and none overlaps another once sorted by
// address (then the order in which they apply cannot matter), and the
// module has no data count section (so no code refers to a segment by
// index, with memory.init or data.drop).

// dataMergeGap is the longest run of zeros written out to join two
// segments: a segment costs wazero far more to decode and apply than a
// few hundred bytes cost to copy.
const dataMergeGap = 256

// dataMergeVersion numbers the rewrite for the instrumented-module cache.
const dataMergeVersion = 1

type dataSegment struct {
	offset uint32
	data   []byte
}

// mergeData returns wasm with its data segments merged, or wasm itself if
// it cannot or need not be.
func mergeData(wasm []byte) []byte {
	if len(wasm) < 8 {
		return wasm
	}
	var dataStart, dataEnd int // the data section's body
	var dataID int             // the section's start, id byte included
	for pos := 8; pos < len(wasm); {
		id := wasm[pos]
		size, n := binary.Uvarint(wasm[pos+1:])
		if n <= 0 || size > uint64(len(wasm)-pos-1-n) {
			return wasm
		}
		body := pos + 1 + n
		switch id {
		case 11:
			dataID, dataStart, dataEnd = pos, body, body+int(size)
		case 12: // data count: code may refer to segments by index
			return wasm
		}
		pos = body + int(size)
	}
	if dataStart == 0 {
		return wasm
	}
	segs, err := parseDataSegments(wasm[dataStart:dataEnd])
	if err != nil || len(segs) < 2 {
		return wasm
	}
	slices.SortStableFunc(segs, func(a, b dataSegment) int {
		return int(int64(a.offset) - int64(b.offset))
	})
	for i := 1; i < len(segs); i++ {
		if uint64(segs[i-1].offset)+uint64(len(segs[i-1].data)) > uint64(segs[i].offset) {
			return wasm // overlapping: order matters
		}
	}
	merged := []dataSegment{{segs[0].offset, slices.Clone(segs[0].data)}}
	for _, s := range segs[1:] {
		last := &merged[len(merged)-1]
		end := uint64(last.offset) + uint64(len(last.data))
		if gap := uint64(s.offset) - end; gap <= dataMergeGap {
			last.data = append(last.data, make([]byte, gap)...)
			last.data = append(last.data, s.data...)
			continue
		}
		merged = append(merged, dataSegment{s.offset, slices.Clone(s.data)})
	}
	if len(merged) == len(segs) {
		return wasm
	}
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(merged)))
	for _, s := range merged {
		body = append(body, 0x00, 0x41) // active, memory 0; i32.const
		body = appendSleb32(body, int32(s.offset))
		body = append(body, 0x0b) // end
		body = binary.AppendUvarint(body, uint64(len(s.data)))
		body = append(body, s.data...)
	}
	out := make([]byte, 0, len(wasm)-(dataEnd-dataID)+len(body)+6)
	out = append(out, wasm[:dataID]...)
	out = append(out, 11)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	return append(out, wasm[dataEnd:]...)
}

var errDataSegment = errors.New("a data segment mergeData does not handle")

// parseDataSegments reads a data section body of active memory-0 segments
// at constant i32 offsets.
func parseDataSegments(b []byte) ([]dataSegment, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errDataSegment
	}
	b = b[n:]
	segs := make([]dataSegment, 0, count)
	for range count {
		if len(b) < 2 || b[0] != 0x00 || b[1] != 0x41 {
			return nil, errDataSegment
		}
		off, n := readSleb32(b[2:])
		if n <= 0 || len(b) < 2+n+1 || b[2+n] != 0x0b {
			return nil, errDataSegment
		}
		b = b[2+n+1:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, errDataSegment
		}
		segs = append(segs, dataSegment{uint32(off), b[n : n+int(size)]})
		b = b[n+int(size):]
	}
	if len(b) != 0 {
		return nil, errDataSegment
	}
	return segs, nil
}

// readSleb32 decodes a signed LEB128 i32 (at most 5 bytes).
func readSleb32(b []byte) (int32, int) {
	var v int64
	var shift uint
	for i := 0; i < len(b) && i < 5; i++ {
		c := b[i]
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				return 0, -1
			}
			return int32(v), i + 1
		}
	}
	return 0, -1
}

func appendSleb32(b []byte, v int32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
