//! The one error type of the engine: every defect a blob or an input can have.

use core::fmt;

named_enum! {
    /// A part of the model blob or of the `predict` inputs, named in errors.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum Section {
        /// The postcard-encoded header in front of the body.
        Header => "header",
        /// The body as a whole (length, checksum, trailing bytes).
        Body => "body",
        /// The copy of kind, precision and dims that opens the body.
        Echo => "header echo",
        /// The metadata record (dataset name, class names, accuracy).
        Metadata => "metadata",
        /// An mlp layer.
        Layer => "mlp layer",
        /// A frameless stage's feature encoder.
        Encoder => "encoder",
        /// A frameless stage's per-band `E` tables.
        Table => "band table",
        /// A frameless stage's per-band gate vectors and biases.
        Gate => "gate",
        /// The per-band classifiers of the output stage.
        BandClassifier => "band classifier",
        /// The feature classifier of the output stage.
        FeatureClassifier => "feature classifier",
    }
}

/// Everything that can go wrong when loading a blob or running `predict`.
///
/// Payloads are small integers or a [`Section`]; the `Display` text is one
/// lowercase line naming the defect and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The blob does not start with the magic bytes `FGKD`.
    BadMagic,
    /// The blob's format version is not [`crate::FORMAT_VERSION`].
    UnsupportedVersion {
        /// The version found in the blob.
        found: u16,
    },
    /// The blob ends before `section` is complete.
    Truncated {
        /// Where the bytes ran out.
        section: Section,
    },
    /// `section` cannot be decoded (bad varint, enum tag, UTF-8, ...).
    Malformed {
        /// What could not be decoded.
        section: Section,
    },
    /// Bytes are left over after `section`.
    TrailingBytes {
        /// The section followed by unexpected bytes.
        section: Section,
    },
    /// The CRC-32 of the body differs from the header's `body_crc32`.
    ChecksumMismatch,
    /// The copy of kind, precision and dims in the body differs from the header.
    HeaderMismatch,
    /// The dims are inconsistent with the model kind or too large to address.
    InvalidDims,
    /// A tensor in `section` has a length that does not match the dims.
    ShapeMismatch {
        /// The section holding the tensor.
        section: Section,
    },
    /// A quantisation scale in `section` is not finite or not > 0.
    BadScale {
        /// The section holding the scale.
        section: Section,
    },
    /// The metadata is inconsistent (class name count, non-finite accuracy).
    BadMetadata,
    /// `predict` was asked for a node id `>= n_nodes`.
    NodeOutOfRange {
        /// The node id asked for.
        node: u32,
        /// The number of nodes in the model.
        n_nodes: u32,
    },
    /// A dense feature vector's length is not `n_features`.
    FeatureLength {
        /// `n_features` of the model.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// Sparse `indices` and `values` have different lengths.
    SparseLengthMismatch {
        /// Length of `indices`.
        indices: usize,
        /// Length of `values`.
        values: usize,
    },
    /// A sparse feature index is `>= n_features`.
    FeatureIndexOutOfRange {
        /// The offending index.
        index: u32,
    },
    /// Sparse indices are not strictly increasing at `position`.
    UnsortedIndices {
        /// Position in `indices` of the first index not above its predecessor.
        position: usize,
    },
    /// A feature value is NaN or infinite.
    NonFiniteFeature {
        /// Position of the value in the dense vector or in `values`.
        position: usize,
    },
    /// The scratch buffer is shorter than [`crate::Model::scratch_len`].
    ScratchTooSmall {
        /// Words needed.
        needed: usize,
        /// Words given.
        found: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BadMagic => f.write_str("bad magic in header: expected FGKD"),
            Error::UnsupportedVersion { found } => {
                write!(f, "unsupported format version {found} in header")
            }
            Error::Truncated { section } => write!(f, "blob truncated in {section}"),
            Error::Malformed { section } => write!(f, "malformed {section}"),
            Error::TrailingBytes { section } => write!(f, "trailing bytes after {section}"),
            Error::ChecksumMismatch => f.write_str("body checksum mismatch"),
            Error::HeaderMismatch => f.write_str("header echo in body differs from header"),
            Error::InvalidDims => f.write_str("invalid dims in header"),
            Error::ShapeMismatch { section } => write!(f, "tensor length mismatch in {section}"),
            Error::BadScale { section } => {
                write!(f, "non-finite or non-positive scale in {section}")
            }
            Error::BadMetadata => f.write_str("inconsistent metadata"),
            Error::NodeOutOfRange { node, n_nodes } => {
                write!(f, "node {node} out of range (model has {n_nodes} nodes)")
            }
            Error::FeatureLength { expected, found } => {
                write!(f, "dense features have length {found}, expected {expected}")
            }
            Error::SparseLengthMismatch { indices, values } => write!(
                f,
                "sparse features have {indices} indices but {values} values"
            ),
            Error::FeatureIndexOutOfRange { index } => {
                write!(f, "sparse feature index {index} out of range")
            }
            Error::UnsortedIndices { position } => write!(
                f,
                "sparse indices not strictly increasing at position {position}"
            ),
            Error::NonFiniteFeature { position } => {
                write!(f, "non-finite feature value at position {position}")
            }
            Error::ScratchTooSmall { needed, found } => {
                write!(f, "scratch too small: {found} words given, {needed} needed")
            }
        }
    }
}

impl core::error::Error for Error {}
