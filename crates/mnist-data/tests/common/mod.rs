//! Helpers shared by the integration tests: a tiny HTTP server on 127.0.0.1 and
//! directory utilities.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use mnist_data::{DownloadConfig, EncodedFile, FileSpecs, Mirror};

/// Upper bound on connections one server accepts, so it always stops by itself.
const MAX_CONNECTIONS: usize = 200;

/// How the server answers one path.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with the whole body.
    Full(Vec<u8>),
    /// 200 announcing the whole body's length, sending only `send` bytes, then closing.
    Cut { body: Vec<u8>, send: usize },
    /// Like `Cut`, but holding the connection open for `hold` before closing.
    Stall {
        body: Vec<u8>,
        send: usize,
        hold: Duration,
    },
}

/// A one-purpose HTTP/1.1 server: GET only, one thread per connection, `Connection: close`.
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<String>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `routes` (path without the leading `/` -> reply); other paths get 404.
    pub fn start(routes: HashMap<String, Reply>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(routes);
        let acceptor = {
            let stop = Arc::clone(&stop);
            let hits = Arc::clone(&hits);
            thread::spawn(move || {
                for stream in listener.incoming().take(MAX_CONNECTIONS) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let routes = Arc::clone(&routes);
                    let hits = Arc::clone(&hits);
                    thread::spawn(move || serve(stream, &routes, &hits));
                }
            })
        };
        TestServer {
            addr,
            stop,
            hits,
            acceptor: Some(acceptor),
        }
    }

    /// Serves each file's gzip bytes under its `.gz` name.
    pub fn serving(files: &[EncodedFile]) -> TestServer {
        Self::start(
            files
                .iter()
                .map(|f| (f.file.gz_name().to_owned(), Reply::Full(f.gz.clone())))
                .collect(),
        )
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// This server as a mirror.
    pub fn mirror(&self) -> Mirror {
        Mirror::Http(self.base_url())
    }

    /// Paths requested so far, in order.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
    }
}

/// Answers one request.
fn serve(mut stream: TcpStream, routes: &HashMap<String, Reply>, hits: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(path) = read_request_path(&mut stream) else {
        return;
    };
    if let Ok(mut h) = hits.lock() {
        h.push(path.clone());
    }
    let (body, send, hold) = match routes.get(&path) {
        Some(Reply::Full(body)) => (body.as_slice(), body.len(), None),
        Some(Reply::Cut { body, send }) => (body.as_slice(), *send, None),
        Some(Reply::Stall { body, send, hold }) => (body.as_slice(), *send, Some(*hold)),
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body[..send.min(body.len())]);
    let _ = stream.flush();
    if let Some(hold) = hold {
        thread::sleep(hold);
    }
}

/// Reads the request head and returns its path without the leading `/`.
fn read_request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.lines().next()?.split_whitespace().nth(1)?;
    Some(target.trim_start_matches('/').to_owned())
}

/// A base URL on which nothing listens (a port bound and released).
pub fn dead_base_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}/")
}

/// A quiet, fast configuration for tests.
pub fn test_config(mirrors: Vec<Mirror>, specs: FileSpecs) -> DownloadConfig {
    DownloadConfig {
        mirrors,
        specs,
        attempts_per_mirror: 2,
        retry_delay: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        progress: false,
    }
}

/// Names of the entries in `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
