//! The audit sink checked without writing to it, for `hrsync validate` and `hrsync check`:
//! would a run be able to append its records?

use std::path::Path;

use super::config::AuditSink;
use super::log::{check_opened, explain_open};

/// Whether a run could append to `sink`, said in a line for people: `Ok` says what a run will
/// do, `Err` what stands in the way. Nothing is created or written: an existing log is opened
/// for appending and closed, and for a log not there yet, the directory it goes into is
/// checked to exist and to let hrsync's user create files (`access(2)` with the effective user,
/// which also sees a read-only file system and an immutable directory).
pub fn probe(sink: &AuditSink) -> Result<String, String> {
    let path = match sink {
        AuditSink::Stdout => return Ok("standard output".to_string()),
        AuditSink::File(path) => path,
    };
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Err(format!(
            "{} is a symbolic link; the audit log is not written through one",
            path.display()
        )),
        Ok(metadata) if metadata.is_dir() => Err(format!("{} is a directory", path.display())),
        Ok(_) => probe_existing(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => probe_new(path),
        Err(e) => match not_a_directory(path) {
            Some(file) => Err(format!(
                "{}: {} is not a directory",
                path.display(),
                file.display()
            )),
            None => Err(format!("{}: {e}", path.display())),
        },
    }
}

/// The part of `path`'s directories that is something else than a directory (a file where a
/// directory was replaced), if one is.
fn not_a_directory(path: &Path) -> Option<&Path> {
    path.ancestors()
        .skip(1)
        .find(|a| std::fs::metadata(a).is_ok_and(|m| !m.is_dir()))
}

/// An existing log: opened to append (never created, no link followed) and closed again.
fn probe_existing(path: &Path) -> Result<String, String> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| explain_open(path, e))
        .and_then(|file| check_opened(path, &file).map(|()| file))
        .map_err(|e| format!("cannot append to {}: {e}", path.display()))?;
    drop(file);
    Ok(format!("{} (appended to)", path.display()))
}

/// A log not there yet: its directory must exist and take new files.
fn probe_new(path: &Path) -> Result<String, String> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match std::fs::metadata(directory) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", directory.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "the directory {} does not exist",
                directory.display()
            ));
        }
        Err(e) => return Err(format!("{}: {e}", directory.display())),
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{Access, AtFlags, CWD, accessat};
        accessat(
            CWD,
            directory,
            Access::WRITE_OK | Access::EXEC_OK,
            AtFlags::EACCESS,
        )
        .map_err(|e| {
            format!(
                "cannot create {} in {}: {}",
                file_name(path),
                directory.display(),
                std::io::Error::from(e)
            )
        })?;
    }
    Ok(format!(
        "{} (created at the first run, mode 0600)",
        path.display()
    ))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
