package mrt

import (
	"io"
	"sync"
)

// readAhead decompresses in its own goroutine so that decompression and
// record decoding use both cores: wall time is then close to the slower of
// the two instead of their sum.
type readAhead struct {
	ch   chan chunk
	free chan []byte
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	cur  []byte
	buf  []byte
	err  error
}

type chunk struct {
	buf []byte
	n   int
	err error
}

const (
	aheadChunk = 512 << 10
	aheadDepth = 4
)

func newReadAhead(src io.Reader) *readAhead {
	r := &readAhead{ch: make(chan chunk, aheadDepth), free: make(chan []byte, aheadDepth+2), stop: make(chan struct{})}
	for i := 0; i < aheadDepth+1; i++ {
		r.free <- make([]byte, aheadChunk)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(r.ch)
		for {
			var b []byte
			select {
			case b = <-r.free:
			case <-r.stop:
				return
			}
			n, err := io.ReadFull(src, b)
			if err == io.ErrUnexpectedEOF && n > 0 {
				err = nil // short read at the end: deliver, EOF comes next
			}
			select {
			case r.ch <- chunk{buf: b, n: n, err: err}:
			case <-r.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

func (r *readAhead) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.buf != nil {
			r.free <- r.buf
			r.buf = nil
		}
		c, ok := <-r.ch
		if !ok {
			return 0, io.EOF
		}
		r.buf, r.cur, r.err = c.buf, c.buf[:c.n], c.err
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops the goroutine.
func (r *readAhead) Close() error {
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
	return nil
}
