//! Data-parallel sessions: the communicator a session trains over, how `--ranks N` starts
//! the ranks through `mpirun`, and the settings that depend on the world size.
//!
//! * `--ranks N` (N > 1) outside `mpirun`: this program starts itself N times under
//!   `mpirun -np N --oversubscribe --bind-to none`, with the same arguments, and waits.
//! * Started by `mpirun` (by `--ranks` or by hand, `mpirun -np N xtask train ...`): every rank
//!   joins `MPI_COMM_WORLD` (needs the `mpi` feature) and trains on its share.
//! * Otherwise: one process ([`SingleProcess`]).

use std::collections::BTreeMap;
use std::error::Error;
use std::rc::Rc;

use collective::{Collective, SingleProcess};

/// The world a session trains in and whether its BatchNorm2d layers are synchronised.
#[derive(Clone)]
pub struct Parallel {
    /// The ranks of this job ([`SingleProcess`] for one).
    pub comm: Rc<dyn Collective>,
    /// `--norm sync-batch`: every BatchNorm2d becomes a SyncBatchNorm over `comm`.
    pub sync_batch: bool,
}

impl std::fmt::Debug for Parallel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parallel")
            .field("rank", &self.comm.rank())
            .field("world_size", &self.comm.world_size())
            .field("sync_batch", &self.sync_batch)
            .finish()
    }
}

impl Parallel {
    /// One process, no synchronised norms.
    pub fn single() -> Self {
        Parallel {
            comm: Rc::new(SingleProcess::new()),
            sync_batch: false,
        }
    }

    /// The number of ranks.
    pub fn world(&self) -> usize {
        self.comm.world_size()
    }

    /// Whether this process writes reports and checkpoints (rank 0).
    pub fn is_root(&self) -> bool {
        self.comm.rank() == 0
    }

    /// Each rank's share of a global batch of `bs`.
    ///
    /// # Errors
    ///
    /// A message naming both numbers when `bs` is not a multiple of the world size.
    pub fn local_bs(&self, bs: usize) -> Result<usize, String> {
        local_bs(bs, self.world())
    }

    /// `cfg`'s identity (compared on resume) with the settings data parallelism adds:
    /// `norm = sync-batch`, and `ranks` when there is more than one (the sharding of the data
    /// depends on it, so a checkpoint resumes only with the same world size).
    pub fn identity(&self, mut id: BTreeMap<String, String>) -> BTreeMap<String, String> {
        if self.sync_batch {
            id.insert("norm".into(), "sync-batch".into());
        }
        if self.world() > 1 {
            id.insert("ranks".into(), self.world().to_string());
        }
        id
    }
}

/// `bs / ranks`, or a message when `ranks` does not divide `bs`.
pub fn local_bs(bs: usize, ranks: usize) -> Result<usize, String> {
    if ranks == 0 || bs % ranks != 0 {
        return Err(format!(
            "invalid --bs: the global batch {bs} is not divisible by {ranks} ranks \
             (each rank takes bs / ranks samples)"
        ));
    }
    Ok(bs / ranks)
}

/// What `--ranks` asks of this process.
pub enum Launch {
    /// Train here, in this world.
    Here(Rc<dyn Collective>),
    /// `mpirun` ran the ranks and ended with this status (only builds with the `mpi`
    /// feature start `mpirun`).
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    Launched(std::process::ExitStatus),
}

/// Sets up the world for `ranks` (the `--ranks` flag) and a global batch of `bs`.
///
/// # Errors
///
/// `--ranks 0`; a `bs` the world size does not divide; `--ranks` that disagrees with the
/// `mpirun` that started this process; `--ranks N` (N > 1) or an `mpirun` job of several
/// ranks on a build without the `mpi` feature; `mpirun` missing from `PATH`.
pub fn launch(ranks: Option<usize>, bs: usize) -> Result<Launch, Box<dyn Error>> {
    if ranks == Some(0) {
        return Err("invalid --ranks: must be at least 1".into());
    }
    if collective::launched_by_mpirun() {
        let comm = join_mpi_world()?;
        let world = comm.world_size();
        if let Some(n) = ranks {
            if n != world {
                return Err(format!(
                    "invalid --ranks: {n}, but mpirun started {world} ranks (drop --ranks under mpirun, or make them equal)"
                )
                .into());
            }
        }
        local_bs(bs, world)?;
        return Ok(Launch::Here(comm));
    }
    match ranks {
        Some(n) if n > 1 => {
            local_bs(bs, n)?;
            relaunch(n)
        }
        _ => Ok(Launch::Here(Rc::new(SingleProcess::new()))),
    }
}

#[cfg(feature = "mpi")]
fn join_mpi_world() -> Result<Rc<dyn Collective>, Box<dyn Error>> {
    Ok(Rc::new(collective::MpiCollective::init()?))
}

/// Without MPI support a job of several ranks would train several unrelated models.
#[cfg(not(feature = "mpi"))]
fn join_mpi_world() -> Result<Rc<dyn Collective>, Box<dyn Error>> {
    let world = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1);
    if world > 1 {
        return Err(no_mpi_build(world).into());
    }
    Ok(Rc::new(SingleProcess::new()))
}

/// The message for data parallelism on a build without the `mpi` feature.
#[cfg(not(feature = "mpi"))]
fn no_mpi_build(n: usize) -> String {
    format!(
        "{n} ranks need MPI support, and this xtask was built without it: build with the `mpi` \
         feature (`cargo xtask-mpi train --ranks {n} ...`, i.e. `cargo run --release -p xtask \
         --features mpi -- train ...`; needs `apt-get install openmpi-bin libopenmpi-dev libclang-dev`)"
    )
}

#[cfg(not(feature = "mpi"))]
fn relaunch(n: usize) -> Result<Launch, Box<dyn Error>> {
    Err(no_mpi_build(n).into())
}

/// Runs `mpirun -np n --oversubscribe --bind-to none THIS_PROGRAM ARGS...` (allowing root,
/// as Open MPI otherwise refuses to start ranks as root) and waits for it.
#[cfg(feature = "mpi")]
fn relaunch(n: usize) -> Result<Launch, Box<dyn Error>> {
    let mpirun = collective::find_mpirun()?;
    let me = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(&mpirun);
    cmd.args([
        "-np",
        &n.to_string(),
        "--oversubscribe",
        "--bind-to",
        "none",
    ])
    .arg(&me)
    .args(std::env::args_os().skip(1));
    if running_as_root() {
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {}: {e}", mpirun.display()))?;
    Ok(Launch::Launched(status))
}

/// Whether this process's real user is root (from `/proc/self/status`; false elsewhere).
#[cfg(feature = "mpi")]
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_batch_must_split_evenly() {
        assert_eq!(local_bs(512, 2), Ok(256));
        assert_eq!(local_bs(8, 4), Ok(2));
        let err = local_bs(500, 3).unwrap_err();
        assert!(err.contains("500 is not divisible by 3 ranks"), "{err}");
    }

    #[test]
    fn identity_names_sync_batch_and_ranks_only_when_used() {
        let mut base = BTreeMap::new();
        base.insert("norm".to_string(), "batch".to_string());
        let single = Parallel::single();
        assert_eq!(single.identity(base.clone()), base);
        let sync = Parallel {
            sync_batch: true,
            ..Parallel::single()
        };
        assert_eq!(sync.identity(base.clone())["norm"], "sync-batch");
        assert!(!sync.identity(base).contains_key("ranks"));
    }

    #[test]
    fn zero_ranks_are_refused() {
        if collective::launched_by_mpirun() {
            return;
        }
        let err = launch(Some(0), 8).err().unwrap().to_string();
        assert_eq!(err, "invalid --ranks: must be at least 1");
    }
}
