//! The model blob schema: header, dims, kind, precision, metadata and SHA-256.
//!
//! A blob is `postcard(Header) ++ body`; the body is `postcard((kind, precision,
//! dims)) ++ postcard(Metadata) ++ id map ++ tensors`, each tensor a postcard byte string
//! (varint length, then raw little-endian bytes). `docs/blob-format.md` is the
//! full specification. The same structs are written by `crate::writer` (feature `std`).

use serde::{Deserialize, Serialize};

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"FGKD";

/// The blob format version this engine writes (it also reads version 3, whose
/// metadata has no recipe).
pub const FORMAT_VERSION: u16 = 4;

/// The longest [`Metadata::recipe`] a blob may carry, in bytes.
pub const MAX_RECIPE_BYTES: usize = 4096;

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
    /// SHA-256 of the body.
    pub body_sha256: [u8; 32],
    /// Ed25519 signature (R, S) of `body_sha256`, if signed (checked by `verify`).
    pub signature: Option<[[u8; 32]; 2]>,
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
    /// How the model was made: empty, or `key=value` lines joined by `'\n'` (every
    /// key non-empty), at most [`MAX_RECIPE_BYTES`] bytes. Empty in version-3 blobs.
    pub recipe: &'a str,
}

impl Metadata<'_> {
    /// Whether the recipe is empty or well-formed `key=value` lines within the bound.
    pub fn recipe_ok(&self) -> bool {
        let line_ok = |l: &str| l.find('=').is_some_and(|i| i > 0);
        self.recipe.len() <= MAX_RECIPE_BYTES
            && (self.recipe.is_empty() || self.recipe.split('\n').all(line_ok))
    }
}

/// SHA-256 of `bytes`: the body checksum in the header (RustCrypto `sha2`, no_std).
/// ```
/// assert_eq!(frameless_engine::sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
/// ```
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(bytes)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_check_values() {
        // FIPS 180-2 examples: "abc" and the empty string.
        assert_eq!(
            sha256(b"abc")[..],
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            sha256(b"")[..],
            hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
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
