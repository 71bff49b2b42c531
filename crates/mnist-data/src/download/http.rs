//! Streaming an HTTP(S) download into a part file, with timeouts and a progress bar.

use std::error::Error as _;
use std::io::{ErrorKind, Read, Write};

use atomic_file::AtomicFile;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::download::config::DownloadConfig;
use crate::error::{MnistError, Result};

/// Bytes read from the network per write to disk.
const CHUNK: usize = 64 * 1024;

/// A blocking HTTP client configured with the download timeouts.
pub(crate) struct HttpClient {
    agent: ureq::Agent,
    progress: bool,
}

impl HttpClient {
    /// Builds a client from the timeouts and progress setting of `config`.
    pub(crate) fn new(config: &DownloadConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(config.connect_timeout)
            .timeout_read(config.read_timeout)
            .user_agent(concat!("mnist-data/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpClient {
            agent,
            progress: config.progress,
        }
    }

    /// Downloads `url` into `part`, returning the number of bytes written. A transfer that
    /// ends before its announced length is an error.
    pub(crate) fn fetch_into(&self, url: &str, label: &str, part: &mut AtomicFile) -> Result<u64> {
        let response = self.agent.get(url).call().map_err(|e| from_ureq(url, e))?;
        let announced = response
            .header("Content-Length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bar = self.bar(label, announced);
        let mut body = response.into_reader();
        let mut buf = vec![0u8; CHUNK];
        let mut written = 0u64;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    bar.abandon();
                    return Err(http_error(
                        url,
                        format!("transfer interrupted after {written} bytes: {e}"),
                        true,
                    ));
                }
            };
            let part_path = part.path().to_path_buf();
            part.write_all(&buf[..n])
                .map_err(|e| MnistError::io(part_path, e))?;
            written += n as u64;
            bar.set_position(written);
        }
        bar.finish_and_clear();
        match announced {
            Some(len) if len != written => Err(http_error(
                url,
                format!("transfer ended after {written} of {len} bytes"),
                true,
            )),
            _ => Ok(written),
        }
    }

    /// A progress bar on stderr, or a hidden one.
    fn bar(&self, label: &str, len: Option<u64>) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        let template = if len.is_some() {
            "{msg:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
        } else {
            "{msg:30} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        bar
    }
}

fn http_error(url: &str, message: String, transient: bool) -> MnistError {
    MnistError::Http {
        url: url.to_owned(),
        message,
        transient,
    }
}

/// Converts a `ureq` error into a one-line [`MnistError::Http`].
fn from_ureq(url: &str, error: ureq::Error) -> MnistError {
    match error {
        ureq::Error::Status(code, _) => http_error(
            url,
            format!("HTTP status {code}"),
            code >= 500 || code == 408 || code == 429,
        ),
        ureq::Error::Transport(t) => {
            let mut message = t.kind().to_string();
            if let Some(detail) = t.message() {
                message.push_str(": ");
                message.push_str(detail);
            }
            let mut source = t.source();
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            let transient = matches!(
                t.kind(),
                ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Io
            );
            http_error(url, message.replace('\n', " "), transient)
        }
    }
}
