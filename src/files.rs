//! Replacing a file whole and safely: a new temporary file in the same folder, created
//! exclusively with an exact mode, renamed over the path; what is at the path already is refused
//! when it is a link, not a regular file, or another user's. Plans and HR dumps
//! ([`crate::app`]) and the metrics textfile ([`crate::metrics`]) are written through here.

use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with a new file holding `bytes`, of mode exactly `mode`, through a
/// temporary file in the same folder (see the module). The errors do not repeat `path`: the
/// caller names it.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "it does not name a file"))?;
    let folder = folder_of(path);
    let mut temp = Temp::create(&temp_path(folder, name)?, mode)?;
    refuse_to_replace(path, &temp.file.metadata()?)?;
    temp.file.write_all(bytes)?;
    temp.file.sync_all()?;
    temp.rename_onto(path)?;
    // So that the rename itself survives a crash; the file is in place either way.
    let _ = File::open(folder).and_then(|f| f.sync_all());
    Ok(())
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `.NAME.<pid>.<16 random hex digits>.tmp` in `folder`.
fn temp_path(folder: &Path, name: &std::ffi::OsStr) -> io::Result<PathBuf> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random)
        .map_err(|e| io::Error::other(format!("no randomness for a temporary file name: {e}")))?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{}.{hex}.tmp", std::process::id()));
    Ok(folder.join(temp))
}

/// Why what is at `path` must not be replaced by a file of the user `ours` belongs to, if it
/// must not; nothing there is fine.
fn refuse_to_replace(path: &Path, ours: &Metadata) -> io::Result<()> {
    let existing = match std::fs::symlink_metadata(path) {
        Ok(existing) => existing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let kind = existing.file_type();
    let refused = |message: String| Err(io::Error::new(io::ErrorKind::AlreadyExists, message));
    if kind.is_symlink() {
        return refused(
            "it is a symbolic link, which hrsync neither writes through nor replaces; \
             name the file itself"
                .to_string(),
        );
    }
    if kind.is_dir() {
        return refused("it is a directory".to_string());
    }
    if !kind.is_file() {
        return refused("it exists and is not a regular file".to_string());
    }
    owned_by_us(&existing, ours)
}

#[cfg(unix)]
fn owned_by_us(existing: &Metadata, ours: &Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if existing.uid() == ours.uid() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "it belongs to another user (uid {}) than the one hrsync runs as (uid {}), \
             so it was not replaced",
            existing.uid(),
            ours.uid()
        ),
    ))
}

#[cfg(not(unix))]
fn owned_by_us(_existing: &Metadata, _ours: &Metadata) -> io::Result<()> {
    Ok(())
}

/// The temporary file, removed when dropped unless it was renamed into place.
struct Temp {
    path: PathBuf,
    file: File,
    renamed: bool,
}

impl Temp {
    /// Creates `path` exclusively, without following a link, with mode exactly `mode`.
    fn create(path: &Path, mode: u32) -> io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode).custom_flags(libc::O_NOFOLLOW);
        }
        let file = options.open(path)?;
        let temp = Self {
            path: path.to_path_buf(),
            file,
            renamed: false,
        };
        // The umask narrowed the mode given to open; the file gets exactly `mode`.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            temp.file
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        Ok(temp)
    }

    fn rename_onto(&mut self, path: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, path)?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE_MODE: u32 = 0o600;

    #[test]
    fn a_file_or_symlink_already_at_the_temporary_name_is_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let link = dir.path().join(".plan.json.1.0000000000000000.tmp");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = Temp::create(&link, PRIVATE_MODE).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        let planted = dir.path().join(".plan.json.2.0000000000000000.tmp");
        std::fs::write(&planted, "planted").unwrap();
        let err = Temp::create(&planted, PRIVATE_MODE).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        // Refused, so not removed either: the drop only removes what was created.
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&planted).unwrap(), "planted");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    #[test]
    fn temporary_names_are_hidden_in_the_same_folder_and_differ() {
        let folder = Path::new("/some/folder");
        let name = std::ffi::OsStr::new("plan.json");
        let one = temp_path(folder, name).unwrap();
        let two = temp_path(folder, name).unwrap();
        assert_ne!(one, two);
        assert_eq!(one.parent(), Some(folder));
        let file = one.file_name().unwrap().to_str().unwrap();
        let prefix = format!(".plan.json.{}.", std::process::id());
        assert!(file.starts_with(&prefix), "{file}");
        let hex = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .unwrap();
        assert_eq!(hex.len(), 16, "{file}");
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{file}");
        assert_eq!(folder_of(Path::new("plan.json")), Path::new("."));
        assert_eq!(folder_of(Path::new("out/plan.json")), Path::new("out"));
    }
}
