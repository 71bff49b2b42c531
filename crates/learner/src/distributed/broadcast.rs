//! Making every rank start from rank 0's model: parameters and buffers broadcast.

use autograd::Var;
use collective::Collective;
use layers::{Module, ModuleExt};

use crate::distributed::flat::Flat;
use crate::error::Result;

/// Copies the values of every parameter and buffer of `model` (in the state-dict order:
/// per module, parameters then buffers, depth first) from rank `root` to every rank of
/// `comm`, in runs of one dtype, one broadcast per run. Every rank must hold the same
/// architecture. With one rank nothing is done.
pub fn broadcast_module(comm: &dyn Collective, model: &dyn Module, root: usize) -> Result<()> {
    if comm.world_size() == 1 {
        return Ok(());
    }
    let vars: Vec<Var> = model
        .named_parameters()
        .into_iter()
        .chain(model.named_buffers())
        .map(|(_, v)| v)
        .collect();
    broadcast_vars(comm, &vars, root)
}

/// Copies the values of `vars` from rank `root` to every rank (see [`broadcast_module`]).
pub fn broadcast_vars(comm: &dyn Collective, vars: &[Var], root: usize) -> Result<()> {
    let mut start = 0;
    while start < vars.len() {
        let dtype = vars[start].value_ref().dtype();
        let end = (start..vars.len())
            .find(|&i| vars[i].value_ref().dtype() != dtype)
            .unwrap_or(vars.len());
        let total: usize = vars[start..end].iter().map(|v| v.value_ref().numel()).sum();
        let mut flat = Flat::with_capacity(dtype, total);
        for v in &vars[start..end] {
            let t = v.value();
            flat.push(Some(&t), t.numel())?;
        }
        flat.broadcast(comm, root)?;
        let mut offset = 0;
        for v in &vars[start..end] {
            let (shape, device) = {
                let t = v.value_ref();
                (t.shape().to_vec(), t.device())
            };
            let t = flat.slice(offset, &shape, device)?;
            offset += t.numel();
            v.set_value(t);
        }
        start = end;
    }
    Ok(())
}
