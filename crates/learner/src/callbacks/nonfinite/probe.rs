//! What the guard's forward hooks record: per batch, per hooked module, the sums of the
//! module's input and output (one reduction each, kept on the device: a sum is non-finite
//! exactly when some element is NaN or infinite, barring an overflow of the sum itself),
//! the input's shape, and, for the latest batch only, the tensors themselves.

use tensor::Tensor;

/// One module's forward pass in one batch.
#[derive(Debug, Clone)]
pub(crate) struct ModuleProbe {
    /// Index into the guard's list of hooked modules.
    pub module: usize,
    /// Shape of the module's input.
    pub input_shape: Vec<usize>,
    /// `sum(input)`, one element.
    pub input_sum: Tensor,
    /// `sum(output)`, one element.
    pub output_sum: Tensor,
}

/// The probes of one batch.
#[derive(Debug, Clone)]
pub(crate) struct BatchProbe {
    pub epoch: usize,
    pub iter: usize,
    pub training: bool,
    /// In forward order.
    pub modules: Vec<ModuleProbe>,
    /// The batch's loss, once computed.
    pub loss: Option<Tensor>,
    /// `(input, output)` of each entry of `modules`; kept for the latest batch only.
    pub io: Vec<(Tensor, Tensor)>,
}

/// Shared between the guard and its hooks.
#[derive(Debug, Default)]
pub(crate) struct ProbeLog {
    /// Hooks record only while active.
    pub active: bool,
    /// The batch being run.
    pub current: Option<BatchProbe>,
    /// Finished batches not yet checked, oldest first.
    pub window: Vec<BatchProbe>,
}

impl ProbeLog {
    /// Starts a batch.
    pub fn begin(&mut self, epoch: usize, iter: usize, training: bool) {
        self.current = Some(BatchProbe {
            epoch,
            iter,
            training,
            modules: Vec::new(),
            loss: None,
            io: Vec::new(),
        });
    }

    /// Records one module's forward pass into the current batch.
    pub fn record(&mut self, module: usize, input: &Tensor, output: &Tensor) -> tensor::Result<()> {
        if !self.active {
            return Ok(());
        }
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        cur.modules.push(ModuleProbe {
            module,
            input_shape: input.shape().to_vec(),
            input_sum: input.sum_all()?,
            output_sum: output.sum_all()?,
        });
        cur.io.push((input.clone(), output.clone()));
        Ok(())
    }

    /// Ends the current batch with its loss, moving it into the window; older batches
    /// drop their tensors.
    pub fn finish(&mut self, loss: Option<Tensor>) {
        if let Some(mut cur) = self.current.take() {
            cur.loss = loss;
            for old in &mut self.window {
                old.io.clear();
            }
            self.window.push(cur);
        }
    }
}
