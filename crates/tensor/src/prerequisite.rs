//! Prerequisites of checks that cannot run everywhere, and whether the environment declares
//! them required.
//!
//! A check that needs something this machine may lack (a GPU, NVRTC, a C++ compiler) skips
//! with a printed reason where it is missing, unless the environment declares it required
//! with `<NAME>_REQUIRED=1`: then the check fails instead, so that a machine meant to run
//! it (CI, the GPU runner) never reports a vacuous pass.
//!
//! | prerequisite | variable | declared required also by |
//! |---|---|---|
//! | [`Prerequisite::Cuda`]: a usable CUDA GPU | `CUDA_REQUIRED` | |
//! | [`Prerequisite::Nvrtc`]: the CUDA run-time compiler `libnvrtc` | `NVRTC_REQUIRED` | `CUDA_REQUIRED` (the backend compiles its kernels with it) |
//! | [`Prerequisite::Cxx`]: a C++17 compiler (the CUDA-emulation tests) | `CXX_REQUIRED` | |

/// Something a check needs that a machine may lack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prerequisite {
    /// A usable CUDA GPU (driver, device, libraries).
    Cuda,
    /// NVRTC, `libnvrtc.so`, which compiles the CUDA kernels (no GPU needed).
    Nvrtc,
    /// A C++17 compiler (`$CXX`, else `c++`, `g++` or `clang++`).
    Cxx,
}

/// A required prerequisite is missing: the check that found it must fail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{declared_by}=1 declares it required, but {check} cannot run: {reason}")]
pub struct Unmet {
    /// The variable that declared the prerequisite required.
    pub declared_by: &'static str,
    /// The check that cannot run.
    pub check: String,
    /// What is missing.
    pub reason: String,
}

impl Prerequisite {
    /// The variable that declares this prerequisite required.
    pub const fn env_var(self) -> &'static str {
        match self {
            Prerequisite::Cuda => "CUDA_REQUIRED",
            Prerequisite::Nvrtc => "NVRTC_REQUIRED",
            Prerequisite::Cxx => "CXX_REQUIRED",
        }
    }

    /// The variable that makes this prerequisite required in the current environment, if
    /// any: its own, or for NVRTC also `CUDA_REQUIRED`. A variable counts when its value is
    /// exactly `1`.
    pub fn required_by(self) -> Option<&'static str> {
        let mut vars = vec![self.env_var()];
        if self == Prerequisite::Nvrtc {
            vars.push(Prerequisite::Cuda.env_var());
        }
        vars.into_iter()
            .find(|var| std::env::var_os(var).is_some_and(|v| v == "1"))
    }

    /// Whether the environment declares this prerequisite required.
    pub fn is_required(self) -> bool {
        self.required_by().is_some()
    }

    /// For a check that cannot run because this prerequisite is missing (`reason` says
    /// what is missing): when it is not required, prints to stderr that `check` is skipped
    /// and why, and returns `Ok`; when it is, returns the [`Unmet`] to fail with.
    pub fn skip(self, check: &str, reason: &str) -> Result<(), Unmet> {
        match self.required_by() {
            Some(declared_by) => Err(Unmet {
                declared_by,
                check: check.to_owned(),
                reason: reason.to_owned(),
            }),
            None => {
                eprintln!(
                    "skipped {check}: {reason} (set {}=1 to make this a failure)",
                    self.env_var()
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_distinct() {
        let vars =
            [Prerequisite::Cuda, Prerequisite::Nvrtc, Prerequisite::Cxx].map(|p| p.env_var());
        assert_eq!(vars, ["CUDA_REQUIRED", "NVRTC_REQUIRED", "CXX_REQUIRED"]);
    }

    #[test]
    fn unmet_names_the_variable_check_and_reason() {
        let e = Unmet {
            declared_by: "CXX_REQUIRED",
            check: "emulation".into(),
            reason: "no compiler".into(),
        };
        assert_eq!(
            e.to_string(),
            "CXX_REQUIRED=1 declares it required, but emulation cannot run: no compiler"
        );
    }
}
