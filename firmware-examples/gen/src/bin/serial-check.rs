//! Host driver of the serial firmware (`fw-serial`): runs it in QEMU with
//! UART0 on QEMU's stdio, sends a few hundred request lines, good and bad,
//! and checks every answer against the host engine. For a line the engine
//! accepts, the answer must equal the host's `class .. logits .. gates ..`
//! line character for character: both print each f32 as the shortest
//! decimal that reads back to it, so equal text is equal bits. For a line
//! the engine rejects, `error <the engine's message>`; for a malformed or
//! oversized line, the firmware's own `error ...` text. Writes the first ten
//! lines and their answers (two malformed) as a transcript.
//!
//! ```text
//! serial-check QEMU_SYSTEM_ARM FW_ELF MODEL.fgkd TRANSCRIPT.txt [TIMEOUT_S]
//! ```
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};

use frameless_engine::{Features, Model};

#[allow(dead_code)] // fw-gen uses the rest of it
#[path = "../rng.rs"]
mod rng;
use rng::Rng;

/// The firmware's limits (serial-cortex-m4/src/main.rs).
const LINE_MAX: usize = 8192;
const NNZ_MAX: usize = 256;
const SEED: u64 = 0x5E71_A100;

/// One request and the answer it must get.
struct Case {
    line: String,
    /// `None`: ask the host engine (the line parses); `Some`: this exact answer.
    answer: Option<String>,
}

fn ok(line: String) -> Case {
    Case { line, answer: None }
}

fn bad(line: String, answer: &str) -> Case {
    Case {
        line,
        answer: Some(answer.to_string()),
    }
}

fn sparse_line(node: u32, pairs: &[(u32, f32)]) -> String {
    let mut s = format!("node {node}");
    for (i, v) in pairs {
        let _ = write!(s, " {i}:{v}");
    }
    s
}

/// `k` distinct sorted feature indices below `f` with values from a small set.
fn random_pairs(rng: &mut Rng, f: usize, k: usize) -> Vec<(u32, f32)> {
    const VALUES: [f32; 6] = [1.0, 0.5, 0.25, 2.0, 1.5, -0.75];
    let mut idx: Vec<u32> = (0..k).map(|_| rng.below(f) as u32).collect();
    idx.sort_unstable();
    idx.dedup();
    idx.into_iter()
        .map(|i| (i, VALUES[rng.below(VALUES.len())]))
        .collect()
}

fn cases(model: &Model) -> Vec<Case> {
    let d = model.dims();
    let (n, f) = (d.n_nodes as usize, d.n_features as usize);
    let mut rng = Rng(SEED);
    let mut c = vec![
        // The first ten form the transcript: eight good lines, two malformed.
        ok("node 17 3:1 17:1 1200:0.5".into()),
        ok(sparse_line(821, &random_pairs(&mut rng, f, 12))),
        bad(
            "node 42 3:1 17".into(),
            "error feature 1 is not index:value",
        ),
        ok(sparse_line(100, &random_pairs(&mut rng, f, 8))),
        ok("node 2707 0:1 1432:1".into()),
        ok("node 5".into()),
        bad(
            "hello".into(),
            "error unknown command: expected `node`, `dense` or `quit`",
        ),
        ok(sparse_line(1208, &random_pairs(&mut rng, f, 20))),
        ok(sparse_line(433, &random_pairs(&mut rng, f, 10))),
        ok(sparse_line(2000, &random_pairs(&mut rng, f, 5))),
    ];
    for _ in 0..200 {
        let k = 1 + rng.below(30);
        c.push(ok(sparse_line(
            rng.below(n) as u32,
            &random_pairs(&mut rng, f, k),
        )));
    }
    for _ in 0..8 {
        let mut x = vec![0f32; f];
        for (i, v) in random_pairs(&mut rng, f, 25) {
            x[i as usize] = v;
        }
        let vals: Vec<String> = x.iter().map(|v| v.to_string()).collect();
        c.push(ok(format!("dense {} {}", rng.below(n), vals.join(" "))));
    }
    // Rejected by the engine: the host says what the error is.
    for k in 0..25 {
        let node = rng.below(n) as u32;
        let mut p = random_pairs(&mut rng, f, 6);
        match k % 5 {
            0 => p.reverse(),                            // unsorted
            1 => p.push(*p.last().unwrap_or(&(0, 1.0))), // duplicate index
            2 => p.push((f as u32 + k, 1.0)),            // index out of range
            3 => p[0].1 = if k % 2 == 0 { f32::NAN } else { f32::INFINITY },
            _ => {}
        }
        let node = if k % 5 == 4 { d.n_nodes + k } else { node };
        c.push(ok(sparse_line(node, &p)));
    }
    c.push(ok(format!(
        "dense 3 {}",
        vec!["1"; f - 1].join(" ") + " nan"
    )));
    // Malformed or oversized: the firmware's own messages.
    let pair = "error feature 0 is not index:value";
    for w in ["3-1", ":1", "a:1", "-3:1"] {
        c.push(bad(format!("node 7 {w}"), pair));
    }
    for w in ["3:", "3:1:2", "3:x", "3:1e"] {
        c.push(bad(
            format!("node 7 {w}"),
            "error feature 0 has a malformed number",
        ));
    }
    for l in [
        "node",
        "node x 3:1",
        "node -1 3:1",
        "node 4294967296",
        "dense",
    ] {
        c.push(bad(l.into(), "error missing or malformed node id"));
    }
    for l in [
        "",
        "   ",
        "NODE 1 2:1",
        "nodes 1 2:1",
        "predict 3",
        "\u{7f}",
    ] {
        c.push(bad(
            l.into(),
            "error unknown command: expected `node`, `dense` or `quit`",
        ));
    }
    for count in [0, 10, f - 1, f + 1] {
        let answer = format!("error dense line has {count} values, expected {f}");
        c.push(bad(
            format!("dense 9 {}", vec!["0"; count].join(" ")),
            &answer,
        ));
    }
    c.push(bad(
        "dense 9 0 0 x 1".into(),
        "error feature 2 has a malformed number",
    ));
    let many: Vec<(u32, f32)> = (0..NNZ_MAX as u32 + 1).map(|i| (i * 5, 1.0)).collect();
    c.push(bad(
        sparse_line(1, &many),
        "error more than 256 sparse features",
    ));
    c.push(ok(sparse_line(1, &many[..NNZ_MAX])));
    let long = format!("error line longer than {LINE_MAX} bytes");
    for len in [LINE_MAX + 1, LINE_MAX + 100, 3 * LINE_MAX] {
        let mut l = "node 1".to_string();
        while l.len() < len {
            l.push_str(" 1:1");
        }
        l.truncate(len);
        c.push(bad(l, &long));
    }
    let mut exactly_max = "node 1 3:1".to_string();
    exactly_max.push_str(&" ".repeat(LINE_MAX - exactly_max.len()));
    c.push(ok(exactly_max));
    // CRLF line ends are accepted; the device keeps serving after all of the above.
    c.push(ok("node 17 3:1 17:1 1200:0.5\r".into()));
    for _ in 0..20 {
        let k = 1 + rng.below(20);
        c.push(ok(sparse_line(
            rng.below(n) as u32,
            &random_pairs(&mut rng, f, k),
        )));
    }
    c
}

/// The host engine's answer to a line that parses, in the firmware's format.
fn host_answer(model: &Model, line: &str, scratch: &mut [f32]) -> String {
    let mut w = line.trim_end_matches('\r').split_ascii_whitespace();
    let command = w.next();
    let node: u32 = w.next().and_then(|s| s.parse().ok()).unwrap_or(u32::MAX);
    let (mut idx, mut val, mut dense) = (vec![], vec![], vec![]);
    let features = if command == Some("dense") {
        dense.extend(w.map(|s| s.parse::<f32>().unwrap_or(f32::NAN)));
        Features::Dense(&dense)
    } else {
        for p in w {
            let (i, v) = p.split_once(':').unwrap_or(("", ""));
            idx.push(i.parse::<u32>().unwrap_or(u32::MAX));
            val.push(v.parse::<f32>().unwrap_or(f32::NAN));
        }
        Features::Sparse {
            indices: &idx,
            values: &val,
        }
    };
    match model.predict(node, features, scratch) {
        Ok(p) => {
            let mut s = format!("class {} logits", p.class);
            for l in p.logits {
                let _ = write!(s, " {l}");
            }
            s.push_str(" gates");
            for g in p.gates {
                let _ = write!(s, " {g}");
            }
            s
        }
        Err(e) => format!("error {e}"),
    }
}

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [qemu, elf, blob, transcript, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: serial-check QEMU_SYSTEM_ARM FW_ELF MODEL.fgkd TRANSCRIPT.txt [TIMEOUT_S]"
                .into(),
        );
    };
    let timeout = rest.first().map_or("120", String::as_str);
    let bytes = std::fs::read(blob).map_err(|e| format!("reading {blob}: {e}"))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{blob}: {e}"))?;
    let mut scratch = vec![0f32; model.scratch_len()];
    let cases = cases(&model);
    let want: Vec<String> = cases
        .iter()
        .map(|c| {
            c.answer
                .clone()
                .unwrap_or_else(|| host_answer(&model, &c.line, &mut scratch))
        })
        .collect();

    let mut child = Command::new("timeout")
        .args(["--kill-after=5", timeout, qemu])
        .args([
            "-machine",
            "mps2-an386",
            "-cpu",
            "cortex-m4",
            "-display",
            "none",
        ])
        .args(["-monitor", "none", "-serial", "stdio"])
        .args([
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
            elf,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {qemu}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let input: String = cases
        .iter()
        .map(|c| format!("{}\n", c.line))
        .collect::<String>()
        + "quit\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let got: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    let status = child.wait().map_err(|e| e.to_string())?;
    let _ = writer.join();

    let (ready, answers) = got.split_first().ok_or("no output from the firmware")?;
    if !ready.starts_with("ready ") {
        return Err(format!("first line is not `ready ...`: {ready}"));
    }
    let mut bad = 0;
    for (k, (c, w)) in cases.iter().zip(&want).enumerate() {
        let g = answers.get(k).map_or("<no answer>", String::as_str);
        if g != w {
            bad += 1;
            if bad <= 5 {
                let shown: String = c.line.chars().take(80).collect();
                eprintln!("serial-check: line {k} `{shown}`:\n  device: {g}\n  host:   {w}");
            }
        }
    }
    if answers.len() != cases.len() {
        eprintln!(
            "serial-check: {} answers for {} lines",
            answers.len(),
            cases.len()
        );
        bad += 1;
    }
    if !status.success() {
        return Err(format!(
            "QEMU exited with {status} (124: timeout) after {} answers",
            answers.len()
        ));
    }
    if bad > 0 {
        return Err(format!(
            "{bad} of {} answers differ from the host engine",
            cases.len()
        ));
    }
    let mut t = format!("# fw-serial on QEMU mps2-an386, UART0 <-> stdio; {ready}\n");
    for (c, a) in cases.iter().zip(answers).take(10) {
        let _ = writeln!(t, "> {}\n< {a}", c.line);
    }
    std::fs::write(transcript, &t).map_err(|e| format!("writing {transcript}: {e}"))?;
    let errors = want.iter().filter(|w| w.starts_with("error ")).count();
    Ok(format!(
        "serial-check: {} lines ({} answered with a prediction, {errors} with an error), every answer equal to the host engine's",
        cases.len(),
        cases.len() - errors
    ))
}

fn main() -> ExitCode {
    match run() {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("serial-check: {e}");
            ExitCode::FAILURE
        }
    }
}
