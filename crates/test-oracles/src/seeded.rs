//! Deterministic pseudo-random test values.
//!
//! A 64-bit linear congruential generator with Knuth's MMIX constants,
//! `s_{k+1} = 6364136223846793005 s_k + 1442695040888963407 (mod 2^64)`, started at
//! `s_0 = 0x9E3779B97F4A7C15 seed + 1 (mod 2^64)` (the golden-ratio multiplier spreads
//! neighbouring seeds apart). Each draw keeps the top 53 bits: `u = (s >> 11) / 2^53`,
//! uniform on `[0, 1)`. Normal values use the Box–Muller transform
//! `z = sqrt(-2 ln(1 - u1)) cos(2 pi u2)` on two consecutive draws.
//!
//! The sequence is fixed forever (tests may rely on it), independent of the `rand` crate
//! and of every kernel under test.

/// Knuth's MMIX multiplier.
const MUL: u64 = 6_364_136_223_846_793_005;
/// Knuth's MMIX increment.
const INC: u64 = 1_442_695_040_888_963_407;
/// `2^64 / phi`, rounded to odd.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// The generator's state; see the module docs for the recurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lcg {
    state: u64,
}

impl Lcg {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Lcg {
            state: seed.wrapping_mul(SPREAD).wrapping_add(1),
        }
    }

    /// The next state of the recurrence.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_mul(MUL).wrapping_add(INC);
        self.state
    }

    /// Uniform on `[0, 1)`: the top 53 bits of the next state over `2^53`.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller on two draws; `1 - u1` keeps the logarithm finite).
    pub fn next_normal(&mut self) -> f64 {
        let (u1, u2) = (self.next_unit(), self.next_unit());
        (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// `len` values uniform on `[-1, 1)`: `2 u - 1` for consecutive draws `u` from `seed`.
pub fn uniform(len: usize, seed: u64) -> Vec<f64> {
    uniform_in(len, seed, -1.0, 1.0)
}

/// `len` values uniform on `[lo, hi)`: `lo + (hi - lo) u`.
pub fn uniform_in(len: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut g = Lcg::new(seed);
    (0..len).map(|_| lo + (hi - lo) * g.next_unit()).collect()
}

/// `len` standard normal values from `seed`.
pub fn normal(len: usize, seed: u64) -> Vec<f64> {
    let mut g = Lcg::new(seed);
    (0..len).map(|_| g.next_normal()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_draws_of_seed_0_by_hand() {
        // s_0 = 1; s_1 = MUL + INC = 7806831264735756412 (no wrap), s_1 >> 11 =
        // 3811929328484256, u = 3811929328484256 / 2^53 = 0.42320917087271326.
        let mut g = Lcg::new(0);
        assert_eq!(g.next_u64(), 7_806_831_264_735_756_412);
        // s_2 = (s_1 MUL + INC) mod 2^64 = 9396908728118811419.
        assert_eq!(g.next_u64(), 9_396_908_728_118_811_419);
        let u = uniform(3, 0);
        assert_eq!(
            u[0],
            2.0 * (3_811_929_328_484_256.0 / 9_007_199_254_740_992.0) - 1.0
        );
        assert_eq!(
            u,
            [
                -0.15358165825457348,
                0.01881488576744128,
                0.2967187879268611
            ]
        );
        // Seed 7 starts elsewhere: s_0 = 7 SPREAD + 1 (mod 2^64).
        assert_eq!(uniform(1, 7), [-0.792066320902282]);
    }

    #[test]
    fn ranges_and_moments() {
        let v = uniform_in(10_000, 3, 2.0, 5.0);
        assert!(v.iter().all(|&x| (2.0..5.0).contains(&x)));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 3.5).abs() < 0.05, "{mean}");
        let z = normal(20_000, 4);
        let m = z.iter().sum::<f64>() / z.len() as f64;
        let var = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / z.len() as f64;
        assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{m} {var}");
        assert!(z.iter().all(|x| x.is_finite()));
        assert_ne!(uniform(4, 1), uniform(4, 2));
        assert_eq!(normal(5, 9), normal(5, 9));
    }

    #[test]
    fn box_muller_of_the_first_two_draws() {
        let mut g = Lcg::new(0);
        let (u1, u2) = (g.next_unit(), g.next_unit());
        let want = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        assert_eq!(normal(1, 0), [want]);
        // u1 = 0.42320917..., u2 = 0.50940744...: cos(2 pi u2) is close to -1.
        assert!((want + (-2.0 * (1.0f64 - 0.42320917087271326).ln()).sqrt()).abs() < 2e-3);
    }
}
