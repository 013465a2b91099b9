package raft

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func frameSnap(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := newSnapWriter(&buf)
	// Uneven writes, one larger than a chunk.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rand.IntN(3*maxSnapChunk/2))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapFrameRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 1000, maxSnapChunk, 3*maxSnapChunk + 17} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rand.Uint32())
		}
		got, err := io.ReadAll(newSnapReader(bytes.NewReader(frameSnap(t, data))))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: %d bytes back, err %v", size, len(got), err)
		}
	}
}

// TestSnapFrameRefusesCutAndCorruptStreams: a stream cut anywhere, or with
// any byte changed, is an error, never a short snapshot taken as whole.
func TestSnapFrameRefusesCutAndCorruptStreams(t *testing.T) {
	data := bytes.Repeat([]byte("trellis snapshot "), 200)
	framed := frameSnap(t, data)
	for cut := 0; cut < len(framed); cut += 1 + cut/7 {
		_, err := io.ReadAll(newSnapReader(bytes.NewReader(framed[:cut])))
		if !errors.Is(err, errSnapStream) {
			t.Fatalf("cut at %d of %d: err %v, want a snapshot stream error", cut, len(framed), err)
		}
	}
	for _, at := range []int{0, 3, 4, 100, len(framed) - 40, len(framed) - 1} {
		bad := bytes.Clone(framed)
		bad[at] ^= 0x40
		if _, err := io.ReadAll(newSnapReader(bytes.NewReader(bad))); err == nil {
			t.Fatalf("byte %d flipped: stream accepted", at)
		}
	}
}
