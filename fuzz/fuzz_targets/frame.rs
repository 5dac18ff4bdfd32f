//! The 5-byte envelope framing of Connect, gRPC and gRPC-Web responses:
//! `frame::Decoder` (the Connect client's) and `frame::Scanner` (the check on
//! the byte stream tonic reads), fed the same bytes in chunks whose sizes the
//! input chooses, with the limits and flags the transports use. The two
//! must agree on where the stream breaks and on where it ends.
//!
//! Input: byte 0 chooses the limit (bits 0-1) and the allowed flags (bit 2:
//! gRPC-Web's, else Connect's); byte 1 seeds the chunk sizes; the rest is
//! the stream.
#![no_main]

use laredo_wire::frame::{
    Decoder, FLAG_COMPRESSED, FLAG_END_STREAM, FLAG_GRPC_WEB_TRAILERS, HEADER_LEN, Scanner,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [shape, seed, stream @ ..] = data else {
        return;
    };
    let max = [0, 16, 4096, 4 << 20][usize::from(shape & 3)];
    let flags = if shape & 4 == 0 {
        FLAG_COMPRESSED | FLAG_END_STREAM
    } else {
        FLAG_COMPRESSED | FLAG_GRPC_WEB_TRAILERS
    };
    let mut decoder = Decoder::new(max, flags);
    let mut scanner = Scanner::new(max, flags);
    let mut chunk = usize::from(*seed) + 1;
    let mut rest = stream;
    let mut decoded = 0usize;
    let mut trailers = Vec::new();
    let mut decoder_error = None;
    let mut scanner_error = None;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(chunk.min(rest.len()));
        rest = later;
        chunk = chunk * 7 % 251 + 1;
        if decoder_error.is_none() {
            decoder.push(now);
            loop {
                match decoder.next_envelope() {
                    Ok(Some(envelope)) => {
                        assert!(envelope.payload.len() <= max, "a payload over the limit");
                        decoded += HEADER_LEN + envelope.payload.len();
                        if envelope.flags & FLAG_GRPC_WEB_TRAILERS != 0 {
                            trailers.push(envelope.payload);
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        decoder_error = Some(error);
                        break;
                    }
                }
            }
        }
        if scanner_error.is_none() {
            match scanner.feed(now) {
                Ok(completed) => {
                    for payload in completed {
                        assert_eq!(Some(&payload[..]), trailers.first().map(|t| &t[..]));
                        trailers.remove(0);
                    }
                }
                Err(error) => scanner_error = Some(error),
            }
        }
    }
    assert_eq!(decoder_error, scanner_error, "decoder and scanner disagree");
    if decoder_error.is_none() {
        assert_eq!(
            decoder.finish(),
            scanner.finish(),
            "they disagree on the end"
        );
        if decoder.finish().is_ok() {
            assert_eq!(decoded, stream.len());
        }
    }
});
