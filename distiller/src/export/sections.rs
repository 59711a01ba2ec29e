//! The binary part of a student file: its large arrays (band tables, features, logits)
//! as little-endian sections after the JSON header, each with its element type, length
//! and CRC-32 listed in the header.
//!
//! As JSON text these arrays were 2.5 times their binary size and had to be formatted
//! into one buffer before writing; here they are streamed to the file in small pieces
//! straight from the arrays, and read back straight into them.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Bytes converted per piece when writing or reading (a multiple of every element size).
const PIECE: usize = 1 << 16;

/// Element type of a section, as the header names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// IEEE single, little endian.
    F32,
    /// Unsigned 32-bit, little endian.
    U32,
    /// Unsigned 64-bit, little endian (`usize` in memory).
    U64,
}

/// One section as the header lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionInfo {
    /// Which array (`stages[0].tables[1]`, `features.values`, …).
    pub name: String,
    /// Element type.
    pub kind: Kind,
    /// Number of elements.
    pub len: usize,
    /// CRC-32 (IEEE) of the section's bytes.
    pub crc32: u32,
}

/// Why the binary part of a student file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SectionDefect {
    /// The header lists other sections than the file's shape needs.
    #[error("section list {found:?}, expected {expected:?}")]
    Layout {
        /// Names and types the header lists.
        found: Vec<(String, Kind)>,
        /// Names and types expected.
        expected: Vec<(String, Kind)>,
    },
    /// The file ends inside a section.
    #[error("truncated: the file ends inside section {0}")]
    Truncated(String),
    /// The file goes on after the last section.
    #[error("{0} trailing bytes after the last section")]
    TrailingBytes(u64),
    /// A section's bytes do not match its CRC-32.
    #[error("section {0} is corrupt (CRC-32 mismatch)")]
    Checksum(String),
    /// A `u64` does not fit this machine's `usize`.
    #[error("section {0} holds a value too large for this machine")]
    TooLarge(String),
}

/// A borrowed array to write.
#[derive(Debug, Clone, Copy)]
pub enum Array<'a> {
    /// f32 values.
    F32(&'a [f32]),
    /// u32 values.
    U32(&'a [u32]),
    /// usize values, written as u64.
    U64(&'a [usize]),
}

/// An array to fill when reading.
#[derive(Debug)]
pub enum Slot<'a> {
    /// f32 values.
    F32(&'a mut Vec<f32>),
    /// u32 values.
    U32(&'a mut Vec<u32>),
    /// usize values, read from u64.
    U64(&'a mut Vec<usize>),
}

/// One element type's encoding.
trait Element: Copy {
    const SIZE: usize;
    fn put(self, out: &mut [u8]);
    /// `None`: the value does not fit in memory's type.
    fn get(bytes: &[u8]) -> Option<Self>;
}

impl Element for f32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(f32::from_le_bytes)
    }
}

impl Element for u32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(u32::from_le_bytes)
    }
}

impl Element for usize {
    const SIZE: usize = 8;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&(self as u64).to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Option<Self> {
        let v = u64::from_le_bytes(bytes.try_into().ok()?);
        usize::try_from(v).ok()
    }
}

impl Kind {
    fn size(self) -> usize {
        match self {
            Kind::F32 => f32::SIZE,
            Kind::U32 => u32::SIZE,
            Kind::U64 => usize::SIZE,
        }
    }
}

impl Array<'_> {
    fn kind(&self) -> Kind {
        match self {
            Array::F32(_) => Kind::F32,
            Array::U32(_) => Kind::U32,
            Array::U64(_) => Kind::U64,
        }
    }

    /// Hands the array's little-endian bytes to `sink`, a piece at a time.
    fn encode(&self, sink: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        match *self {
            Array::F32(v) => encode(v, sink),
            Array::U32(v) => encode(v, sink),
            Array::U64(v) => encode(v, sink),
        }
    }
}

fn encode<T: Element>(
    values: &[T],
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut piece = vec![0u8; PIECE];
    for chunk in values.chunks(PIECE / T::SIZE) {
        let bytes = &mut piece[..chunk.len() * T::SIZE];
        for (v, out) in chunk.iter().zip(bytes.chunks_exact_mut(T::SIZE)) {
            v.put(out);
        }
        sink(bytes)?;
    }
    Ok(())
}

/// The header's description of `arrays` (one pass over each to checksum it).
pub fn describe(arrays: &[(String, Array<'_>)]) -> Vec<SectionInfo> {
    arrays
        .iter()
        .map(|(name, array)| {
            let mut crc = crc32fast::Hasher::new();
            // Hashing into memory cannot fail.
            let _ = array.encode(|bytes| {
                crc.update(bytes);
                Ok(())
            });
            let len = match array {
                Array::F32(v) => v.len(),
                Array::U32(v) => v.len(),
                Array::U64(v) => v.len(),
            };
            SectionInfo {
                name: name.clone(),
                kind: array.kind(),
                len,
                crc32: crc.finalize(),
            }
        })
        .collect()
}

/// Writes the arrays' bytes one after the other.
///
/// # Errors
/// The writer's.
pub fn write(out: &mut dyn Write, arrays: &[(String, Array<'_>)]) -> io::Result<()> {
    arrays
        .iter()
        .try_for_each(|(_, array)| array.encode(|bytes| out.write_all(bytes)))
}

/// Why reading the sections stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be read.
    Io(io::Error),
    /// The bytes are not what the header says.
    Defect(SectionDefect),
}

impl From<SectionDefect> for ReadError {
    fn from(d: SectionDefect) -> Self {
        ReadError::Defect(d)
    }
}

/// Reads the sections `infos` lists from `input`, which holds `available` bytes, into
/// `slots` (the same names and types, in the same order).
///
/// Every length is checked against `available` before anything is allocated, so a
/// header cannot make this reserve more memory than the file's size.
///
/// # Errors
/// [`ReadError::Defect`] when the list, a length or a checksum does not match, or bytes
/// are left over; [`ReadError::Io`] when reading fails.
pub fn read(
    input: &mut impl Read,
    available: u64,
    infos: &[SectionInfo],
    slots: Vec<(String, Slot<'_>)>,
) -> Result<(), ReadError> {
    let found: Vec<_> = infos.iter().map(|s| (s.name.clone(), s.kind)).collect();
    let expected: Vec<_> = slots
        .iter()
        .map(|(name, slot)| {
            let kind = match slot {
                Slot::F32(_) => Kind::F32,
                Slot::U32(_) => Kind::U32,
                Slot::U64(_) => Kind::U64,
            };
            (name.clone(), kind)
        })
        .collect();
    if found != expected {
        return Err(SectionDefect::Layout { found, expected }.into());
    }
    let mut left = available;
    for info in infos {
        let bytes = (info.len as u64).checked_mul(info.kind.size() as u64);
        match bytes {
            Some(b) if b <= left => left -= b,
            _ => return Err(SectionDefect::Truncated(info.name.clone()).into()),
        }
    }
    if left > 0 {
        return Err(SectionDefect::TrailingBytes(left).into());
    }
    for (info, (_, slot)) in infos.iter().zip(slots) {
        match slot {
            Slot::F32(v) => *v = decode(input, info)?,
            Slot::U32(v) => *v = decode(input, info)?,
            Slot::U64(v) => *v = decode(input, info)?,
        }
    }
    Ok(())
}

fn decode<T: Element>(input: &mut impl Read, info: &SectionInfo) -> Result<Vec<T>, ReadError> {
    let mut values = Vec::with_capacity(info.len);
    let mut crc = crc32fast::Hasher::new();
    let mut piece = vec![0u8; PIECE];
    let mut left = info.len * T::SIZE;
    while left > 0 {
        let bytes = &mut piece[..left.min(PIECE)];
        input.read_exact(bytes).map_err(|e| match e.kind() {
            // The file shrank after its size was taken.
            io::ErrorKind::UnexpectedEof => SectionDefect::Truncated(info.name.clone()).into(),
            _ => ReadError::Io(e),
        })?;
        crc.update(bytes);
        for b in bytes.chunks_exact(T::SIZE) {
            values.push(T::get(b).ok_or_else(|| SectionDefect::TooLarge(info.name.clone()))?);
        }
        left -= bytes.len();
    }
    if crc.finalize() != info.crc32 {
        return Err(SectionDefect::Checksum(info.name.clone()).into());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_and_damage_is_named() {
        let (a, b, c) = (
            vec![1.5f32, -0.0, f32::MIN_POSITIVE],
            (0..40_000u32).collect::<Vec<_>>(),
            vec![0usize, 7, 1 << 40],
        );
        let arrays = vec![
            ("a".to_string(), Array::F32(&a)),
            ("b".to_string(), Array::U32(&b)),
            ("c".to_string(), Array::U64(&c)),
        ];
        let infos = describe(&arrays);
        let mut bytes = Vec::new();
        write(&mut bytes, &arrays).unwrap();
        assert_eq!(bytes.len(), 3 * 4 + 40_000 * 4 + 3 * 8);
        let load = |bytes: &[u8]| {
            let (mut a2, mut b2, mut c2) = (Vec::new(), Vec::new(), Vec::new());
            let slots = vec![
                ("a".to_string(), Slot::F32(&mut a2)),
                ("b".to_string(), Slot::U32(&mut b2)),
                ("c".to_string(), Slot::U64(&mut c2)),
            ];
            read(&mut &bytes[..], bytes.len() as u64, &infos, slots)?;
            Ok::<_, ReadError>((a2, b2, c2))
        };
        let (a2, b2, c2) = load(&bytes).unwrap();
        assert_eq!(
            a2.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!((b2, c2), (b, c));
        let defect = |r: Result<(), ReadError>| match r {
            Err(ReadError::Defect(d)) => d.to_string(),
            _ => panic!("not a defect"),
        };
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(defect(load(&flipped).map(drop)).contains("section b is corrupt"));
        assert!(defect(load(&bytes[..bytes.len() - 1]).map(drop)).contains("inside section c"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(defect(load(&longer).map(drop)).contains("1 trailing bytes"));
        // A header claiming an absurd length is refused before anything is allocated.
        let mut huge = infos.clone();
        huge[1].len = usize::MAX;
        let (mut a2, mut b2, mut c2) = (Vec::new(), Vec::new(), Vec::new());
        let slots = vec![
            ("a".to_string(), Slot::F32(&mut a2)),
            ("b".to_string(), Slot::U32(&mut b2)),
            ("c".to_string(), Slot::U64(&mut c2)),
        ];
        let r = read(&mut &bytes[..], bytes.len() as u64, &huge, slots);
        assert!(defect(r).contains("inside section b"));
    }
}
