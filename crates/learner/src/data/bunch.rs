//! [`DataBunch`]: the training and validation loaders and the number of classes.

use crate::data::{DataLoader, Dataset};

use crate::error::Result;

/// The lesson's `DataBunch(train_dl, valid_dl, c)`.
#[derive(Clone, Debug)]
pub struct DataBunch {
    /// Shuffled every epoch, batch size `bs`.
    pub train: DataLoader,
    /// In order, batch size `2 * bs`.
    pub valid: DataLoader,
    /// Number of classes.
    pub c: usize,
}

impl DataBunch {
    /// Pairs two loaders; `c` is the number of classes.
    pub fn new(train: DataLoader, valid: DataLoader, c: usize) -> Self {
        DataBunch { train, valid, c }
    }
}

/// The lesson's `get_dls`: a training loader shuffled each epoch (seeded) with batch `bs`
/// and a validation loader in order with batch `2 * bs`.
pub fn get_dls(
    train: impl Dataset + 'static,
    valid: impl Dataset + 'static,
    bs: usize,
    seed: u64,
) -> Result<(DataLoader, DataLoader)> {
    let valid_bs = bs.checked_mul(2).ok_or_else(|| {
        crate::error::LearnerError::config("batch size", format!("{bs} is too large"))
    })?;
    Ok((
        DataLoader::new(train, bs, true, seed)?,
        DataLoader::new(valid, valid_bs, false, seed)?,
    ))
}
