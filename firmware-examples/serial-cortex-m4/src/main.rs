//! Live features over a serial line, on QEMU `mps2-an386` (Cortex-M4F): the
//! graph part of the model is in flash, the features arrive at run time.
//!
//! Reads lines from UART0 into fixed-capacity buffers (heapless) and answers
//! each with one line:
//!
//! ```text
//! node 17 3:1 17:1 1200:0.5      sparse: node id, then index:value pairs (indices increasing)
//! dense 17 0 0 1 0.5 ...         dense: node id, then all n_features values
//! quit                           exits QEMU with status 0 (semihosting)
//! -> class 3 logits 0.12 -0.5 ... gates 0.41 0.59
//! -> error <what is wrong>       malformed, oversized or rejected by the engine; keeps serving
//! ```
//!
//! Logits and gates are printed as the shortest decimals that read back to
//! the same f32, so the host driver (`gen`'s `serial-check`) compares them
//! bit for bit with the host engine. The first line is `ready ...`.
#![no_std]
#![no_main]

use core::fmt::{self, Write};

use cortex_m_rt::{entry, exception, ExceptionFrame};
use frameless_engine::{Error, Features, Model};
use fw_common::{BLOB, DIMS, EXIT_FAULT, EXIT_OK, EXIT_SETUP};
use heapless::Vec;
use semihosting::{println, process::exit};

/// Longest line accepted, in bytes (a dense line of the committed model,
/// 1433 values, takes about 3 KiB).
const LINE_MAX: usize = 8192;
/// Most `index:value` pairs on a sparse line.
const NNZ_MAX: usize = 256;
/// Dense feature values: the embedded model's `n_features`.
const N_FEATURES: usize = DIMS.n_features as usize;
/// f32 words of scratch, the engine's bound for the embedded model's dims.
const SCRATCH_WORDS: usize = frameless_engine::max_scratch_len(&DIMS);

/// CMSDK APB UART0 of mps2-an386 (QEMU's first `-serial`).
struct Uart;

impl Uart {
    const BASE: usize = 0x4000_4000;
    const DATA: usize = Self::BASE;
    const STATE: usize = Self::BASE + 0x04;
    const CTRL: usize = Self::BASE + 0x08;
    const BAUDDIV: usize = Self::BASE + 0x10;
    /// STATE bits.
    const TX_FULL: u32 = 1;
    const RX_FULL: u32 = 2;

    fn read(reg: usize) -> u32 {
        // SAFETY: `reg` is one of the UART's word registers above, always
        // mapped on this board; a volatile read has no other effect.
        unsafe { core::ptr::read_volatile(reg as *const u32) }
    }

    fn write(reg: usize, v: u32) {
        // SAFETY: as in `read`; only this firmware drives UART0.
        unsafe { core::ptr::write_volatile(reg as *mut u32, v) }
    }

    /// Enables the transmitter and receiver.
    fn init() -> Self {
        Self::write(Self::BAUDDIV, 16);
        Self::write(Self::CTRL, 0b11);
        Uart
    }

    /// Waits for a byte. QEMU feeds the receiver only when it is empty, so
    /// nothing is lost however fast the host writes.
    fn read_byte(&mut self) -> u8 {
        while Self::read(Self::STATE) & Self::RX_FULL == 0 {}
        Self::read(Self::DATA) as u8
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            while Self::read(Self::STATE) & Self::TX_FULL != 0 {}
            Self::write(Self::DATA, u32::from(b));
        }
        Ok(())
    }
}

/// Why a line gets an `error` answer.
enum LineError {
    TooLong,
    NotText,
    Unknown,
    BadNode,
    BadPair(usize),
    BadValue(usize),
    TooMany,
    DenseCount(usize),
    Engine(Error),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong => write!(f, "line longer than {LINE_MAX} bytes"),
            LineError::NotText => write!(f, "line is not UTF-8"),
            LineError::Unknown => write!(f, "unknown command: expected `node`, `dense` or `quit`"),
            LineError::BadNode => write!(f, "missing or malformed node id"),
            LineError::BadPair(k) => write!(f, "feature {k} is not index:value"),
            LineError::BadValue(k) => write!(f, "feature {k} has a malformed number"),
            LineError::TooMany => write!(f, "more than {NNZ_MAX} sparse features"),
            LineError::DenseCount(n) => {
                write!(f, "dense line has {n} values, expected {N_FEATURES}")
            }
            LineError::Engine(e) => write!(f, "{e}"),
        }
    }
}

/// The fixed buffers one request is parsed into.
struct Buffers {
    indices: Vec<u32, NNZ_MAX>,
    values: Vec<f32, NNZ_MAX>,
    dense: Vec<f32, N_FEATURES>,
    scratch: [f32; SCRATCH_WORDS],
}

/// Answers one request line (`quit` is handled by the caller).
fn serve(model: &Model, line: &[u8], buf: &mut Buffers, out: &mut Uart) -> Result<(), LineError> {
    let text = core::str::from_utf8(line).map_err(|_| LineError::NotText)?;
    let mut words = text.split_ascii_whitespace();
    let command = words.next();
    let node = |w: Option<&str>| {
        w.and_then(|w| w.parse::<u32>().ok())
            .ok_or(LineError::BadNode)
    };
    let (node, features) = match command {
        Some("node") => {
            let node = node(words.next())?;
            buf.indices.clear();
            buf.values.clear();
            for (k, w) in words.enumerate() {
                let (i, v) = w.split_once(':').ok_or(LineError::BadPair(k))?;
                let i = i.parse::<u32>().map_err(|_| LineError::BadPair(k))?;
                let v = v.parse::<f32>().map_err(|_| LineError::BadValue(k))?;
                buf.indices.push(i).map_err(|_| LineError::TooMany)?;
                buf.values.push(v).map_err(|_| LineError::TooMany)?;
            }
            (
                node,
                Features::Sparse {
                    indices: &buf.indices,
                    values: &buf.values,
                },
            )
        }
        Some("dense") => {
            let node = node(words.next())?;
            buf.dense.clear();
            let mut n = 0usize;
            for (k, w) in words.enumerate() {
                let v = w.parse::<f32>().map_err(|_| LineError::BadValue(k))?;
                n += 1;
                // Values past capacity are counted for the error, not stored.
                let _ = buf.dense.push(v);
            }
            if n != N_FEATURES {
                return Err(LineError::DenseCount(n));
            }
            (node, Features::Dense(&buf.dense))
        }
        _ => return Err(LineError::Unknown),
    };
    let p = model
        .predict(node, features, &mut buf.scratch)
        .map_err(LineError::Engine)?;
    // A UART write never fails.
    let _ = write!(out, "class {} logits", p.class);
    for l in p.logits {
        let _ = write!(out, " {l}");
    }
    let _ = write!(out, " gates");
    for g in p.gates {
        let _ = write!(out, " {g}");
    }
    let _ = out.write_str("\n");
    Ok(())
}

#[entry]
fn main() -> ! {
    let model = match Model::from_bytes(BLOB) {
        Ok(m) => m,
        Err(e) => {
            println!("FWERROR blob rejected: {e}");
            exit(EXIT_SETUP)
        }
    };
    let mut uart = Uart::init();
    let d = model.dims();
    let _ = writeln!(
        uart,
        "ready {} {} nodes={} features={} classes={} bands={}",
        model.kind(),
        model.precision(),
        d.n_nodes,
        d.n_features,
        d.n_classes,
        d.n_bands
    );
    let mut buf = Buffers {
        indices: Vec::new(),
        values: Vec::new(),
        dense: Vec::new(),
        scratch: [0.0; SCRATCH_WORDS],
    };
    let mut line: Vec<u8, LINE_MAX> = Vec::new();
    let mut too_long = false;
    loop {
        let b = uart.read_byte();
        if b != b'\n' {
            // A full buffer drops the rest of the line, answered at its end.
            too_long |= line.push(b).is_err();
            continue;
        }
        let text = line.strip_suffix(b"\r").unwrap_or(&line);
        let result = if too_long {
            Err(LineError::TooLong)
        } else if text == b"quit" {
            exit(EXIT_OK)
        } else {
            serve(&model, text, &mut buf, &mut uart)
        };
        if let Err(e) = result {
            let _ = writeln!(uart, "error {e}");
        }
        line.clear();
        too_long = false;
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    println!("FWERROR hard fault at pc={:#010x}", frame.pc());
    exit(EXIT_FAULT)
}
