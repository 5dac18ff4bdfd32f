//! Protobuf base-128 varints: the one reader the writer's decoders (rows,
//! journal entries, artifacts) and the simulator use, and its writer.

use crate::WireError;

/// Reads a varint at `*pos`, advancing past it; a varint longer than 10
/// bytes or above `u64::MAX` is [`WireError::Varint`], one cut short
/// [`WireError::Truncated`] (and `*pos` is then somewhere inside it).
///
/// Accepts exactly what prost's decoder accepts, so a hand-written decoder
/// built on it agrees with prost on every input.
#[inline(always)]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    // Tags and most lengths take one byte, the length of a ~200-byte row in
    // a journal entry two: both short forms stay inline at every caller.
    match buf.get(*pos..) {
        Some([first, ..]) if *first < 0x80 => {
            *pos += 1;
            Ok(u64::from(*first))
        }
        Some([first, second, ..]) if *second < 0x80 => {
            *pos += 2;
            Ok(u64::from(first & 0x7f) | (u64::from(*second) << 7))
        }
        _ => read_long_varint(buf, pos),
    }
}

/// [`read_varint`] of three bytes or more, out of line.
#[inline(never)]
fn read_long_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *buf.get(*pos).ok_or(WireError::Truncated("varint"))?;
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err(WireError::Varint);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::Varint)
}

/// Appends `value` as a protobuf varint.
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Bytes a varint of `value` takes.
pub fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_length() {
        let mut values = vec![
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ];
        values.extend((1..64).map(|bit| 1u64 << bit));
        values.extend((1..64).map(|bit| (1u64 << bit) - 1));
        for value in values {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value), "{value}");
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Ok(value));
            assert_eq!(pos, out.len(), "{value} read to its end");
            // What follows a varint is not read.
            out.push(0xff);
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Ok(value));
            assert_eq!(pos, out.len() - 1);
        }
    }

    #[test]
    fn reads_from_the_middle_of_a_buffer() {
        let buf = [0xff, 0xac, 0x02, 0x05];
        let mut pos = 1;
        assert_eq!(read_varint(&buf, &mut pos), Ok(300));
        assert_eq!(pos, 3);
        assert_eq!(read_varint(&buf, &mut pos), Ok(5));
        assert_eq!(
            read_varint(&buf, &mut pos),
            Err(WireError::Truncated("varint"))
        );
    }

    /// What prost accepts: up to ten bytes, the tenth at most 1; a
    /// non-minimal encoding (trailing zero groups) is the same number.
    #[test]
    fn rejects_what_prost_rejects() {
        let mut ten = vec![0xff; 9];
        ten.push(0x01);
        assert_eq!(read_varint(&ten, &mut 0), Ok(u64::MAX));
        ten[9] = 0x02;
        assert_eq!(read_varint(&ten, &mut 0), Err(WireError::Varint));
        assert_eq!(read_varint(&[0xff; 11], &mut 0), Err(WireError::Varint));
        assert_eq!(read_varint(&[0x81, 0x80, 0x00], &mut 0), Ok(1));
        assert_eq!(read_varint(&[0x81, 0x00], &mut 0), Ok(1));
        for cut in [&[][..], &[0x80], &[0x80, 0x80], &[0xff; 9]] {
            assert_eq!(
                read_varint(cut, &mut 0),
                Err(WireError::Truncated("varint")),
                "{cut:?}"
            );
        }
    }
}
