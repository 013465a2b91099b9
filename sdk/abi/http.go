package abi

// HTTP over the boundary.
//
//	request  = method:bytes url:bytes headers body:bytes
//	head     = status:u32 headers
//	headers  = count:u32 {name:bytes value:bytes}*count
//
// The host follows redirects itself, checking every hop against the
// manifest, so the head is the final response's. The body is read in chunks
// with http_body_read.

// HTTPRequest is an outgoing request as the guest encodes it.
type HTTPRequest struct {
	Method  string
	URL     string
	Headers []Header
	Body    []byte
}

// AppendHTTPRequest encodes r.
func AppendHTTPRequest(b []byte, r *HTTPRequest) []byte {
	b = AppendString(b, r.Method)
	b = AppendString(b, r.URL)
	b = AppendHeaders(b, r.Headers)
	return AppendBytes(b, r.Body)
}

// DecodeHTTPRequest decodes a request; slices alias b.
func DecodeHTTPRequest(b []byte) (HTTPRequest, error) {
	rd := NewReader(b)
	r := HTTPRequest{Method: rd.String(), URL: rd.String()}
	r.Headers = readHeaders(&rd)
	r.Body = rd.Bytes()
	return r, rd.Err
}

// HTTPHead is a response's status and headers.
type HTTPHead struct {
	Status  int
	Headers []Header
}

// AppendHTTPHead encodes h.
func AppendHTTPHead(b []byte, h *HTTPHead) []byte {
	return AppendHeaders(AppendU32(b, uint32(h.Status)), h.Headers)
}

// DecodeHTTPHead decodes a head.
func DecodeHTTPHead(b []byte) (HTTPHead, error) {
	rd := NewReader(b)
	h := HTTPHead{Status: int(rd.U32())}
	h.Headers = readHeaders(&rd)
	return h, rd.Err
}

// AppendHeaders encodes a header list.
func AppendHeaders(b []byte, hs []Header) []byte {
	b = AppendU32(b, uint32(len(hs)))
	for _, h := range hs {
		b = AppendString(b, h.Key)
		b = AppendBytes(b, h.Value)
	}
	return b
}

func readHeaders(rd *Reader) []Header {
	n := rd.U32()
	if rd.Err != nil || uint64(n)*8 > uint64(rd.Len()) {
		rd.fail()
		return nil
	}
	hs := make([]Header, 0, n)
	for i := uint32(0); i < n && rd.Err == nil; i++ {
		hs = append(hs, Header{Key: rd.String(), Value: rd.Bytes()})
	}
	return hs
}

// LogRecord is what the guest passes to log: a message and string
// attributes, so the host's structured log keeps the plugin's keys.
//
//	log = msg:bytes count:u32 {key:bytes value:bytes}*count
type LogRecord struct {
	Msg   string
	Attrs []Header
}

// AppendLogRecord encodes a log record.
func AppendLogRecord(b []byte, msg string, attrs []Header) []byte {
	return AppendHeaders(AppendString(b, msg), attrs)
}

// DecodeLogRecord decodes a log record.
func DecodeLogRecord(b []byte) (LogRecord, error) {
	rd := NewReader(b)
	r := LogRecord{Msg: rd.String()}
	r.Attrs = readHeaders(&rd)
	return r, rd.Err
}
