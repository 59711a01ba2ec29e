//! Adam (Kingma & Ba) with L2 weight decay folded into the gradient, as PyTorch does.
//!
//! On the CPU each variable is updated in place, in one pass that also updates its two
//! moments (kept as plain buffers): the operations of the tensor formulation, in the
//! same order and rounding, so the same bits. The tensor formulation would allocate
//! about eight temporaries the size of the variable per step, and for a student's
//! `N × d` tables the step was the epoch's peak. On other devices the step is the tensor
//! formulation ([`Moments::Tensors`]).

use std::cell::RefCell;

use candle_core::backend::BackendStorage;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Tensor, Var};

use crate::sparse::spmm::within;

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// L2 penalty added to the gradient (PyTorch `Adam(weight_decay=…)`, not AdamW).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            weight_decay: 5e-4,
        }
    }
}

/// Adam over a set of variables.
pub struct Adam {
    vars: Vec<Var>,
    moments: Vec<Moments>,
    step: i32,
    config: AdamConfig,
}

/// A variable's first and second moments.
enum Moments {
    /// An f32 variable on the CPU: updated in place.
    F32 { first: Vec<f32>, second: Vec<f32> },
    /// An f64 variable on the CPU: updated in place.
    F64 { first: Vec<f64>, second: Vec<f64> },
    /// Anything else: tensors, updated by tensor operations.
    Tensors { first: Tensor, second: Tensor },
}

impl Moments {
    /// Zero moments for `var`, in place where it can be.
    fn zeros(var: &Var, in_place: bool) -> Result<Self> {
        let t = var.as_tensor();
        let n = t.elem_count();
        let contiguous = t.layout().contiguous_offsets() == Some((0, n));
        if !(in_place && t.device().is_cpu() && contiguous) {
            return Self::tensors(t);
        }
        Ok(match t.dtype() {
            candle_core::DType::F32 => Self::F32 {
                first: vec![0.0; n],
                second: vec![0.0; n],
            },
            candle_core::DType::F64 => Self::F64 {
                first: vec![0.0; n],
                second: vec![0.0; n],
            },
            _ => Self::tensors(t)?,
        })
    }

    fn tensors(t: &Tensor) -> Result<Self> {
        Ok(Self::Tensors {
            first: t.zeros_like()?,
            second: t.zeros_like()?,
        })
    }
}

/// The step's constants, as the tensor formulation converts them (each `f64` expression
/// evaluated in `f64`, then cast to the variable's dtype).
#[derive(Debug, Clone, Copy)]
struct Coefficients {
    weight_decay: f64,
    beta1: f64,
    one_minus_beta1: f64,
    beta2: f64,
    one_minus_beta2: f64,
    inverse_bias2: f64,
    eps: f64,
    step_size: f64,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    /// An optimiser over `vars`.
    ///
    /// # Errors
    /// If the moments cannot be allocated.
    pub fn new(vars: Vec<Var>, config: AdamConfig) -> Result<Self> {
        Self::with_moments(vars, config, true)
    }

    fn with_moments(vars: Vec<Var>, config: AdamConfig, in_place: bool) -> Result<Self> {
        let moments = vars
            .iter()
            .map(|v| Moments::zeros(v, in_place))
            .collect::<Result<_>>()?;
        Ok(Self {
            vars,
            moments,
            step: 0,
            config,
        })
    }

    /// One update from the gradients of a backward pass; variables without a gradient stay.
    ///
    /// # Errors
    /// Candle errors (a gradient of another shape or dtype than its variable).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let bias1 = 1.0 - Self::BETA1.powi(self.step);
        let bias2 = 1.0 - Self::BETA2.powi(self.step);
        let c = Coefficients {
            weight_decay: self.config.weight_decay,
            beta1: Self::BETA1,
            one_minus_beta1: 1.0 - Self::BETA1,
            beta2: Self::BETA2,
            one_minus_beta2: 1.0 - Self::BETA2,
            inverse_bias2: 1.0 / bias2,
            eps: Self::EPS,
            step_size: self.config.lr / bias1,
        };
        for (var, moments) in self.vars.iter().zip(&mut self.moments) {
            let Some(grad) = grads.get(var) else { continue };
            match moments {
                Moments::Tensors { first, second } => tensor_step(var, grad, first, second, &c)?,
                host => {
                    let op = InPlaceStep {
                        moments: RefCell::new(host),
                        coefficients: c,
                    };
                    var.as_tensor().inplace_op2(&grad.contiguous()?, &op)?;
                }
            }
        }
        Ok(())
    }
}

/// The step by tensor operations.
fn tensor_step(
    var: &Var,
    grad: &Tensor,
    m: &mut Tensor,
    v: &mut Tensor,
    c: &Coefficients,
) -> Result<()> {
    let grad = if c.weight_decay > 0.0 {
        (grad + var.as_tensor().affine(c.weight_decay, 0.0)?)?
    } else {
        grad.clone()
    };
    *m = ((m.affine(c.beta1, 0.0)? + grad.affine(c.one_minus_beta1, 0.0)?)?).detach();
    *v = ((v.affine(c.beta2, 0.0)? + grad.sqr()?.affine(c.one_minus_beta2, 0.0)?)?).detach();
    let denom = v.affine(c.inverse_bias2, 0.0)?.sqrt()?.affine(1.0, c.eps)?;
    let update = m.affine(c.step_size, 0.0)?.div(&denom)?;
    var.set(&var.as_tensor().sub(&update)?)
}

/// The float types of the in-place step.
trait Float:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// `x as Self`, as candle converts an affine's constants.
    fn of(x: f64) -> Self;
    fn sqrt(self) -> Self;
}

impl Float for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
}

impl Float for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

/// [`tensor_step`] element by element. Each line is one tensor operation of it:
/// `affine(a, b)` is `x·a + b` (the `+ 0` too: it turns −0 into +0), and the other
/// operations are the IEEE ones candle's CPU kernels use.
fn update<T: Float>(w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &Coefficients) {
    let affine = |x: T, a: f64, b: f64| x * T::of(a) + T::of(b);
    let decay = c.weight_decay > 0.0;
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = if decay {
            g + affine(*w, c.weight_decay, 0.0)
        } else {
            g
        };
        *m = affine(*m, c.beta1, 0.0) + affine(g, c.one_minus_beta1, 0.0);
        *v = affine(*v, c.beta2, 0.0) + affine(g * g, c.one_minus_beta2, 0.0);
        let denom = affine(affine(*v, c.inverse_bias2, 0.0).sqrt(), 1.0, c.eps);
        *w = *w - affine(*m, c.step_size, 0.0) / denom;
    }
}

/// The in-place step of one CPU variable, as a candle in-place operation on the
/// variable with its gradient.
struct InPlaceStep<'a> {
    moments: RefCell<&'a mut Moments>,
    coefficients: Coefficients,
}

impl InplaceOp2 for InPlaceStep<'_> {
    fn name(&self) -> &'static str {
        "adam-step"
    }

    fn cpu_fwd(
        &self,
        w: &mut CpuStorage,
        w_layout: &Layout,
        g: &CpuStorage,
        g_layout: &Layout,
    ) -> Result<()> {
        let n = w_layout.shape().elem_count();
        let (Some((0, w_end)), Some((g0, g1))) =
            (w_layout.contiguous_offsets(), g_layout.contiguous_offsets())
        else {
            candle_core::bail!("adam: variable and gradient must be contiguous");
        };
        if w_end != n || g1 - g0 != n {
            candle_core::bail!("adam: a gradient of {} values for {n}", g1 - g0);
        }
        let c = &self.coefficients;
        match (w, g, &mut **self.moments.borrow_mut()) {
            (CpuStorage::F32(w), CpuStorage::F32(g), Moments::F32 { first, second })
                if first.len() == n =>
            {
                update(&mut w[..n], within(g, g0, g1)?, first, second, c);
            }
            (CpuStorage::F64(w), CpuStorage::F64(g), Moments::F64 { first, second })
                if first.len() == n =>
            {
                update(&mut w[..n], within(g, g0, g1)?, first, second, c);
            }
            (w, g, _) => candle_core::bail!(
                "adam: a {:?} gradient for a {:?} variable of {n} values, or moments of \
                 another dtype or length",
                g.dtype(),
                w.dtype()
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    use crate::train::SeededRng;

    #[test]
    fn the_in_place_step_gives_the_bits_of_the_tensor_step() {
        // Both formulations over ten steps of the same loss, with and without weight
        // decay, in f32 and f64: every weight bit for bit (one variable has no
        // gradient and is skipped by both).
        for dtype in [DType::F32, DType::F64] {
            for weight_decay in [0.0, 5e-4] {
                let config = AdamConfig {
                    lr: 0.01,
                    weight_decay,
                };
                let run = |in_place: bool| {
                    let mut rng = SeededRng::new(9);
                    let init = |shape: (usize, usize), rng: &mut SeededRng| {
                        Var::from_tensor(&rng.uniform(shape, 1.0, dtype, &Device::Cpu).unwrap())
                            .unwrap()
                    };
                    let (a, b, idle) = (
                        init((40, 3), &mut rng),
                        init((3, 2), &mut rng),
                        init((2, 2), &mut rng),
                    );
                    let target = rng.uniform((40, 2), 1.0, dtype, &Device::Cpu).unwrap();
                    let vars = vec![a.clone(), b.clone(), idle.clone()];
                    let mut adam = Adam::with_moments(vars.clone(), config, in_place).unwrap();
                    for _ in 0..10 {
                        let y = a.as_tensor().matmul(b.as_tensor()).unwrap();
                        let loss = (y - &target).unwrap().sqr().unwrap().sum_all().unwrap();
                        adam.step(&loss.backward().unwrap()).unwrap();
                    }
                    vars.iter()
                        .map(|v| {
                            let t = v.as_tensor().flatten_all().unwrap();
                            t.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()
                        })
                        .collect::<Vec<_>>()
                };
                let bits = |v: Vec<Vec<f64>>| -> Vec<Vec<u64>> {
                    v.into_iter()
                        .map(|v| v.into_iter().map(f64::to_bits).collect())
                        .collect()
                };
                let (in_place, tensors) = (run(true), run(false));
                assert_ne!(in_place[0], run_initial(dtype), "the weights moved");
                assert_eq!(
                    bits(in_place),
                    bits(tensors),
                    "{dtype:?}, wd {weight_decay}"
                );
            }
        }
    }

    #[test]
    fn adam_matches_a_hand_computed_first_step() {
        // Step 1 with bias correction: update = lr · g / (|g| + eps) = lr · sign(g).
        // g = 2·p + wd·p for loss p²: with p = 1, wd = 0.5 → g = 2.5 > 0, p → 1 − 0.1.
        let p = Var::new(&[1f64], &Device::Cpu).unwrap();
        let mut adam = Adam::new(
            vec![p.clone()],
            AdamConfig {
                lr: 0.1,
                weight_decay: 0.5,
            },
        )
        .unwrap();
        adam.step(&square_gradients(&p)).unwrap();
        let v = p.as_tensor().to_vec1::<f64>().unwrap()[0];
        assert!((v - 0.9).abs() < 1e-6, "{v}");
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let p = Var::new(&[3f64, -2.0], &Device::Cpu).unwrap();
        let mut adam = Adam::new(
            vec![p.clone()],
            AdamConfig {
                lr: 0.1,
                weight_decay: 0.0,
            },
        )
        .unwrap();
        for _ in 0..300 {
            adam.step(&square_gradients(&p)).unwrap();
        }
        let v = p.as_tensor().to_vec1::<f64>().unwrap();
        assert!(v.iter().all(|x| x.abs() < 0.05), "{v:?}");
    }

    /// The gradients of `Σ p²`.
    fn square_gradients(p: &Var) -> GradStore {
        p.as_tensor()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
    }

    /// The first variable of the test above before any step.
    fn run_initial(dtype: DType) -> Vec<f64> {
        let mut rng = SeededRng::new(9);
        let t = rng.uniform((40, 3), 1.0, dtype, &Device::Cpu).unwrap();
        t.flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1()
            .unwrap()
    }
}
