//! Pinned bytes: any change to the wire format or the quantiser shows up here.
//! If a change is intended, bump `FORMAT_VERSION` (if readers break) and re-pin.

mod common;
use frameless_engine::writer::write_blob;
use frameless_engine::{crc32, Precision};

#[test]
fn mlp_blob_is_pinned() {
    let w = common::mlp();
    let mut got = Vec::new();
    for p in [Precision::F32, Precision::F16, Precision::Int8] {
        let b = write_blob(&w, p).unwrap();
        got.push((p, b.len(), crc32(&b)));
    }
    // Header prefix: magic, version 1, kind mlp (0), precision f32 (0), dims 4,3,2,2,0,2.
    let b = write_blob(&w, Precision::F32).unwrap();
    assert_eq!(&b[..12], b"FGKD\x01\x00\x00\x04\x03\x02\x02\x00");
    assert_eq!(b[12], 2);
    assert_eq!(got, PINNED);
}

const PINNED: [(Precision, usize, u32); 3] = [
    (Precision::F32, 110, 0x2F19_BBC4),
    (Precision::F16, 90, 0xBFE0_0AA6),
    (Precision::Int8, 96, 0x5E36_3CD5),
];
