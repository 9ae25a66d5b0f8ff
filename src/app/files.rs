//! Files hrsync writes for people: plans and HR dumps.

use std::path::Path;

use super::RunError;

/// Writes `value` as JSON readable by its owner only (it holds personal data), through a
/// temporary file renamed into place, so a reader never sees half a file.
pub(crate) fn write_private(path: &Path, value: &serde_json::Value) -> Result<(), RunError> {
    use std::io::Write;
    let output_error = |source: std::io::Error| RunError::Output {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_vec_pretty(value).map_err(|e| output_error(e.into()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(output_error)?;
    file.write_all(&text)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(output_error)?;
    std::fs::rename(&tmp, path).map_err(output_error)
}
