//! Self-test of the engine's DSP kernels (feature `dsp`, Arm only), run
//! before the timed passes: every kernel the feature swaps in against the
//! plain safe kernel, bit for bit, on pseudo-random cases (lengths 0..70,
//! unaligned lanes, short rows, the extremes -128/-127/127 and full-range
//! i16 lanes mixed in): the int8 dot (`I8::dot`, `dot_i8_pairs`) against
//! the generic `dot`, the rows-at-once `dots` against `dot` per row, the first-layer `axpy_rows` against `rows_safe`, the
//! f16 widening against `half` on all 65 536 inputs, and the f16 dot and
//! axpy against the generic `dot` and `rows_safe`.

use frameless_engine::kernels::{axpy_rows, dot, int8, rows_safe, Encoding};

/// Random cases per kernel.
const CASES: u32 = 300;
/// Longest vector (and output count) drawn.
const MAX_LEN: usize = 70;
/// Most rows one axpy call gets (the engine gathers 32).
const MAX_ROWS: usize = 33;

/// xorshift32: a fixed, reproducible stream.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() as usize) % n.max(1)
    }
    /// A weight byte: an extreme one time in four, else any byte.
    fn weight(&mut self) -> u8 {
        match self.next() % 8 {
            0 => 127,
            1 => (-127i8) as u8,
            2 => (-128i8) as u8,
            _ => self.next() as u8,
        }
    }
    /// An activation lane: mostly int8-range (extremes included), some full i16.
    fn lane(&mut self, wide: bool) -> i16 {
        match self.next() % 8 {
            0 => 127,
            1 => -127,
            2 if wide => i16::MIN,
            3 if wide => self.next() as i16,
            _ => (self.next() % 255) as i16 - 127,
        }
    }
}

/// The first failing kernel and case, if any; else the number of checks done.
pub fn run() -> Result<u32, (&'static str, u32)> {
    let mut rng = Rng(0x2545_f491);
    let mut checks = 0u32;
    // Word-aligned lanes (u32 storage), so both the paired and the fallback path run.
    let mut lanes = [0u32; MAX_LEN / 2 + 1];
    let mut w = [0u8; MAX_LEN + 4];
    for case in 0..CASES {
        let wide = case % 3 == 0;
        for l in lanes.iter_mut() {
            *l = u32::from(rng.lane(wide) as u16) | (u32::from(rng.lane(wide) as u16) << 16);
        }
        w.iter_mut().for_each(|b| *b = rng.weight());
        let x: &[i16] = bytemuck_lanes(&lanes);
        let (n, skip) = (rng.below(MAX_LEN + 1), usize::from(case % 4 == 1));
        let x = x.get(skip..skip + n).unwrap_or(&[]);
        // Weights a little longer or shorter than the lanes now and then.
        let wn = match case % 5 {
            0 => n.saturating_sub(rng.below(4)),
            1 => n + rng.below(4),
            _ => n,
        };
        let wv = w.get(..wn).unwrap_or(&w);
        let want = dot::<int8::I8>(x, wv);
        if int8::I8::dot(x, wv) != want || int8::dot_i8_pairs(x, wv) != want {
            return Err(("dot_i8", case));
        }
        checks += 1;
    }
    // `dots` (rows two at a time) against `dot` row by row: 0..=6 rows of
    // `cols` weights (a partial last row now and then), lanes longer or
    // shorter than a row, unaligned lanes.
    let mut wr = [0u8; 6 * (MAX_LEN + 3)];
    for case in 0..CASES {
        for l in lanes.iter_mut() {
            *l = u32::from(rng.lane(case % 3 == 0) as u16) | (u32::from(rng.lane(false) as u16) << 16);
        }
        wr.iter_mut().for_each(|b| *b = rng.weight());
        let (n, skip) = (rng.below(MAX_LEN + 1), usize::from(case % 4 == 1));
        let x = bytemuck_lanes(&lanes).get(skip..skip + n).unwrap_or(&[]);
        let cols = if case % 5 == 0 { n + rng.below(3) } else { n.saturating_sub(rng.below(2)) };
        let k = rng.below(7);
        let wn = (cols * k).saturating_sub(if case % 7 == 0 { rng.below(cols + 1) } else { 0 });
        let wv = wr.get(..wn).unwrap_or(&wr);
        let mut got = [rng.next() as i32; 6];
        let mut want = got;
        int8::dots(x, wv, cols, &mut got[..k]);
        for (v, r) in want[..k].iter_mut().zip(wv.chunks_exact(cols.max(1))) {
            *v = dot::<int8::I8>(x, r);
        }
        if got != want {
            return Err(("dots_i8", case));
        }
        checks += 1;
    }
    let mut rows_w = [[0u8; MAX_LEN]; MAX_ROWS];
    for case in 0..CASES {
        let n = rng.below(MAX_LEN + 1);
        let k = rng.below(MAX_ROWS + 1);
        let mut rows: [(&[u8], i16); MAX_ROWS] = [(&[], 0); MAX_ROWS];
        for r in rows_w.iter_mut() {
            r.iter_mut().for_each(|b| *b = rng.weight());
        }
        for (slot, r) in rows.iter_mut().zip(rows_w.iter()) {
            // One row in eight ends early (a short row adds nothing past its end).
            let len = if rng.next() % 8 == 0 {
                rng.below(n + 1)
            } else {
                n
            };
            *slot = (r.get(..len).unwrap_or(&[]), rng.lane(case % 3 == 0));
        }
        let rows = rows.get(..k).unwrap_or(&[]);
        let mut got = [0i32; MAX_LEN];
        got.iter_mut().for_each(|v| *v = rng.next() as i32 >> 8);
        let mut want = got;
        let (got, want) = (&mut got[..n], &mut want[..n]);
        axpy_rows::<int8::I8, { int8::BLOCK_I8 }>(got, rows);
        rows_safe::<int8::I8, { int8::BLOCK_I8 }>(want, rows);
        if got != want {
            return Err(("axpy_rows_i8", case));
        }
        checks += 1;
    }
    #[cfg(target_abi = "eabihf")]
    for h in 0..=u16::MAX {
        let (got, want) = (
            frameless_engine::kernels::f16::f16_bits_to_f32(h),
            half::f16::from_bits(h).to_f32(),
        );
        if !(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())) {
            return Err(("f16_bits_to_f32", u32::from(h)));
        }
        checks += 1;
    }
    #[cfg(target_abi = "eabihf")]
    {
        checks += f16_kernels(&mut rng)?;
    }
    Ok(checks)
}

/// A finite f16 weight's two bytes: extremes, subnormals and zeros mixed in.
#[cfg(target_abi = "eabihf")]
fn half_weight(rng: &mut Rng) -> [u8; 2] {
    let h: u16 = match rng.next() % 8 {
        0 => 0x7bff,                  // largest finite
        1 => 0x8001,                  // smallest negative subnormal
        2 => 0x8000,                  // -0
        _ => (rng.next() as u16) & 0xfbff, // any sign, exponent below all-ones
    };
    h.to_le_bytes()
}

/// The f16 dot (`F16::dot`) against the generic `dot` and the f16
/// `axpy_rows` against `rows_safe`, bit for bit: unaligned weights (an odd
/// byte offset), short rows, lengths across the groups of four and blocks of 16.
#[cfg(target_abi = "eabihf")]
fn f16_kernels(rng: &mut Rng) -> Result<u32, (&'static str, u32)> {
    use frameless_engine::kernels::f16::F16;
    let mut checks = 0;
    let act = |rng: &mut Rng| (rng.next() as i32 >> 8) as f32 / 65536.0;
    let mut x = [0f32; MAX_LEN];
    let mut w = [0u8; 2 * MAX_LEN + 1];
    for case in 0..CASES {
        x.iter_mut().for_each(|v| *v = act(rng));
        // Finite halves from byte `off` on (the engine refuses NaN and Inf weights).
        let off = usize::from(case % 2 == 1);
        for p in w.get_mut(off..).unwrap_or(&mut []).chunks_exact_mut(2) {
            p.copy_from_slice(&half_weight(rng));
        }
        let n = rng.below(MAX_LEN + 1);
        let wn = 2 * n.saturating_sub(usize::from(case % 5 == 0));
        let wv = w.get(off..off + wn).unwrap_or(&[]);
        let xv = x.get(..n).unwrap_or(&[]);
        if F16::dot(xv, wv).to_bits() != dot::<F16>(xv, wv).to_bits() {
            return Err(("dot_f16", case));
        }
        checks += 1;
    }
    let mut rows_w = [[0u8; 2 * MAX_LEN + 1]; MAX_ROWS];
    for case in 0..CASES {
        let n = rng.below(MAX_LEN + 1);
        let k = rng.below(MAX_ROWS);
        let mut offs = [0usize; MAX_ROWS];
        for (r, off) in rows_w.iter_mut().zip(offs.iter_mut()) {
            *off = usize::from(rng.next() % 2 == 0);
            for p in r.get_mut(*off..).unwrap_or(&mut []).chunks_exact_mut(2) {
                p.copy_from_slice(&half_weight(rng));
            }
        }
        let mut rows: [(&[u8], f32); MAX_ROWS] = [(&[], 0.0); MAX_ROWS];
        for ((slot, r), &off) in rows.iter_mut().zip(rows_w.iter()).zip(offs.iter()) {
            let len = if rng.next() % 8 == 0 { rng.below(n + 1) } else { n };
            *slot = (r.get(off..off + 2 * len).unwrap_or(&[]), act(rng));
        }
        let rows = rows.get(..k).unwrap_or(&[]);
        let mut got = [0f32; MAX_LEN];
        got.iter_mut().for_each(|v| *v = act(rng));
        let mut want = got;
        let (got, want) = (&mut got[..n], &mut want[..n]);
        axpy_rows::<F16, 16>(got, rows);
        rows_safe::<F16, 16>(want, rows);
        if got.iter().zip(want.iter()).any(|(a, b)| a.to_bits() != b.to_bits()) {
            return Err(("axpy_rows_f16", case));
        }
        checks += 1;
    }
    Ok(checks)
}

/// The u32 words as i16 lanes, low half first (little-endian), without `unsafe`.
fn bytemuck_lanes(words: &[u32]) -> &[i16] {
    bytemuck::cast_slice(words)
}
