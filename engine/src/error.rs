//! The one error type of the engine: every defect a blob or an input can have.

display_enum! {
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
        /// The metadata record (dataset name, class names, accuracy, recipe).
        Metadata => "metadata",
        /// The original ids of the nodes a sliced blob keeps.
        IdMap => "node id map",
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
        /// The int8 activation and logit scales.
        Calibration => "calibration",
    }
}

display_enum! {
    /// Everything that can go wrong when loading a blob or running `predict`.
    ///
    /// Payloads are small integers or a [`Section`]; the `Display` text is one
    /// lowercase line naming the defect and where it is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum Error {
        /// The blob does not start with the magic bytes `FGKD`.
        BadMagic => "bad magic in header: expected FGKD",
        /// The blob's format version is neither [`crate::FORMAT_VERSION`] nor 3.
        UnsupportedVersion {
            /// The version found in the blob.
            found: u16,
        } => "unsupported format version {found} in header",
        /// The blob ends before `section` is complete.
        Truncated {
            /// Where the bytes ran out.
            section: Section,
        } => "blob truncated in {section}",
        /// `section` cannot be decoded (bad varint, enum tag, UTF-8, ...).
        Malformed {
            /// What could not be decoded.
            section: Section,
        } => "malformed {section}",
        /// Bytes are left over after `section`.
        TrailingBytes {
            /// The section followed by unexpected bytes.
            section: Section,
        } => "trailing bytes after {section}",
        /// The SHA-256 of the body differs from the header's `body_sha256`.
        ChecksumMismatch => "body checksum mismatch",
        /// The blob is unsigned, or its signature does not verify with the key (feature `verify`).
        BadSignature => "blob unsigned or its ed25519 signature does not verify with the key",
        /// The copy of kind, precision and dims in the body differs from the header.
        HeaderMismatch => "header echo in body differs from header",
        /// The dims are inconsistent with the model kind or too large to address.
        InvalidDims => "invalid dims in header",
        /// A tensor in `section` has a length that does not match the dims.
        ShapeMismatch {
            /// The section holding the tensor.
            section: Section,
        } => "tensor length mismatch in {section}",
        /// A tensor in `section` holds a NaN / Inf float, an int8 -128 or a bad int8 scale.
        BadValue {
            /// The section holding the tensor.
            section: Section,
        } => "non-finite or out-of-range value in {section}",
        /// The metadata is inconsistent (class name count, non-finite accuracy, a recipe
        /// line without `key=`, or a recipe over [`crate::MAX_RECIPE_BYTES`]).
        BadMetadata => "inconsistent metadata",
        /// `predict` was asked for a node id `>= n_nodes`.
        NodeOutOfRange {
            /// The node id asked for.
            node: u32,
            /// The number of nodes in the model.
            n_nodes: u32,
        } => "node {node} out of range (model has {n_nodes} nodes)",
        /// A sliced blob was asked for a node it does not keep.
        NodeNotKept {
            /// The node id asked for.
            node: u32,
        } => "node {node} not kept in this blob (sliced with an id map)",
        /// `predict_new` was given a neighbour the blob has no table row for.
        UnknownNeighbour {
            /// The neighbour's id.
            node: u32,
        } => "neighbour {node} has no table row in this blob",
        /// `predict_new`'s weight at `position` is negative, not finite, missing or extra.
        NeighbourWeight {
            /// Position in `weights` (the shorter length if the lengths differ).
            position: usize,
        } => "neighbour weight {position} missing, extra, negative or not finite",
        /// A dense feature vector's length is not `n_features`.
        FeatureLength {
            /// `n_features` of the model.
            expected: usize,
            /// The length given.
            found: usize,
        } => "dense features have length {found}, expected {expected}",
        /// Sparse `indices` and `values` have different lengths.
        SparseLengthMismatch {
            /// Length of `indices`.
            indices: usize,
            /// Length of `values`.
            values: usize,
        } => "sparse features have {indices} indices but {values} values",
        /// A sparse feature index is `>= n_features`.
        FeatureIndexOutOfRange {
            /// The offending index.
            index: u32,
        } => "sparse feature index {index} out of range",
        /// Sparse indices are not strictly increasing at `position`.
        UnsortedIndices {
            /// Position in `indices` of the first index not above its predecessor.
            position: usize,
        } => "sparse indices not strictly increasing at position {position}",
        /// A feature value is NaN or infinite.
        NonFiniteFeature {
            /// Position of the value in the dense vector or in `values`.
            position: usize,
        } => "non-finite feature value at position {position}",
        /// `predict` computed a non-finite value: finite weights and features overflowed.
        Overflow => "non-finite value computed in predict (overflow)",
        /// `predict_int8` was called on a float blob.
        NotInt8 => "integer inference needs an int8 blob",
        /// The scratch buffer is shorter than [`crate::Model::scratch_len`].
        ScratchTooSmall {
            /// Words needed.
            needed: usize,
            /// Words given.
            found: usize,
        } => "scratch too small: {found} words given, {needed} needed",
    }
}

impl core::error::Error for Error {}
