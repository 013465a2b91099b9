package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// spareMaker prepares the log's next segment off the write path, in the
// manner of etcd's file pipeline: zero-filling a segment (zeroFill) takes
// tens of milliseconds, which a rollover on the Ready loop would add to
// every proposal waiting behind it. Once the newest segment is half full
// the log asks for a spare and one goroutine prepares it: a file named
// spare-<n>.wal.tmp, preallocated, zero-filled to the segment size and
// synced. A rollover takes it and installs it (installSegment) under the
// next segment's name; its .tmp name means a crash leaves nothing that
// listSegments keeps. When no spare is ready (the goroutine is still
// filling one, or failed) the rollover creates its segment inline,
// fallocated but not filled (see wal.rollover): a spare is never needed
// for correctness. Asking only at half full keeps a log that is idle, or
// opened briefly, from writing (and holding) a segment it will not use
// soon.
//
// A spare takes a segment's worth of disk beside the log; wal.size and
// LogStore.Size leave it out (see wal.size).
type spareMaker struct {
	dir    string
	size   int64
	logger *slog.Logger

	// ready holds the spare once it is filled and synced. Only the
	// goroutine puts one there, and only when it is empty, so at most one
	// spare exists.
	ready chan *os.File
	// want wakes the goroutine to make a spare (request).
	want chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// chunkHook, when set before start, runs after every zero-filled
	// chunk of a spare (tests hold a fill in progress with it).
	chunkHook func()
}

// errSpareStopped ends a spare's fill when the log closes.
var errSpareStopped = errors.New("raft log closed")

func newSpareMaker(dir string, size int64, logger *slog.Logger) *spareMaker {
	return &spareMaker{
		dir: dir, size: size, logger: logger,
		ready: make(chan *os.File, 1),
		want:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// start runs the goroutine, which waits for the first request. close
// must follow.
func (p *spareMaker) start() { go p.run() }

func (p *spareMaker) run() {
	defer close(p.done)
	for n := 0; ; n++ {
		select {
		case <-p.want:
		case <-p.stop:
			return
		}
		if len(p.ready) > 0 {
			// A spare filled while a rollover went inline is still
			// waiting: it serves this request.
			continue
		}
		f, err := p.prepare(n)
		switch {
		case err == nil:
			p.ready <- f
		case errors.Is(err, errSpareStopped):
			return
		default:
			// The rollover creates its segment inline (and returns the
			// error if that fails too); the next request tries again.
			p.logger.Warn("raft log: preparing the next segment failed; the rollover will create it inline",
				"dir", p.dir, "err", err)
		}
	}
}

// prepare writes spare number n: preallocated, zero-filled and synced a
// chunk at a time, so the log's own fdatasyncs meanwhile never wait behind
// a whole segment of writeback (measured beside a 1 KiB write+fdatasync
// loop: one fdatasync after 64 MiB stalled it up to ~23 ms, one per MiB
// up to ~11 ms). A failed or stopped spare is removed.
func (p *spareMaker) prepare(n int) (*os.File, error) {
	path := filepath.Join(p.dir, fmt.Sprintf("spare-%d%s", n, segmentTmpExt))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("prepare spare segment: %w", err)
	}
	err = preallocate(f, p.size)
	if err == nil {
		err = zeroFill(f, 0, p.size, func() error {
			if p.chunkHook != nil {
				p.chunkHook()
			}
			select {
			case <-p.stop:
				return errSpareStopped
			default:
			}
			return fdatasync(f)
		})
	}
	if err == nil {
		err = fdatasync(f) // a zero size writes no chunk
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		if errors.Is(err, errSpareStopped) {
			return nil, err
		}
		return nil, fmt.Errorf("prepare spare segment %s: %w", filepath.Base(path), err)
	}
	return f, nil
}

// take returns the ready spare, or nil when there is none yet; it never
// waits. The caller owns the file.
func (p *spareMaker) take() *os.File {
	select {
	case f := <-p.ready:
		return f
	default:
		return nil
	}
}

// request asks for a spare; a request while one is ready or being
// prepared is a no-op.
func (p *spareMaker) request() {
	select {
	case p.want <- struct{}{}:
	default:
	}
}

// close stops the goroutine, waiting for it (a fill stops after its
// current chunk), and removes a spare nobody took. It is safe to call
// more than once.
func (p *spareMaker) close() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		if f := p.take(); f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	})
}
