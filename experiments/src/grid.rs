//! Presets: which cells a run has, and how long each trains.
//!
//! | preset | homophily sweep | real graphs | over-squashing | seeds | epochs |
//! |---|---|---|---|---|---|
//! | `smoke` | CSBM h ∈ {0.1, 0.9} (120 nodes) + one syn-cora graph if present | one 150-node CSBM | one 120-node CSBM, depth 2–3, SDRF 0/10 | 1 | 15 |
//! | `quick` | syn-cora h ∈ {0, .3, .6, 1} r1; CSBM (1000 nodes) h ∈ {0, .2, …, 1} | the six graphs, spatial + simplified | Cornell depth 2, 4, 6, 8; Chameleon 2, 4, 8 | 3 | 300 / patience 30 |
//! | `paper` | syn-cora all 12 levels × r1–r3; CSBM (1500 nodes) h = 0, .1, …, 1 | the six graphs, spatial + simplified | Chameleon, Cornell, depth 2–8 | 10 | 500 / patience 50 |
//!
//! The sweep and over-squashing cells train the spatial teacher; every homophily and
//! real-graph cell distills mlp, fmlp-s and fmlp-o from it, over-squashing cells distill
//! fmlp-o (the student that imitates the spatial teacher). Graphs without fixed splits get a
//! random 0.2/0.2 per-class split per seed; geom-gcn graphs use fixed split `seed mod 10`.

use std::path::{Path, PathBuf};

use frameless_distiller::data::{DatasetSource, SyntheticConfig};
use frameless_distiller::student::StudentKind;
use frameless_distiller::teacher::TeacherKind;

use super::record::{cell_id, Section};

/// A named grid size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Tiny synthetic graphs, one seed, few epochs: finishes in seconds (used by tests).
    Smoke,
    /// Subsets of the paper grid with 3 seeds: about an hour on two busy cores.
    Quick,
    /// The whole grid with 10 seeds.
    Paper,
}

impl std::str::FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "smoke" => Ok(Self::Smoke),
            "quick" => Ok(Self::Quick),
            "paper" => Ok(Self::Paper),
            _ => Err(format!("unknown preset {s:?} (smoke, quick, paper)")),
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Smoke => "smoke",
            Self::Quick => "quick",
            Self::Paper => "paper",
        })
    }
}

/// Every `count`-th cell of a grid, starting at cell `index` (counted over the whole grid,
/// so every process that shares a grid agrees on who runs what, whatever is stored).
/// Written `K/N`; `0/1` is the whole grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, `0..count`.
    pub index: usize,
    /// Number of parts.
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// Whether the cell at `position` of the grid belongs to this shard.
    pub fn holds(&self, position: usize) -> bool {
        position % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("shard {s:?} is not K/N with 0 <= K < N");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Training lengths shared by every cell of a grid.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Budget {
    /// Maximum teacher epochs.
    pub teacher_epochs: usize,
    /// Maximum student epochs.
    pub student_epochs: usize,
    /// Early-stopping patience of both.
    pub patience: usize,
    /// Hidden width of teacher and students.
    pub hidden: usize,
}

/// One cell to run.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSpec {
    /// Stable id ([`cell_id`]).
    pub id: String,
    /// Report section.
    pub section: Section,
    /// Averaging group (`syn-cora`, `csbm`, dataset name).
    pub family: String,
    /// The concrete graph's name.
    pub dataset: String,
    /// Where the graph comes from.
    pub source: DatasetSource,
    /// Nominal homophily (sweep only).
    pub homophily: Option<f64>,
    /// Teacher architecture.
    pub teacher: TeacherKind,
    /// Teacher layers.
    pub depth: usize,
    /// SDRF iterations applied first (0 = none).
    pub sdrf_iterations: usize,
    /// Seed of split, initialisation and dropout.
    pub seed: u64,
    /// Students distilled from the teacher.
    pub students: Vec<StudentKind>,
}

/// A whole run: its cells in execution order (seed-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The preset.
    pub preset: Preset,
    /// Seeds per group.
    pub seeds: usize,
    /// Training lengths.
    pub budget: Budget,
    /// Cells.
    pub cells: Vec<CellSpec>,
    /// Dataset folders the preset wanted but that are not on disk (their cells are left out).
    pub missing: Vec<PathBuf>,
}

const REAL: [&str; 6] = [
    "cora",
    "citeseer",
    "chameleon",
    "cornell",
    "texas",
    "wisconsin",
];
const SYN_CORA_LEVELS: [&str; 12] = [
    "0.00", "0.10", "0.20", "0.30", "0.40", "0.50", "0.60", "0.70", "0.80", "0.90", "0.99", "1.00",
];
const ALL_STUDENTS: [StudentKind; 3] = [StudentKind::Mlp, StudentKind::FmlpS, StudentKind::FmlpO];

/// SDRF iterations used on an over-squashing dataset (about 1–2 % of its edges).
fn sdrf_budget(dataset: &str) -> usize {
    match dataset {
        "chameleon" => 400,
        "cornell" => 50,
        _ => 10,
    }
}

struct Builder {
    cells: Vec<CellSpec>,
    missing: Vec<PathBuf>,
    seeds: u64,
    only: Vec<String>,
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        section: Section,
        family: &str,
        dataset: &str,
        source: DatasetSource,
        homophily: Option<f64>,
        teacher: TeacherKind,
        depth: usize,
        sdrf: usize,
        students: &[StudentKind],
    ) {
        if !self.only.is_empty() && !self.only.iter().any(|o| o == family || o == dataset) {
            return;
        }
        if let DatasetSource::Path(p) = &source {
            if !p.is_dir() {
                if !self.missing.contains(p) {
                    self.missing.push(p.clone());
                }
                return;
            }
        }
        for seed in 0..self.seeds {
            self.cells.push(CellSpec {
                id: cell_id(section, dataset, &teacher.to_string(), depth, sdrf, seed),
                section,
                family: family.into(),
                dataset: dataset.into(),
                source: source.clone(),
                homophily,
                teacher,
                depth,
                sdrf_iterations: sdrf,
                seed,
                students: students.to_vec(),
            });
        }
    }
}

fn csbm(nodes: usize, features: usize, homophily: f64) -> DatasetSource {
    DatasetSource::Synthetic(SyntheticConfig {
        nodes,
        classes: if nodes < 500 { 3 } else { 5 },
        features,
        degree: if nodes < 500 { 4.0 } else { 8.0 },
        homophily,
        seed: 0,
    })
}

/// Builds the grid of `preset` over the datasets under `root` (`../shared/datasets`).
/// `seeds` overrides the preset's seed count; `only` keeps the families or datasets named.
pub fn build(preset: Preset, seeds: Option<usize>, root: &Path, only: &[String]) -> Grid {
    let default_seeds = match preset {
        Preset::Smoke => 1,
        Preset::Quick => 3,
        Preset::Paper => 10,
    };
    let seeds = seeds.unwrap_or(default_seeds).max(1);
    let mut b = Builder {
        cells: Vec::new(),
        missing: Vec::new(),
        seeds: seeds as u64,
        only: only.to_vec(),
    };
    let spatial = TeacherKind::Spatial;
    let budget = match preset {
        Preset::Smoke => Budget {
            teacher_epochs: 15,
            student_epochs: 15,
            patience: 15,
            hidden: 16,
        },
        Preset::Quick => Budget {
            teacher_epochs: 300,
            student_epochs: 300,
            patience: 30,
            hidden: 64,
        },
        Preset::Paper => Budget {
            teacher_epochs: 500,
            student_epochs: 500,
            patience: 50,
            hidden: 64,
        },
    };
    match preset {
        Preset::Smoke => {
            for h in [0.1, 0.9] {
                let name = format!("csbm/h{h:.2}");
                b.add(
                    Section::Homophily,
                    "csbm",
                    &name,
                    csbm(120, 16, h),
                    Some(h),
                    spatial,
                    2,
                    0,
                    &ALL_STUDENTS,
                );
            }
            let syn = root.join("syn-cora/h0.50-r1");
            if syn.is_dir() {
                let src = DatasetSource::Path(syn);
                b.add(
                    Section::Homophily,
                    "syn-cora",
                    "syn-cora/h0.50-r1",
                    src,
                    Some(0.5),
                    spatial,
                    2,
                    0,
                    &ALL_STUDENTS,
                );
            }
            for teacher in [spatial, TeacherKind::Simplified] {
                b.add(
                    Section::Real,
                    "csbm-150",
                    "csbm-150",
                    csbm(150, 16, 0.5),
                    None,
                    teacher,
                    2,
                    0,
                    &ALL_STUDENTS,
                );
            }
            for sdrf in [0, 10] {
                for depth in [2, 3] {
                    let src = csbm(120, 16, 0.3);
                    b.add(
                        Section::Oversquashing,
                        "csbm-120",
                        "csbm-120",
                        src,
                        None,
                        spatial,
                        depth,
                        sdrf,
                        &[StudentKind::FmlpO],
                    );
                }
            }
        }
        Preset::Quick | Preset::Paper => {
            let paper = preset == Preset::Paper;
            let levels: Vec<&str> = if paper {
                SYN_CORA_LEVELS.to_vec()
            } else {
                vec!["0.00", "0.30", "0.60", "1.00"]
            };
            let replicates: &[u32] = if paper { &[1, 2, 3] } else { &[1] };
            for level in &levels {
                for r in replicates {
                    let name = format!("syn-cora/h{level}-r{r}");
                    let src = DatasetSource::Path(root.join(&name));
                    let h = level.parse().ok();
                    b.add(
                        Section::Homophily,
                        "syn-cora",
                        &name,
                        src,
                        h,
                        spatial,
                        2,
                        0,
                        &ALL_STUDENTS,
                    );
                }
            }
            let csbm_levels: Vec<f64> = if paper {
                (0..=10).map(|i| f64::from(i) / 10.0).collect()
            } else {
                vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
            };
            let nodes = if paper { 1500 } else { 1000 };
            for h in csbm_levels {
                let name = format!("csbm/h{h:.2}");
                b.add(
                    Section::Homophily,
                    "csbm",
                    &name,
                    csbm(nodes, 100, h),
                    Some(h),
                    spatial,
                    2,
                    0,
                    &ALL_STUDENTS,
                );
            }
            for name in REAL {
                for teacher in [spatial, TeacherKind::Simplified] {
                    let src = DatasetSource::Path(root.join(name));
                    b.add(
                        Section::Real,
                        name,
                        name,
                        src,
                        None,
                        teacher,
                        2,
                        0,
                        &ALL_STUDENTS,
                    );
                }
            }
            for name in ["cornell", "chameleon"] {
                let depths: Vec<usize> = match (paper, name) {
                    (true, _) => (2..=8).collect(),
                    (false, "cornell") => vec![2, 4, 6, 8],
                    (false, _) => vec![2, 4, 8],
                };
                for sdrf in [0, sdrf_budget(name)] {
                    for &depth in &depths {
                        let src = DatasetSource::Path(root.join(name));
                        b.add(
                            Section::Oversquashing,
                            name,
                            name,
                            src,
                            None,
                            spatial,
                            depth,
                            sdrf,
                            &[StudentKind::FmlpO],
                        );
                    }
                }
            }
        }
    }
    // Seed-major order: every configuration's first seed runs before any second seed, so
    // an interrupted run still covers the whole grid, with fewer seeds.
    let mut cells = b.cells;
    cells.sort_by_key(|c| c.seed);
    Grid {
        preset,
        seeds,
        budget,
        cells,
        missing: b.missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_grid_has_every_section_and_seed() {
        let root = Path::new("/nonexistent");
        let grid = build(Preset::Paper, None, root, &[]);
        // Without data only the CSBM sweep remains: 11 levels × 10 seeds.
        assert_eq!(grid.cells.len(), 110);
        assert_eq!(grid.missing.len(), 36 + 6);
        let smoke = build(Preset::Smoke, None, root, &[]);
        for section in [Section::Homophily, Section::Real, Section::Oversquashing] {
            assert!(smoke.cells.iter().any(|c| c.section == section));
        }
        let ids: std::collections::HashSet<_> = smoke.cells.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), smoke.cells.len());
    }

    #[test]
    fn shards_partition_the_grid() {
        let shards: Vec<Shard> = ["0/3", "1/3", "2/3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for position in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.holds(position)).count(), 1);
        }
        assert!(Shard::WHOLE.holds(7));
        assert_eq!(shards[1].to_string(), "1/3");
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_filters_families() {
        let grid = build(
            Preset::Smoke,
            Some(2),
            Path::new("/nonexistent"),
            &["csbm".into()],
        );
        assert!(grid.cells.iter().all(|c| c.family == "csbm"));
        assert_eq!(grid.cells.len(), 2 * 2);
    }
}
