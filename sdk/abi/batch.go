package abi

// A batch is how records cross the boundary: one buffer, one call.
//
//	batch  = count:u32 { len:u32 item[len] }*count
//
// For a validator an item is the payload itself. For a connector an item is
// an encoded Record. The outer length lets a reader skip an item without
// understanding it, and lets a later minor revision append fields to a
// record: readers ignore bytes after the fields they know.

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one message handed to a connector.
//
//	record = offset:u64 timestamp_ms:i64 key:bytes headers:(count:u32 {key:bytes value:bytes}*) value:bytes
//
// where bytes = len:u32 data[len].
type Record struct {
	// Offset is the record's position in its source (a topic offset).
	Offset uint64
	// TimestampMs is the record's time in Unix milliseconds.
	TimestampMs int64
	Key         []byte
	Headers     []Header
	Value       []byte
}

// AppendRecord appends r's encoding (without the outer length).
func AppendRecord(b []byte, r *Record) []byte {
	b = AppendU64(b, r.Offset)
	b = AppendU64(b, uint64(r.TimestampMs))
	b = AppendBytes(b, r.Key)
	b = AppendU32(b, uint32(len(r.Headers)))
	for _, h := range r.Headers {
		b = AppendString(b, h.Key)
		b = AppendBytes(b, h.Value)
	}
	return AppendBytes(b, r.Value)
}

// RecordSize is the encoded size of r without the outer length.
func RecordSize(r *Record) int {
	n := 8 + 8 + 4 + len(r.Key) + 4 + 4 + len(r.Value)
	for _, h := range r.Headers {
		n += 8 + len(h.Key) + len(h.Value)
	}
	return n
}

// DecodeRecord decodes one record item. Key, header values and Value alias
// item.
func DecodeRecord(item []byte) (Record, error) {
	r, _, err := DecodeRecordInto(item, nil)
	if len(r.Headers) > 0 {
		r.Headers = r.Headers[:len(r.Headers):len(r.Headers)]
	}
	return r, err
}

// DecodeRecordInto is DecodeRecord with the headers appended to arena,
// which it returns, so a batch's records share one header allocation.
func DecodeRecordInto(item []byte, arena []Header) (Record, []Header, error) {
	rd := NewReader(item)
	var r Record
	r.Offset = rd.U64()
	r.TimestampMs = int64(rd.U64())
	r.Key = rd.Bytes()
	n := rd.U32()
	if rd.Err == nil && uint64(n)*8 > uint64(rd.Len()) {
		return Record{}, arena, ErrShort
	}
	if n > 0 {
		start := len(arena)
		for i := uint32(0); i < n; i++ {
			arena = append(arena, Header{Key: rd.String(), Value: rd.Bytes()})
		}
		r.Headers = arena[start:len(arena):len(arena)]
	}
	r.Value = rd.Bytes()
	return r, arena, rd.Err
}

// BatchWriter builds a batch in a reusable buffer.
type BatchWriter struct {
	buf   []byte
	count uint32
}

// Reset starts a new batch, keeping the buffer's capacity.
func (w *BatchWriter) Reset() {
	w.buf = append(w.buf[:0], 0, 0, 0, 0)
	w.count = 0
}

// AddItem appends one raw item (a validator payload).
func (w *BatchWriter) AddItem(p []byte) {
	if len(w.buf) == 0 {
		w.Reset()
	}
	w.buf = AppendBytes(w.buf, p)
	w.count++
}

// AddRecord appends one connector record.
func (w *BatchWriter) AddRecord(r *Record) {
	if len(w.buf) == 0 {
		w.Reset()
	}
	w.buf = AppendU32(w.buf, uint32(RecordSize(r)))
	w.buf = AppendRecord(w.buf, r)
	w.count++
}

// Grow makes room for n more bytes.
func (w *BatchWriter) Grow(n int) {
	if len(w.buf) == 0 {
		w.Reset()
	}
	if cap(w.buf)-len(w.buf) < n {
		nb := make([]byte, len(w.buf), len(w.buf)+n)
		copy(nb, w.buf)
		w.buf = nb
	}
}

// Bytes returns the encoded batch; it stays valid until the next Reset.
func (w *BatchWriter) Bytes() []byte {
	if len(w.buf) == 0 {
		w.Reset()
	}
	w.buf[0], w.buf[1], w.buf[2], w.buf[3] = byte(w.count), byte(w.count>>8), byte(w.count>>16), byte(w.count>>24)
	return w.buf
}

// BatchReader iterates over a batch's items without copying.
type BatchReader struct {
	rd    Reader
	count uint32
	seen  uint32
}

// NewBatchReader reads the header of batch b.
func NewBatchReader(b []byte) (*BatchReader, error) {
	br := &BatchReader{rd: NewReader(b)}
	br.count = br.rd.U32()
	if br.rd.Err != nil {
		return nil, br.rd.Err
	}
	// Every item takes at least its 4-byte length.
	if uint64(br.count)*4 > uint64(br.rd.Len()) {
		return nil, ErrShort
	}
	return br, nil
}

// Count is the number of items the batch declares.
func (br *BatchReader) Count() int { return int(br.count) }

// Next returns the next item, or ok=false after the last one or on a
// truncated batch (then Err says so).
func (br *BatchReader) Next() (item []byte, ok bool) {
	if br.seen >= br.count || br.rd.Err != nil {
		return nil, false
	}
	item = br.rd.Bytes()
	if br.rd.Err != nil {
		return nil, false
	}
	br.seen++
	return item, true
}

// Err reports a truncated batch.
func (br *BatchReader) Err() error { return br.rd.Err }
