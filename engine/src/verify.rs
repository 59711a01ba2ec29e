//! Signed blobs (feature `verify`): the header's Ed25519 signature of the body's
//! SHA-256, checked against a public key the firmware holds.
//!
//! [`Model::from_bytes_verified`] runs every check of [`Model::from_bytes`] (the
//! SHA-256 among them), then verifies the signature (`verify_strict`: canonical
//! encodings, no small-order keys) of the 32 bytes `body_sha256`. The body echoes
//! kind, precision and dims, so the signature covers everything `predict` uses.
//! No allocation; ed25519-dalek without default features (no precomputed tables).
//! Signing and key derivation (feature `std`) are for the exporter.
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use frameless_engine::{verify, Error, Model};
//! # let w = frameless_engine::writer::ModelWeights {
//! #     kind: frameless_engine::ModelKind::Mlp, n_nodes: 1, n_features: 1, n_classes: 1,
//! #     architecture: frameless_engine::writer::Architecture::Mlp { layers: vec![frameless_engine::writer::Linear { in_dim: 1, out_dim: 1, weight: vec![2.0], bias: vec![0.0] }] },
//! #     metadata: Default::default(),
//! #     calibration: None,
//! # };
//! let blob = frameless_engine::writer::write_blob(&w, frameless_engine::Precision::F32)?;
//! let (seed, other) = ([7u8; 32], [8u8; 32]);
//! let signed = verify::sign(&blob, &seed)?;
//! assert!(Model::from_bytes_verified(&signed, &verify::public_key(&seed)).is_ok());
//! let wrong = Model::from_bytes_verified(&signed, &verify::public_key(&other));
//! assert_eq!(wrong.unwrap_err(), Error::BadSignature);
//! assert_eq!(Model::from_bytes_verified(&blob, &verify::public_key(&seed)).unwrap_err(), Error::BadSignature);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{Error, Model};
use ed25519_dalek::{Signature, VerifyingKey};

/// The 64 signature bytes `R ++ S` of a header's `signature`.
fn joined([r, s]: &[[u8; 32]; 2]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (o, b) in out.iter_mut().zip(r.iter().chain(s)) {
        *o = *b;
    }
    out
}

impl<'a> Model<'a> {
    /// [`Model::from_bytes`], then the header's Ed25519 signature of `body_sha256`,
    /// verified with `public_key` (32 bytes, as `frameless keygen` writes it).
    ///
    /// # Errors
    /// Every error of [`Model::from_bytes`]; [`Error::BadSignature`] if the blob is
    /// unsigned, `public_key` is not a valid Ed25519 key, or the signature does not
    /// verify with it.
    pub fn from_bytes_verified(bytes: &'a [u8], public_key: &[u8; 32]) -> Result<Self, Error> {
        let model = Model::from_bytes(bytes)?;
        let h = model.header();
        let sig = Signature::from_bytes(&joined(h.signature.as_ref().ok_or(Error::BadSignature)?));
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| Error::BadSignature)?;
        let ok = key.verify_strict(&h.body_sha256, &sig).is_ok();
        ok.then_some(model).ok_or(Error::BadSignature)
    }
}

/// `blob` (valid, signed or not) re-headed with an Ed25519 signature of its
/// `body_sha256` by the secret key `seed`; the body is unchanged and the signature
/// deterministic, so the same blob and key give the same bytes.
///
/// # Errors
/// Every error of [`Model::from_bytes`] on `blob`.
#[cfg(feature = "std")]
pub fn sign(blob: &[u8], seed: &[u8; 32]) -> Result<Vec<u8>, Error> {
    use ed25519_dalek::Signer;
    let model = Model::from_bytes(blob)?;
    let mut h = *model.header();
    let body = blob
        .get(blob.len().saturating_sub(h.body_len as usize)..)
        .unwrap_or_default();
    let sig = ed25519_dalek::SigningKey::from_bytes(seed)
        .sign(&h.body_sha256)
        .to_bytes();
    let (r, s) = sig.split_at(32);
    h.signature = Some([
        r.try_into().unwrap_or_default(),
        s.try_into().unwrap_or_default(),
    ]);
    let mut out = postcard::to_stdvec(&h).map_err(|_| Error::Malformed {
        section: crate::Section::Header,
    })?;
    out.extend_from_slice(body);
    Ok(out)
}

/// The Ed25519 public key of the secret key `seed`.
#[cfg(feature = "std")]
pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes()
}
