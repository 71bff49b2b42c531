//! Download settings.

use std::time::Duration;

use crate::download::mirror::{default_mirrors, Mirror};
use crate::spec::FileSpecs;

/// How [`crate::ensure_downloaded_with`] fetches and verifies files.
#[derive(Clone, Debug)]
pub struct DownloadConfig {
    /// Sources, tried in order for each file.
    pub mirrors: Vec<Mirror>,
    /// Checksums every file must match.
    pub specs: FileSpecs,
    /// Tries per HTTP mirror for transient failures (at least 1).
    pub attempts_per_mirror: u32,
    /// Pause before the second try; doubled for each further one.
    pub retry_delay: Duration,
    /// Limit on establishing a connection.
    pub connect_timeout: Duration,
    /// Limit on each read from the network (a stalled transfer fails after this).
    pub read_timeout: Duration,
    /// Whether to draw progress bars (they are hidden anyway when stderr is no terminal).
    pub progress: bool,
}

impl Default for DownloadConfig {
    /// The default sources and official checksums; 3 tries per mirror; 10 s to connect,
    /// 30 s per read; progress bars on.
    fn default() -> Self {
        DownloadConfig {
            mirrors: default_mirrors(),
            specs: FileSpecs::official(),
            attempts_per_mirror: 3,
            retry_delay: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            progress: true,
        }
    }
}
