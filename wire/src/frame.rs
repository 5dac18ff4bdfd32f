//! The 5-byte envelope shared by Connect streaming, gRPC and gRPC-Web: one
//! flag byte, a big-endian `u32` length, then the payload.
//!
//! The client decodes Connect responses with it and the fan-out simulator
//! encodes every transport with it. Hand-written because no crate exposes
//! Connect's envelope (connect-rust is unreleased) and tonic keeps its own
//! decoder private; a length is checked against the limit before any buffer
//! grows, so a hostile header cannot make us allocate.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes of the envelope header.
pub const HEADER_LEN: usize = 5;

/// Flag bit: the payload is compressed (never negotiated by this client).
pub const FLAG_COMPRESSED: u8 = 0x01;
/// Flag bit: Connect's end-of-stream envelope, whose payload is JSON.
pub const FLAG_END_STREAM: u8 = 0x02;
/// Flag bit: gRPC-Web's trailers frame.
pub const FLAG_GRPC_WEB_TRAILERS: u8 = 0x80;

/// One decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The flag byte.
    pub flags: u8,
    /// The payload.
    pub payload: Bytes,
}

/// Why a byte stream is not a sequence of envelopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header announces more than the configured limit.
    #[error("frame of {len} bytes exceeds max_message_size ({max} bytes)")]
    TooLarge {
        /// Announced payload length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The stream ended inside an envelope.
    #[error("stream ended inside a frame: {have} of {need} bytes received")]
    Truncated {
        /// Bytes received of the envelope (header included).
        have: usize,
        /// Bytes the envelope needs (header included, or the header alone).
        need: usize,
    },
    /// A flag byte no transport defines (e.g. the first byte of an HTML page).
    #[error("unknown frame flags {0:#04x} (first bytes do not look like a protocol envelope)")]
    UnknownFlags(u8),
}

/// Checks a frame header's flags and big-endian length before anything is
/// allocated for the payload; the payload length on success.
fn checked_header(
    flags: u8,
    len: [u8; 4],
    allowed_flags: u8,
    max: usize,
) -> Result<usize, FrameError> {
    if flags & !allowed_flags != 0 {
        return Err(FrameError::UnknownFlags(flags));
    }
    let len = u32::from_be_bytes(len);
    usize::try_from(len)
        .ok()
        .filter(|len| *len <= max)
        .ok_or(FrameError::TooLarge {
            len: u64::from(len),
            max,
        })
}

/// Appends one envelope to `out`.
pub fn encode(flags: u8, payload: &[u8], out: &mut BytesMut) {
    out.reserve(HEADER_LEN + payload.len());
    out.put_u8(flags);
    // Payloads are bounded by max_message_size (u32 on the wire); a larger one
    // is a programming error of the encoder, and saturating keeps it visible.
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.put_slice(payload);
}

/// One envelope as its own buffer.
pub fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    encode(flags, payload, &mut out);
    out.freeze()
}

/// Splits a byte stream that arrives in arbitrary chunks into envelopes.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max: usize,
    allowed_flags: u8,
}

impl Decoder {
    /// A decoder that rejects payloads above `max` bytes and flag bytes with
    /// bits outside `allowed_flags`.
    pub fn new(max: usize, allowed_flags: u8) -> Self {
        Self {
            buf: BytesMut::new(),
            max,
            allowed_flags,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete envelope, if the buffer holds one.
    pub fn next_envelope(&mut self) -> Result<Option<Envelope>, FrameError> {
        let Some(header) = self.buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let flags = header[0];
        let len = checked_header(
            flags,
            [header[1], header[2], header[3], header[4]],
            self.allowed_flags,
            self.max,
        )?;
        let need = HEADER_LEN + len;
        if self.buf.len() < need {
            self.buf.reserve(need - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Envelope { flags, payload }))
    }

    /// Checks that the stream did not end inside an envelope.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let need = match self.buf.get(1..HEADER_LEN) {
            Some(len) => HEADER_LEN + u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize,
            None => HEADER_LEN,
        };
        Err(FrameError::Truncated {
            have: self.buf.len(),
            need,
        })
    }
}

/// Follows envelope boundaries in a byte stream without buffering it, so a
/// stream read by someone else (tonic) can be checked as it passes: flags,
/// lengths against the limit, and the end landing on a boundary. Payloads of
/// gRPC-Web trailers frames are kept, for checking their `grpc-status`.
#[derive(Debug)]
pub struct Scanner {
    max: usize,
    allowed_flags: u8,
    header: [u8; HEADER_LEN],
    header_len: usize,
    len: usize,
    remaining: usize,
    trailers: Option<Vec<u8>>,
}

impl Scanner {
    /// A scanner with the same rules as [`Decoder::new`].
    pub fn new(max: usize, allowed_flags: u8) -> Self {
        Self {
            max,
            allowed_flags,
            header: [0; HEADER_LEN],
            header_len: 0,
            len: 0,
            remaining: 0,
            trailers: None,
        }
    }

    /// Checks the next bytes; returns the payloads of trailers frames completed by them.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut completed = Vec::new();
        while !data.is_empty() {
            if self.remaining == 0 && self.trailers.is_none() {
                let take = (HEADER_LEN - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                self.header_len += take;
                data = &data[take..];
                if self.header_len < HEADER_LEN {
                    break;
                }
                self.header_len = 0;
                let [flags, a, b, c, d] = self.header;
                self.remaining = checked_header(flags, [a, b, c, d], self.allowed_flags, self.max)?;
                self.len = self.remaining;
                if flags & FLAG_GRPC_WEB_TRAILERS != 0 {
                    self.trailers = Some(Vec::with_capacity(self.remaining));
                }
            } else {
                let take = self.remaining.min(data.len());
                if let Some(trailers) = &mut self.trailers {
                    trailers.extend_from_slice(&data[..take]);
                }
                self.remaining -= take;
                data = &data[take..];
            }
            if self.remaining == 0
                && self.header_len == 0
                && let Some(trailers) = self.trailers.take()
            {
                completed.push(trailers);
            }
        }
        Ok(completed)
    }

    /// Checks that the stream ended on an envelope boundary.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.header_len == 0 && self.remaining == 0 {
            return Ok(());
        }
        if self.header_len > 0 {
            return Err(FrameError::Truncated {
                have: self.header_len,
                need: HEADER_LEN,
            });
        }
        Err(FrameError::Truncated {
            have: HEADER_LEN + self.len - self.remaining,
            need: HEADER_LEN + self.len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: u8 = FLAG_COMPRESSED | FLAG_END_STREAM;

    #[test]
    fn envelopes_split_across_chunks_come_out_whole() {
        let mut wire = BytesMut::new();
        encode(0, b"hello", &mut wire);
        encode(FLAG_END_STREAM, b"{}", &mut wire);
        encode(0, b"", &mut wire);
        let mut decoder = Decoder::new(1024, ANY);
        let mut out = Vec::new();
        for byte in wire.chunks(3) {
            decoder.push(byte);
            while let Some(envelope) = decoder.next_envelope().unwrap() {
                out.push(envelope);
            }
        }
        decoder.finish().unwrap();
        assert_eq!(
            out,
            [
                Envelope {
                    flags: 0,
                    payload: Bytes::from_static(b"hello")
                },
                Envelope {
                    flags: FLAG_END_STREAM,
                    payload: Bytes::from_static(b"{}")
                },
                Envelope {
                    flags: 0,
                    payload: Bytes::new()
                },
            ]
        );
    }

    #[test]
    fn an_oversized_header_is_rejected_before_its_payload_arrives() {
        let mut decoder = Decoder::new(16, ANY);
        decoder.push(&[0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            decoder.next_envelope(),
            Err(FrameError::TooLarge {
                len: u64::from(u32::MAX),
                max: 16
            })
        );
        assert!(decoder.buf.capacity() < 1024, "nothing was reserved");
    }

    #[test]
    fn the_scanner_follows_boundaries_in_any_chunking() {
        let mut wire = BytesMut::new();
        encode(0, b"hello", &mut wire);
        encode(0, b"", &mut wire);
        encode(FLAG_GRPC_WEB_TRAILERS, b"grpc-status:0\r\n", &mut wire);
        for chunk in [1, 2, 5, 7, wire.len()] {
            let mut scanner = Scanner::new(64, FLAG_COMPRESSED | FLAG_GRPC_WEB_TRAILERS);
            let mut trailers = Vec::new();
            for piece in wire.chunks(chunk) {
                trailers.extend(scanner.feed(piece).unwrap());
            }
            scanner.finish().unwrap();
            assert_eq!(
                trailers,
                [b"grpc-status:0\r\n".to_vec()],
                "chunks of {chunk}"
            );
        }
        let mut scanner = Scanner::new(4, 0);
        assert_eq!(scanner.feed(&[0, 0, 0]), Ok(vec![]));
        assert_eq!(
            scanner.finish(),
            Err(FrameError::Truncated { have: 3, need: 5 })
        );
        assert_eq!(
            scanner.feed(&[0, 9]),
            Err(FrameError::TooLarge { len: 9, max: 4 })
        );
        let mut scanner = Scanner::new(64, 0);
        assert_eq!(scanner.feed(&[0, 0, 0, 0, 10, 1, 2]), Ok(vec![]));
        assert_eq!(
            scanner.finish(),
            Err(FrameError::Truncated { have: 7, need: 15 })
        );
        let mut scanner = Scanner::new(4, 0);
        assert_eq!(scanner.feed(b"<html>"), Err(FrameError::UnknownFlags(b'<')));
    }

    #[test]
    fn html_is_not_an_envelope() {
        let mut decoder = Decoder::new(1 << 20, ANY);
        decoder.push(b"<html><body>502 Bad Gateway</body></html>");
        assert_eq!(decoder.next_envelope(), Err(FrameError::UnknownFlags(b'<')));
    }

    #[test]
    fn a_stream_ending_inside_an_envelope_is_truncated() {
        let mut decoder = Decoder::new(1024, ANY);
        decoder.push(&[0, 0, 0, 0, 10, 1, 2, 3]);
        assert_eq!(decoder.next_envelope(), Ok(None));
        assert_eq!(
            decoder.finish(),
            Err(FrameError::Truncated { have: 8, need: 15 })
        );
        let mut decoder = Decoder::new(1024, ANY);
        decoder.push(&[0, 0]);
        assert_eq!(
            decoder.finish(),
            Err(FrameError::Truncated { have: 2, need: 5 })
        );
    }
}
