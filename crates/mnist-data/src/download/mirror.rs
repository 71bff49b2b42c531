//! Download sources: local directories and HTTP mirrors.

use std::path::PathBuf;

use crate::file::MnistFile;
use crate::source::shared_data_dir;

/// The public HTTP mirrors of the original `.gz` files, in the order tried.
pub const HTTP_MIRRORS: [&str; 3] = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// One place the four `.gz` files can be fetched from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mirror {
    /// A local directory holding the files (copied, then verified).
    LocalDir(PathBuf),
    /// An HTTP(S) base URL; a file's URL is the base followed by its `.gz` name.
    Http(String),
}

impl Mirror {
    /// Where `file` would come from, as shown to people: a path or a URL.
    pub fn location(&self, file: MnistFile) -> String {
        match self {
            Mirror::LocalDir(dir) => dir.join(file.gz_name()).display().to_string(),
            Mirror::Http(base) => url_for(base, file),
        }
    }
}

/// The URL of `file` under `base`, with exactly one `/` between them.
pub fn url_for(base: &str, file: MnistFile) -> String {
    format!("{}/{}", base.trim_end_matches('/'), file.gz_name())
}

/// The default sources: the workspace's `../shared/data/mnist` when it exists (offline
/// machines, CI), then the public HTTP mirrors.
pub fn default_mirrors() -> Vec<Mirror> {
    let shared = shared_data_dir();
    let local = shared.is_dir().then_some(Mirror::LocalDir(shared));
    local
        .into_iter()
        .chain(
            HTTP_MIRRORS
                .iter()
                .map(|url| Mirror::Http((*url).to_owned())),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_with_one_slash() {
        let f = MnistFile::TestLabels;
        assert_eq!(
            url_for("http://h/m/", f),
            "http://h/m/t10k-labels-idx1-ubyte.gz"
        );
        assert_eq!(
            url_for("http://h/m", f),
            "http://h/m/t10k-labels-idx1-ubyte.gz"
        );
    }

    #[test]
    fn defaults_end_with_the_public_mirrors() {
        let mirrors = default_mirrors();
        let http: Vec<_> = mirrors
            .iter()
            .filter_map(|m| match m {
                Mirror::Http(url) => Some(url.as_str()),
                Mirror::LocalDir(_) => None,
            })
            .collect();
        assert_eq!(http, HTTP_MIRRORS);
        assert_eq!(
            matches!(mirrors.first(), Some(Mirror::LocalDir(_))),
            shared_data_dir().is_dir()
        );
    }
}
