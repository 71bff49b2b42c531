//! Replacing files, no leftovers on failure or drop, temporary names, error messages.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use atomic_file::{write_atomic, AtomicFile, AtomicOptions};

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn write_creates_then_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("a.bin");
    write_atomic(&dest, b"first, longer content").unwrap();
    assert_eq!(fs::read(&dest).unwrap(), b"first, longer content");
    write_atomic(&dest, b"2nd").unwrap();
    // Replaced, not overwritten in place: no tail of the longer old content survives.
    assert_eq!(fs::read(&dest).unwrap(), b"2nd");
    assert_eq!(names(dir.path()), ["a.bin"]);
}

#[test]
fn empty_content_gives_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("empty");
    write_atomic(&dest, b"old").unwrap();
    write_atomic(&dest, b"").unwrap();
    assert_eq!(fs::read(&dest).unwrap(), b"");
}

#[test]
fn streamed_file_is_invisible_until_commit() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("log.txt");
    write_atomic(&dest, b"old").unwrap();
    let mut f = AtomicFile::create(&dest).unwrap();
    assert_eq!(f.dest(), dest);
    f.write_all(b"new ").unwrap();
    f.write_all(b"content").unwrap();
    // Written bytes are readable through the temporary path; the destination is untouched.
    assert_eq!(fs::read(f.path()).unwrap(), b"new content");
    assert_eq!(fs::read(&dest).unwrap(), b"old");
    assert_eq!(f.as_file().metadata().unwrap().len(), 11);
    f.commit().unwrap();
    assert_eq!(fs::read(&dest).unwrap(), b"new content");
    assert_eq!(names(dir.path()), ["log.txt"]);
}

#[test]
fn dropping_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("x.gz");
    {
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"partial").unwrap();
        assert_eq!(names(dir.path()).len(), 1);
    }
    assert!(names(dir.path()).is_empty());
    // An existing destination survives an abandoned replacement.
    write_atomic(&dest, b"kept").unwrap();
    drop(AtomicFile::create(&dest).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), b"kept");
    assert_eq!(names(dir.path()), ["x.gz"]);
}

#[test]
fn failed_rename_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // A non-empty directory cannot be replaced by a file.
    let dest = dir.path().join("taken");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("inside"), b"x").unwrap();
    let err = write_atomic(&dest, b"data").unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("renaming "), "{msg}");
    assert!(msg.contains(&dest.display().to_string()), "{msg}");
    assert_eq!(names(dir.path()), ["taken"]);
    assert_eq!(names(&dest), ["inside"]);
}

#[test]
fn missing_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let err = write_atomic(missing.join("f.bin"), b"data").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "creating a temporary file in directory {}: ",
            missing.display()
        )),
        "{msg}"
    );
    assert!(!missing.exists(), "the directory must not be created");
    let err = AtomicFile::create(missing.join("g")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn a_path_without_a_file_name_is_invalid_input() {
    let err = write_atomic(Path::new("/"), b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "/ does not name a file");
}

#[test]
fn temporary_names_follow_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("train.gz");
    let file_name = |f: &AtomicFile| f.path().file_name().unwrap().to_string_lossy().into_owned();

    let f = AtomicFile::create(&dest).unwrap();
    let name = file_name(&f);
    assert!(
        name.starts_with(".train.gz.") && name.ends_with(".tmp"),
        "{name}"
    );
    assert!(
        name.len() > ".train.gz..tmp".len(),
        "{name} has no random part"
    );
    assert_eq!(f.path().parent(), Some(dir.path()));
    drop(f);

    let part = AtomicOptions::new()
        .hidden(false)
        .suffix(".part")
        .create(&dest)
        .unwrap();
    let name = file_name(&part);
    assert!(
        name.starts_with("train.gz.") && name.ends_with(".part"),
        "{name}"
    );
    part.commit().unwrap();
    assert_eq!(names(dir.path()), ["train.gz"]);
}

#[test]
fn two_open_replacements_of_one_file_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("same");
    let mut a = AtomicFile::create(&dest).unwrap();
    let mut b = AtomicFile::create(&dest).unwrap();
    assert_ne!(a.path(), b.path());
    a.write_all(b"a").unwrap();
    b.write_all(b"b").unwrap();
    a.commit().unwrap();
    b.commit().unwrap();
    // The last commit wins.
    assert_eq!(fs::read(&dest).unwrap(), b"b");
    assert_eq!(names(dir.path()), ["same"]);
}
