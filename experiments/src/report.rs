//! `report.md`, `results.json` and the SVG pictures, written from the stored cells.
//!
//! Every section heading in [`SECTION_HEADINGS`] is always present (with a note when a run
//! produced no cell for it), so a reader, and the smoke test, can rely on the layout.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::aggregate::{aggregate, AggregateRow, Summary};
use super::figures::{
    band_name, families, homophily_figures, models, oversquashing_figure, Figure,
};
use super::record::{CellRecord, Section};
use super::store::write_atomic;
use super::ExperimentError;

/// The `##` headings of `report.md`, in order.
pub const SECTION_HEADINGS: [&str; 4] = [
    "## Homophily sweep",
    "## Real graphs",
    "## Over-squashing",
    "## Energy",
];

/// What the report says about the run itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// Preset name.
    pub preset: String,
    /// Seeds per cell group.
    pub seeds: usize,
    /// Cells the grid has.
    pub planned_cells: usize,
}

/// The content of `results.json`.
#[derive(Debug, Serialize)]
struct ResultsJson<'a> {
    run: &'a RunInfo,
    cells: &'a [CellRecord],
    aggregates: &'a [AggregateRow],
}

/// Writes `results.json`, every picture and `report.md` into `dir`, each atomically.
/// Returns the picture file names.
///
/// # Errors
/// [`ExperimentError::Io`] or [`ExperimentError::Plot`].
pub fn write_report(
    dir: &Path,
    info: &RunInfo,
    records: &[CellRecord],
) -> Result<Vec<String>, ExperimentError> {
    let rows = aggregate(records);
    let json = serde_json::to_string_pretty(&ResultsJson {
        run: info,
        cells: records,
        aggregates: &rows,
    })
    .map_err(|e| ExperimentError::Plot(format!("results.json: {e}")))?;
    write_atomic(&dir.join("results.json"), json.as_bytes())?;
    let (markdown, figures) = render(info, records, &rows);
    let mut files = Vec::new();
    for fig in &figures {
        write_atomic(&dir.join(&fig.file), fig.chart.to_svg()?.as_bytes())?;
        files.push(fig.file.clone());
    }
    write_atomic(&dir.join("report.md"), markdown.as_bytes())?;
    Ok(files)
}

/// Renders the markdown and lists the figures it embeds.
pub fn render(
    info: &RunInfo,
    records: &[CellRecord],
    rows: &[AggregateRow],
) -> (String, Vec<Figure>) {
    let mut md = String::new();
    let mut figures = Vec::new();
    let seconds: f64 = records.iter().map(|r| r.seconds).sum();
    let _ = writeln!(md, "# frameless experiment report\n");
    let _ = writeln!(
        md,
        "Preset `{}`, {} seed(s); {} of {} cells finished, {:.0} s of training in total \
         ({:.1} s per cell). Accuracies are test accuracy in percent, mean ± std over seeds \
         (and replicate graphs), population std.\n",
        info.preset,
        info.seeds,
        records.len(),
        info.planned_cells,
        seconds,
        seconds / records.len().max(1) as f64
    );

    let _ = writeln!(md, "{}\n", SECTION_HEADINGS[0]);
    let fams = families(rows, Section::Homophily);
    if fams.is_empty() {
        let _ = writeln!(md, "_No cells in this run._\n");
    }
    for family in fams {
        let sweep: Vec<&AggregateRow> = rows
            .iter()
            .filter(|r| r.section == Section::Homophily && r.family == family)
            .collect();
        let model_names = models(sweep.iter().copied());
        let _ = writeln!(md, "### {family}\n");
        let mut header = "| h | edge h |".to_string();
        let mut rule = "|---:|---:|".to_string();
        for m in &model_names {
            let _ = write!(header, " {m} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        let mut levels: Vec<f64> = sweep.iter().filter_map(|r| r.homophily).collect();
        levels.dedup();
        for h in levels {
            let at: Vec<&&AggregateRow> = sweep.iter().filter(|r| r.homophily == Some(h)).collect();
            let edge_h = at
                .first()
                .map(|r| r.edge_homophily.mean)
                .unwrap_or(f64::NAN);
            let mut line = format!("| {h:.2} | {edge_h:.2} |");
            for m in &model_names {
                let cell = at
                    .iter()
                    .find(|r| &r.model == m)
                    .map(|r| r.accuracy.percent());
                let _ = write!(line, " {} |", cell.unwrap_or_else(|| "–".into()));
            }
            let _ = writeln!(md, "{line}");
        }
        let _ = writeln!(
            md,
            "\nMean gate α per band (1 = the student trusts its own features):\n"
        );
        let _ = writeln!(md, "| h | student | gates (mean ± std) |\n|---:|---|---|");
        for r in sweep.iter().filter(|r| !r.gates.is_empty()) {
            let gates: Vec<String> = r
                .gates
                .iter()
                .enumerate()
                .map(|(b, g)| format!("{} {}", band_name(b, r.gates.len()), g.plain()))
                .collect();
            let _ = writeln!(
                md,
                "| {:.2} | {} | {} |",
                r.homophily.unwrap_or(f64::NAN),
                r.model,
                gates.join(", ")
            );
        }
        let _ = writeln!(md);
        for fig in homophily_figures(rows, &family) {
            let _ = writeln!(md, "![{}]({})\n", fig.caption, fig.file);
            figures.push(fig);
        }
    }

    let _ = writeln!(md, "{}\n", SECTION_HEADINGS[1]);
    let _ = writeln!(
        md,
        "Graphs that ship geom-gcn splits (Chameleon, Cornell, Texas, Wisconsin: 48/32/20) use \
         split `seed mod 10`; the others a random per-class 0.2/0.2 split per seed. Each \
         student is distilled from the teacher of its row; int8 = the engine's int8 \
         arithmetic, simulated on every node.\n"
    );
    real_table(&mut md, rows);

    let _ = writeln!(md, "{}\n", SECTION_HEADINGS[2]);
    let _ = writeln!(
        md,
        "Spatial teacher with 2…8 layers on the original graph and after SDRF (removal \
         bound 0.5, τ = 1, seed 0); the student (fmlp-o) is distilled from each teacher.\n"
    );
    let sets = families(rows, Section::Oversquashing);
    if sets.is_empty() {
        let _ = writeln!(md, "_No cells in this run._\n");
    }
    for dataset in sets {
        let here: Vec<&AggregateRow> = rows
            .iter()
            .filter(|r| r.section == Section::Oversquashing && r.family == dataset)
            .collect();
        let sdrf = here.iter().map(|r| r.sdrf_iterations).max().unwrap_or(0);
        let _ = writeln!(md, "### {dataset} (SDRF: {sdrf} iterations)\n");
        let _ = writeln!(
            md,
            "| depth | model | original | SDRF |\n|---:|---|---:|---:|"
        );
        let mut depths: Vec<usize> = here.iter().map(|r| r.depth).collect();
        depths.sort_unstable();
        depths.dedup();
        for d in depths {
            for m in models(here.iter().copied()) {
                let pick = |with: bool| {
                    here.iter()
                        .find(|r| r.depth == d && r.model == m && (r.sdrf_iterations > 0) == with)
                        .map(|r| r.accuracy.percent())
                        .unwrap_or_else(|| "–".into())
                };
                let _ = writeln!(md, "| {d} | {m} | {} | {} |", pick(false), pick(true));
            }
        }
        let fig = oversquashing_figure(rows, &dataset);
        let _ = writeln!(md, "\n![{}]({})\n", fig.caption, fig.file);
        figures.push(fig);
    }

    let _ = writeln!(md, "{}\n", SECTION_HEADINGS[3]);
    energy_table(&mut md, rows);
    (md, figures)
}

/// Rows of the real-graph section, one line per dataset and teacher.
fn real_table(md: &mut String, rows: &[AggregateRow]) {
    let real: Vec<&AggregateRow> = rows.iter().filter(|r| r.section == Section::Real).collect();
    if real.is_empty() {
        let _ = writeln!(md, "_No cells in this run._\n");
        return;
    }
    let students: Vec<String> = models(real.iter().copied()).into_iter().skip(1).collect();
    let mut header = "| dataset | teacher | teacher acc |".to_string();
    let mut rule = "|---|---|---:|".to_string();
    for s in &students {
        let _ = write!(header, " {s} f32 | {s} int8 |");
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in &real {
        let key = (r.family.clone(), r.teacher.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (dataset, teacher) in keys {
        let find = |m: &str| {
            real.iter()
                .find(|r| r.family == dataset && r.teacher == teacher && r.model == m)
        };
        let t = find("teacher")
            .map(|r| r.accuracy.percent())
            .unwrap_or_else(|| "–".into());
        let mut line = format!("| {dataset} | {teacher} | {t} |");
        for s in &students {
            let (f, q) = find(s)
                .map(|r| (r.accuracy.percent(), r.accuracy_int8.percent()))
                .unwrap_or_else(|| ("–".into(), "–".into()));
            let _ = write!(line, " {f} | {q} |");
        }
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(md);
}

/// Normalised Dirichlet energy per dataset, teacher and student (depth-2 cells, no SDRF).
fn energy_table(md: &mut String, rows: &[AggregateRow]) {
    let _ = writeln!(
        md,
        "Normalised Dirichlet energy `E(H)/‖H‖²` of the last hidden layer, with \
         `E(H) = Σ_(i,j)∈E ‖h_i/√(1+d_i) − h_j/√(1+d_j)‖²` over undirected edges (lower = \
         smoother over the graph), mean ± std over seeds; real graphs and the sweep's \
         lowest and highest homophily level.\n"
    );
    let picked: Vec<&AggregateRow> = rows
        .iter()
        .filter(|r| r.sdrf_iterations == 0 && r.section != Section::Oversquashing && r.energy.n > 0)
        .collect();
    if picked.is_empty() {
        let _ = writeln!(md, "_No energy measured in this run._\n");
        return;
    }
    let students: Vec<String> = models(picked.iter().copied()).into_iter().skip(1).collect();
    let mut header = "| dataset | teacher | E teacher |".to_string();
    let mut rule = "|---|---|---:|".to_string();
    for s in &students {
        let _ = write!(header, " E {s} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    let extremes = |family: &str| -> (f64, f64) {
        let hs = picked
            .iter()
            .filter(|r| r.family == family)
            .filter_map(|r| r.homophily);
        (
            hs.clone().fold(f64::MAX, f64::min),
            hs.fold(f64::MIN, f64::max),
        )
    };
    let mut keys: Vec<(String, Option<f64>, String)> = Vec::new();
    for r in &picked {
        if let Some(h) = r.homophily {
            let (lo, hi) = extremes(&r.family);
            if h != lo && h != hi {
                continue;
            }
        }
        let key = (r.family.clone(), r.homophily, r.teacher.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (family, h, teacher) in keys {
        let find = |m: &str| {
            picked
                .iter()
                .find(|r| {
                    r.family == family && r.homophily == h && r.teacher == teacher && r.model == m
                })
                .map(|r| r.energy)
                .unwrap_or(Summary::of(&[]))
        };
        let name = match h {
            Some(h) => format!("{family} h={h:.2}"),
            None => family.clone(),
        };
        let mut line = format!("| {name} | {teacher} | {} |", find("teacher").plain());
        for s in &students {
            let _ = write!(line, " {} |", find(s).plain());
        }
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(md);
}
