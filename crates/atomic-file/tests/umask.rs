//! Permissions honour the umask, like `File::create`. The umask is per process, so each
//! case runs this test binary again in a child shell that set it first.
#![cfg(unix)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use atomic_file::{write_atomic, AtomicOptions};

/// Set in the child: the directory to write into.
const CHILD_DIR: &str = "ATOMIC_FILE_TEST_CHILD_DIR";

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The child's work: three files written under the umask its shell set, by bare names
/// relative to the working directory (the parent set it to the test directory).
fn child(dir: &Path) {
    std::env::set_current_dir(dir).unwrap();
    write_atomic("new.bin", b"new").unwrap();
    write_atomic("old.bin", b"replaced").unwrap();
    let mut part = AtomicOptions::new()
        .hidden(false)
        .suffix(".part")
        .create("download.gz")
        .unwrap();
    part.write_all(b"gz").unwrap();
    part.commit().unwrap();
}

#[test]
fn permissions_follow_the_umask() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        child(Path::new(&dir));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for umask in [0o022u32, 0o077, 0o002, 0o027, 0o000] {
        let dir = tempfile::tempdir().unwrap();
        // An existing owner-only file: replacing it must not keep its mode.
        fs::write(dir.path().join("old.bin"), b"old").unwrap();
        fs::set_permissions(
            dir.path().join("old.bin"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask:03o} && exec \"$0\" \"$@\""))
            .arg(&exe)
            .args([
                "--exact",
                "permissions_follow_the_umask",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child with umask {umask:03o} failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let expected = 0o666 & !umask;
        for name in ["new.bin", "old.bin", "download.gz"] {
            let got = mode(&dir.path().join(name));
            assert_eq!(got, expected, "{name} under umask {umask:03o}: {got:03o}");
        }
        assert_eq!(fs::read(dir.path().join("old.bin")).unwrap(), b"replaced");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }
}
