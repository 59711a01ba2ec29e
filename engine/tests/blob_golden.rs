//! Pinned bytes: any change to the wire format or the quantiser shows up here.
//! If a change is intended, bump `FORMAT_VERSION` (if readers break) and re-pin.

mod common;
use frameless_engine::writer::write_blob;
use frameless_engine::{sha256, Precision};

#[test]
fn mlp_blob_is_pinned() {
    let w = common::mlp();
    let mut got = Vec::new();
    for p in [Precision::F32, Precision::F16, Precision::Int8] {
        let b = write_blob(&w, p).unwrap();
        let h = sha256(&b);
        got.push((p, b.len(), u32::from_be_bytes([h[0], h[1], h[2], h[3]])));
    }
    // Header prefix: magic, version 4, kind mlp (0), precision f32 (0), dims 4,3,2,2,0,2.
    let b = write_blob(&w, Precision::F32).unwrap();
    assert_eq!(&b[..12], b"FGKD\x04\x00\x00\x04\x03\x02\x02\x00");
    assert_eq!(b[12], 2);
    assert_eq!(got, PINNED);
}

/// (precision, blob bytes, first four bytes of the blob's SHA-256, big endian).
/// Version 4: each blob is 24 bytes longer than in version 3 (1 version byte changed,
/// the recipe `student=tiny\nlambda=0.5`: a 1-byte length and 23 bytes); then 24, 24
/// and 22 bytes longer again when the writer began to align every byte string's
/// data to 4 by writing its length in up to 5 LEB128 bytes (readers unchanged).
const PINNED: [(Precision, usize, u32); 3] = [
    (Precision::F32, 188, 0xBBD8_6786),
    (Precision::F16, 168, 0x7C8C_1C08),
    (Precision::Int8, 180, 0xB09C_A88A),
];
