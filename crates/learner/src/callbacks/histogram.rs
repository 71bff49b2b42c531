//! Summary statistics of one activation tensor in one pass over host memory: mean,
//! unbiased std and a fixed-range histogram.

/// The histogram's bins: `bins` equal bins over `[lo, hi]`. Values outside the range (and
/// NaN) are not counted, as in PyTorch's `histc`; `hi` itself falls in the last bin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistSpec {
    /// Lower edge of the first bin.
    pub lo: f64,
    /// Upper edge of the last bin.
    pub hi: f64,
    /// Number of bins.
    pub bins: usize,
}

impl HistSpec {
    /// The range this project uses for the lesson's model: 40 bins over `[-5, 15]`.
    ///
    /// The course's next notebook uses `[0, 10]` because its layers end in a ReLU; here
    /// every layer of the normalised models ends in the norm, whose outputs are centred
    /// near 0 and about half negative, so the range reaches down to -5 (5 standard
    /// deviations) while keeping the post-ReLU tail up to 15. Bins are 0.5 wide.
    pub const LESSON: HistSpec = HistSpec {
        lo: -5.0,
        hi: 15.0,
        bins: 40,
    };

    /// The bin of `v`, if it is inside the range.
    pub fn bin(&self, v: f64) -> Option<usize> {
        if !(v >= self.lo && v <= self.hi) {
            return None;
        }
        let b = ((v - self.lo) / (self.hi - self.lo) * self.bins as f64) as usize;
        Some(b.min(self.bins - 1))
    }
}

/// Mean, unbiased std and histogram of one tensor's elements.
#[derive(Clone, Debug, PartialEq)]
pub struct ActSummary {
    /// `sum x / n`.
    pub mean: f64,
    /// `sqrt(sum (x - mean)^2 / (n - 1))` (NaN for one element).
    pub std: f64,
    /// Counts per bin.
    pub hist: Vec<f64>,
}

/// Summarises `xs` (two passes: the mean, then deviations and bins), in `f64`.
pub fn summarize<T: Copy + Into<f64>>(xs: &[T], spec: &HistSpec) -> ActSummary {
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x.into()).sum::<f64>() / n;
    let mut squares = 0.0;
    let mut hist = vec![0.0; spec.bins];
    for &x in xs {
        let x: f64 = x.into();
        squares += (x - mean) * (x - mean);
        if let Some(b) = spec.bin(x) {
            hist[b] += 1.0;
        }
    }
    ActSummary {
        mean,
        std: (squares / (n - 1.0)).sqrt(),
        hist,
    }
}
