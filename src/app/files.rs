//! Files hrsync writes for people: plans and HR dumps, which hold personal data, written
//! with mode 0600 by [`crate::files::replace`]:
//!
//! - a new temporary file in the same folder, under a name nobody can guess ahead
//!   (`.NAME.<pid>.<random hex>.tmp`), created exclusively (`O_CREAT | O_EXCL`, and
//!   `O_NOFOLLOW`): a file or a symbolic link already there is refused, never opened or followed;
//! - its mode set to exactly the one asked for (0600 for personal data) on the open file, so
//!   the umask neither widens nor narrows it;
//! - the bytes written and synced, then the file renamed over `path`, so a reader sees the old
//!   file or the whole new one; on any error the temporary file is removed.
//!
//! What is already at `path` is looked at first, without following a link, and refused rather
//! than replaced when it is:
//!
//! - a symbolic link: hrsync neither writes through it (the data would land wherever the link
//!   points) nor silently swaps it for a file (whoever made it expects it to stay); the user is
//!   asked to name the file itself;
//! - a directory, or anything else that is not a regular file;
//! - a file owned by another user than the one hrsync runs as (the owner of the temporary file
//!   just created): replacing it would take it from its owner, and is more likely a mistaken
//!   path, or a trap in a shared folder, than what was meant.
//!
//! A replaced file of hrsync's own user gets the new mode, whatever the old one was.

use std::path::Path;

use super::RunError;
use crate::files::replace;

/// The mode of a file holding personal data: readable and writable by its owner only.
pub(crate) const PRIVATE_MODE: u32 = 0o600;

/// Writes `bytes` to `path`, mode 0600, as the module says; the error names `path`.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    replace(path, bytes, PRIVATE_MODE).map_err(|source| RunError::Output {
        path: path.display().to_string(),
        source,
    })
}

/// [`write_private`] for a JSON value: pretty-printed, with a trailing newline.
pub(crate) fn write_private_json(path: &Path, value: &serde_json::Value) -> Result<(), RunError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| RunError::Output {
        path: path.display().to_string(),
        source: e.into(),
    })?;
    text.push(b'\n');
    write_private(path, &text)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Whether the tests run as root: the owner of a file they create.
    fn is_root() -> bool {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().metadata().unwrap().uid() == 0
    }

    #[test]
    fn a_new_file_gets_mode_0600_and_the_exact_bytes_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        write_private(&path, b"{\"a\": 1}\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\": 1}\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(names(dir.path()), ["plan.json"]);
    }

    #[test]
    fn the_mode_is_exact_whatever_the_umask() {
        // The umask cannot be changed here without unsafe code; the mode is set on the open
        // file after creation, so it does not depend on it (the integration test
        // `plan_out_is_private` runs hrsync under umask 000). A mode the umask would
        // narrow shows it is set, not masked.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.prom");
        replace(&path, b"x 1\n", 0o666).unwrap();
        assert_eq!(mode(&path), 0o666);
        replace(&path, b"x 2\n", PRIVATE_MODE).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_existing_readable_file_of_ours_becomes_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hr.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private_json(&path, &serde_json::json!({"records": []})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"records\": []\n}\n"
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(names(dir.path()), ["hr.json"]);
    }

    #[test]
    fn a_symlink_at_the_path_is_refused_and_its_target_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let path = dir.path().join("plan.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = write_private(&path, b"personal data")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(names(dir.path()), ["elsewhere", "plan.json"]);
    }

    #[test]
    fn a_dangling_symlink_at_the_path_is_refused_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("not-yet");
        let path = dir.path().join("plan.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = write_private(&path, b"personal data")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert!(!target.exists());
        assert_eq!(names(dir.path()), ["plan.json"]);
    }

    #[test]
    fn a_directory_a_socket_or_no_file_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plans");
        std::fs::create_dir(&path).unwrap();
        let err = write_private(&path, b"x").unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("is a directory"), "{err}");
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err = write_private(&socket, b"x").unwrap_err().to_string();
        assert!(err.contains("is not a regular file"), "{err}");
        assert_eq!(names(dir.path()), ["plans", "socket"]);
        let err = write_private(Path::new("/"), b"x").unwrap_err().to_string();
        assert!(err.contains("does not name a file"), "{err}");
    }

    #[test]
    fn a_file_of_another_user_is_refused_and_left_as_it_was() {
        if !is_root() {
            eprintln!(
                "SKIPPED the refusal of another user's file: only root can give a file to \
                 another user (CI runs the tests as root)"
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, "theirs").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let err = write_private(&path, b"ours").unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("belongs to another user (uid 65534)"), "{err}");
        assert!(err.contains("not replaced"), "{err}");
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "theirs");
        assert_eq!(after.uid(), 65534);
        assert_eq!(after.permissions().mode() & 0o7777, 0o644);
        assert_eq!(names(dir.path()), ["plan.json"]);
    }
}
