//! fmlp-s and fmlp-o: per-band tables, gates and classifiers (see the module docs of
//! [`super`] for the forward pass).

use candle_core::{DType, Tensor, Var};

use super::{table, Mode, Output, StudentConfig, StudentGraph};
use crate::train::{Dense, SeededRng};

/// One stage: the feature encoder, the band tables `M_b`, their biases `c_b` and the gates.
#[derive(Debug, Clone)]
pub struct StageParams {
    /// Power of `P_b` this stage reads.
    pub power: usize,
    /// Stage 1: `F → d` on the features; later stages `d → d`.
    pub encoder: Dense,
    /// `M_b`, `N × d`; one per band, or a single shared one with `tie_bands`. With
    /// `from_features`, `V_b` (`F × d`) and `M_b = X V_b`.
    pub tables: Vec<Var>,
    /// Whether `tables` hold `V_b` ([`super::StudentConfig::feature_tables`]).
    pub from_features: bool,
    /// `c_b`, `1 × d`, parallel to `tables`.
    pub table_biases: Vec<Var>,
    /// Gate `a_b` (`2d × 1`) and `β_b` (`1 × 1`), one per band.
    pub gates: Vec<Dense>,
}

impl StageParams {
    /// The table `M_b` and bias `c_b` band `band` reads (the shared one with `tie_bands`).
    fn table_of(
        &self,
        band: usize,
        graph: &StudentGraph,
    ) -> candle_core::Result<(Tensor, &Tensor)> {
        let t = band.min(self.tables.len() - 1);
        let table = self.tables[t].as_tensor();
        let m = if self.from_features {
            graph.features.matmul(table)?
        } else {
            table.clone()
        };
        Ok((m, self.table_biases[t].as_tensor()))
    }

    /// `M_b` and `c_b` of band `band` where the table is a free parameter (`None` with
    /// feature tables).
    fn free_table(&self, band: usize) -> Option<(&Tensor, &Tensor)> {
        let t = band.min(self.tables.len() - 1);
        (!self.from_features)
            .then(|| (self.tables[t].as_tensor(), self.table_biases[t].as_tensor()))
    }
}

/// Parameters of a frameless student.
#[derive(Debug, Clone)]
pub struct FramelessParams {
    /// The stages in order (one for fmlp-s).
    pub stages: Vec<StageParams>,
    /// `Cls_b`, `d → C`; one per band, or one shared with `tie_bands`.
    pub band_classifiers: Vec<Dense>,
    /// `Cls_x`, `d → C`.
    pub feature_classifier: Dense,
}

impl FramelessParams {
    /// Initialises as the reference: tables and their biases uniform in `±N^{-1/2}`
    /// (like an `nn.Linear(N, d)`; feature tables `V_b` in `±F^{-1/2}`, like an
    /// `nn.Linear(F, d)`), every other layer PyTorch-style.
    ///
    /// # Errors
    /// Candle errors.
    pub fn new(
        config: &StudentConfig,
        graph: &StudentGraph,
        n_classes: usize,
        rng: &mut SeededRng,
        dtype: DType,
    ) -> candle_core::Result<Self> {
        let (n, d) = (graph.n_nodes(), config.hidden);
        let n_tables = if config.tie_bands {
            1
        } else {
            graph.bands.len()
        };
        let bound = (n as f64).powf(-0.5);
        let (rows, row_bound) = if config.feature_tables {
            let f = graph.n_features();
            (f, (f.max(1) as f64).powf(-0.5))
        } else {
            (n, bound)
        };
        let mut stages = Vec::with_capacity(config.n_stages());
        for s in 0..config.n_stages() {
            let fan_in = if s == 0 { graph.n_features() } else { d };
            let encoder = Dense::new(fan_in, d, rng, dtype, &graph.device)?;
            let mut tables = Vec::with_capacity(n_tables);
            let mut table_biases = Vec::with_capacity(n_tables);
            for _ in 0..n_tables {
                tables.push(Var::from_tensor(&rng.uniform(
                    (rows, d),
                    row_bound,
                    dtype,
                    &graph.device,
                )?)?);
                table_biases.push(Var::from_tensor(&rng.uniform(
                    (1, d),
                    bound,
                    dtype,
                    &graph.device,
                )?)?);
            }
            let gates = (0..graph.bands.len())
                .map(|_| Dense::new(2 * d, 1, rng, dtype, &graph.device))
                .collect::<candle_core::Result<_>>()?;
            stages.push(StageParams {
                power: config.power(s),
                encoder,
                tables,
                from_features: config.feature_tables,
                table_biases,
                gates,
            });
        }
        let band_classifiers = (0..n_tables)
            .map(|_| Dense::new(d, n_classes, rng, dtype, &graph.device))
            .collect::<candle_core::Result<_>>()?;
        let feature_classifier = Dense::new(d, n_classes, rng, dtype, &graph.device)?;
        Ok(Self {
            stages,
            band_classifiers,
            feature_classifier,
        })
    }

    pub(super) fn vars(&self) -> Vec<Var> {
        let mut vars = Vec::new();
        for st in &self.stages {
            vars.extend(st.encoder.vars());
            vars.extend(st.tables.iter().cloned());
            vars.extend(st.table_biases.iter().cloned());
            st.gates.iter().for_each(|g| vars.extend(g.vars()));
        }
        self.band_classifiers
            .iter()
            .for_each(|c| vars.extend(c.vars()));
        vars.extend(self.feature_classifier.vars());
        vars
    }

    /// `[stage][band]` tables `E_b^s = P_b^{p_s} M_b^s + c_b^s`.
    pub(super) fn tables(
        &self,
        _config: &StudentConfig,
        graph: &StudentGraph,
    ) -> candle_core::Result<Vec<Vec<Tensor>>> {
        self.stages
            .iter()
            .map(|st| {
                (0..graph.bands.len())
                    .map(|b| {
                        let (m, c) = st.table_of(b, graph)?;
                        graph.table(b, &m, c, st.power)
                    })
                    .collect()
            })
            .collect()
    }

    pub(super) fn forward(
        &self,
        graph: &StudentGraph,
        tables: Vec<Vec<Tensor>>,
        dropout: f64,
        mode: &mut Mode,
    ) -> candle_core::Result<Output> {
        self.run(graph, tables, dropout, mode, true)
    }

    /// The output stage's gated mixture in hidden space (eval mode),
    /// `H = Σ_b (1 − α_b) E_b^S + α_b u_S`: what the band classifiers read, and what
    /// fmlp-o's middle stages pass on. `N × d`.
    pub(super) fn hidden(
        &self,
        graph: &StudentGraph,
        tables: Vec<Vec<Tensor>>,
    ) -> candle_core::Result<Tensor> {
        Ok(self.run(graph, tables, 0.0, &mut Mode::Eval, false)?.logits)
    }

    /// The stages in order; with `classify`, the last stage mixes the band and feature
    /// classifiers' logits, otherwise it stops at the hidden mixture (returned as `logits`).
    /// The tables are consumed: in training each one's dropout is the only node that
    /// holds it, until it has read it.
    fn run(
        &self,
        graph: &StudentGraph,
        tables: Vec<Vec<Tensor>>,
        dropout: f64,
        mode: &mut Mode,
        classify: bool,
    ) -> candle_core::Result<Output> {
        let n_stages = self.stages.len();
        let mut h: Option<Tensor> = None;
        for (s, (st, stage_tables)) in self.stages.iter().zip(tables).enumerate() {
            let last = s + 1 == n_stages;
            let u = match (&h, &mut *mode) {
                // Nothing between the output stage's feature layer and its dropout: one
                // node of the graph.
                (None, Mode::Train(rng)) if last => {
                    st.encoder
                        .forward_features_dropped(&graph.features, rng, dropout)?
                }
                (h, _) => {
                    let u = match h {
                        None => st.encoder.forward_features(&graph.features)?,
                        Some(h) => st.encoder.forward(h)?,
                    };
                    mode.dropout(&if last { u } else { u.relu()? }, dropout)?
                }
            };
            let zx = if last && classify {
                Some(self.feature_classifier.forward(&u)?)
            } else {
                None
            };
            let mut acc: Option<Tensor> = None;
            let mut gates = Vec::with_capacity(stage_tables.len());
            for (b, (e, gate)) in stage_tables.into_iter().zip(&st.gates).enumerate() {
                // Free tables: the dropout and the table as one node over `M_b` and `c_b`.
                // Feature tables keep the table's own node (over `X V_b`, already formed by
                // `tables`) rather than form `X V_b` a second time for a fused one.
                let e = match (&mut *mode, st.free_table(b)) {
                    (Mode::Train(rng), Some((m, c))) if dropout > 0.0 && table::fused(m, c) => {
                        let mask = rng.dropout_mask(e.elem_count(), dropout);
                        table::dropped(graph.chain(b, st.power), m, c, e, mask)?
                    }
                    (mode, _) => mode.dropout(&e, dropout)?,
                };
                let alpha = candle_nn::ops::sigmoid(&gate.forward_pair(&e, &u)?)?;
                let keep = alpha.affine(-1.0, 1.0)?;
                let term = match &zx {
                    Some(zx) => {
                        let cls = &self.band_classifiers[b.min(self.band_classifiers.len() - 1)];
                        (cls.forward(&e)?.broadcast_mul(&keep)? + zx.broadcast_mul(&alpha)?)?
                    }
                    None => (e.broadcast_mul(&keep)? + u.broadcast_mul(&alpha)?)?,
                };
                acc = Some(match acc {
                    Some(a) => (a + term)?,
                    None => term,
                });
                gates.push(alpha);
            }
            let sum = acc.ok_or_else(|| candle_core::Error::Msg("no band".into()))?;
            if last {
                return Ok(Output { logits: sum, gates });
            }
            h = Some(sum);
        }
        Err(candle_core::Error::Msg("student has no stage".into()))
    }
}
