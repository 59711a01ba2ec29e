//! The model blob schema: header, dims, kind, precision, metadata and CRC-32.
//!
//! A blob is `postcard(Header) ++ body`; the body is `postcard((kind, precision,
//! dims)) ++ postcard(Metadata) ++ tensors`, each tensor a postcard byte string
//! (varint length, then raw little-endian bytes). `docs/blob-format.md` is the
//! full specification. The same structs are written by `crate::writer` (feature `std`).

use serde::{Deserialize, Serialize};

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"FGKD";

/// The blob format version this engine reads and writes.
pub const FORMAT_VERSION: u16 = 1;

display_enum! {
    /// Which student architecture a blob holds.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum ModelKind {
        /// A plain MLP on the node features (GLNN baseline).
        Mlp => "mlp",
        /// Single-stage frameless student (FMLP-S).
        FmlpS => "fmlp-s",
        /// Multi-stage frameless student (FMLP-O).
        FmlpO => "fmlp-o",
    }
}

display_enum! {
    /// How weights and tables are stored.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum Precision {
        /// IEEE single precision, 4 bytes little endian.
        F32 => "f32",
        /// IEEE half precision, 2 bytes little endian, widened to f32.
        F16 => "f16",
        /// Symmetric int8 with an f32 scale per output channel (or per table row).
        Int8 => "int8",
    }
}

impl Precision {
    /// Bytes one stored weight takes.
    pub const fn weight_bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
            Precision::Int8 => 1,
        }
    }
}

/// Model dimensions, all checked once by [`crate::Model::from_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dims {
    /// Number of graph nodes N (rows of every `E` table).
    pub n_nodes: u32,
    /// Number of input features F.
    pub n_features: u32,
    /// Hidden width d (0 for a single-layer mlp).
    pub hidden: u32,
    /// Number of classes C.
    pub n_classes: u32,
    /// Number of framelet bands B (0 for mlp).
    pub n_bands: u32,
    /// Number of stages (frameless) or layers (mlp).
    pub n_stages: u32,
}

/// The blob header, postcard-encoded in front of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// Always [`FORMAT_VERSION`] for blobs this engine reads.
    pub version: u16,
    /// The student architecture.
    pub kind: ModelKind,
    /// Weight storage precision.
    pub precision: Precision,
    /// Model dimensions.
    pub dims: Dims,
    /// Length of the body in bytes (everything after the header).
    pub body_len: u32,
    /// CRC-32 (IEEE 802.3, reflected, as zlib) of the body.
    pub body_crc32: u32,
}

/// Optional descriptive data carried in the body.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    /// Name of the dataset the model was distilled on (may be empty).
    pub dataset: &'a str,
    /// Class names joined by `'\n'`: empty, or exactly `n_classes` lines.
    pub class_names: &'a str,
    /// Test accuracy measured at export, if known (finite when present).
    pub test_accuracy: Option<f32>,
}

/// The table of the reflected CRC-32 polynomial 0xEDB88320 (xored in while
/// shifting whenever the low bit is set), built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3 / zlib) of `bytes`.
///
/// ```
/// assert_eq!(frameless_engine::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        let idx = usize::from((crc as u8) ^ b);
        crc = CRC_TABLE.get(idx).copied().unwrap_or(0) ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_values() {
        // Standard check value of CRC-32/ISO-HDLC, and the empty string.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
    }

    #[test]
    fn displays() {
        assert_eq!(ModelKind::FmlpS.to_string(), "fmlp-s");
        assert_eq!(ModelKind::FmlpO.to_string(), "fmlp-o");
        assert_eq!(ModelKind::Mlp.to_string(), "mlp");
        assert_eq!(Precision::Int8.to_string(), "int8");
        assert_eq!(Precision::F16.to_string(), "f16");
    }
}
