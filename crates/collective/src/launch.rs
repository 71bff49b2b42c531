//! Finding the MPI launcher and telling whether this process was started by one.
//!
//! These helpers need no MPI library, so they are available without the `mpi` feature.

use crate::error::{CollectiveError, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Environment variables that an MPI launcher sets in every rank it starts: Open MPI's own
/// (`OMPI_COMM_WORLD_SIZE`), PMIx's (`PMIX_RANK`, set by Open MPI 4+ and Slurm with PMIx) and
/// PMI's (`PMI_RANK`, set by MPICH's Hydra and Slurm with PMI-2).
pub const LAUNCHER_ENV_VARS: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"];

/// `true` when this process was started by an MPI launcher (see [`LAUNCHER_ENV_VARS`]).
pub fn launched_by_mpirun() -> bool {
    launched_by_mpirun_with(|name| std::env::var_os(name).is_some())
}

/// [`launched_by_mpirun`] against an arbitrary environment lookup (for tests).
pub fn launched_by_mpirun_with(mut is_set: impl FnMut(&str) -> bool) -> bool {
    LAUNCHER_ENV_VARS.iter().any(|name| is_set(name))
}

/// Fails with [`CollectiveError::NotLaunchedByMpi`] unless this process was started by an MPI
/// launcher; the error names the current program so the user sees the command to run.
pub fn require_mpi_launch() -> Result<()> {
    if launched_by_mpirun() {
        return Ok(());
    }
    let program = std::env::args_os()
        .next()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "PROGRAM".to_string());
    Err(CollectiveError::NotLaunchedByMpi { program })
}

/// The path of the first executable `mpirun` on `PATH`, or
/// [`CollectiveError::MpirunNotFound`] (whose message says which packages to install).
pub fn find_mpirun() -> Result<PathBuf> {
    find_in_path("mpirun", std::env::var_os("PATH").as_deref())
}

/// Looks for an executable called `name` in the directories of the `PATH`-style list `path`.
pub fn find_in_path(name: &str, path: Option<&OsStr>) -> Result<PathBuf> {
    let path = path.ok_or(CollectiveError::MpirunNotFound)?;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or(CollectiveError::MpirunNotFound)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn launch_is_detected_from_any_launcher_variable() {
        assert!(!launched_by_mpirun_with(|_| false));
        for var in LAUNCHER_ENV_VARS {
            assert!(launched_by_mpirun_with(|name| name == var), "{var}");
        }
        assert!(!launched_by_mpirun_with(
            |name| name == "OMPI_COMM_WORLD_RANK_X"
        ));
    }

    #[test]
    fn missing_mpirun_names_the_packages_to_install() {
        let dir = std::env::temp_dir().join(format!("collective-nompi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = find_in_path("mpirun", Some(dir.as_os_str())).unwrap_err();
        assert_eq!(err, CollectiveError::MpirunNotFound);
        let msg = err.to_string();
        assert!(
            msg.contains("apt-get install openmpi-bin libopenmpi-dev"),
            "{msg}"
        );
        assert_eq!(
            find_in_path("mpirun", None),
            Err(CollectiveError::MpirunNotFound)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn finds_the_first_executable_on_the_path() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("collective-path-{}", std::process::id()));
        let (a, b, c) = (base.join("a"), base.join("b"), base.join("c"));
        for d in [&a, &b, &c] {
            std::fs::create_dir_all(d).unwrap();
        }
        // `a` holds a non-executable file of that name, `b` the executable, `c` another one.
        std::fs::write(a.join("mpirun"), "").unwrap();
        for d in [&b, &c] {
            let f = d.join("mpirun");
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path: OsString = std::env::join_paths([&a, &b, &c]).unwrap();
        assert_eq!(
            find_in_path("mpirun", Some(&path)).unwrap(),
            b.join("mpirun")
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn not_launched_error_says_how_to_run() {
        let err = CollectiveError::NotLaunchedByMpi {
            program: "train".into(),
        };
        assert!(err.to_string().contains("mpirun -np N train"), "{err}");
    }
}
