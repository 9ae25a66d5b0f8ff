//! The audit log as an open sink: opened once per run, before the first change, then appended
//! to one whole line at a time.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::config::AuditSink;

/// How long appended records may stay in the page cache before the next record forces them to
/// disk. Each record reaches the kernel as it is written, so a killed hrsync loses none; this
/// bounds what a power cut takes while records keep coming. The run's first and last records
/// are forced at once.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// An open audit log.
pub(crate) struct Log {
    target: Target,
    /// When the records were last forced to disk.
    synced: Instant,
    /// The file ended in the middle of a line (a write cut short, say by a full disk): the next
    /// record starts with a newline so that it stays on a line of its own.
    cut_short: bool,
}

enum Target {
    File(File),
    Stdout,
    #[cfg(test)]
    Writer(Box<dyn Write + Send>),
}

impl Log {
    /// Opens the sink to append to; nothing is written yet.
    pub(crate) fn open(sink: &AuditSink) -> std::io::Result<Self> {
        let (target, cut_short) = match sink {
            AuditSink::Stdout => (Target::Stdout, false),
            AuditSink::File(path) => {
                let file = open_log(path)?;
                let cut_short = ends_mid_line(&file)?;
                (Target::File(file), cut_short)
            }
        };
        Ok(Self {
            target,
            synced: Instant::now(),
            cut_short,
        })
    }

    /// A log that writes to `writer` (for tests of failing sinks).
    #[cfg(test)]
    pub(crate) fn to_writer(writer: Box<dyn Write + Send>) -> Self {
        Self {
            target: Target::Writer(writer),
            synced: Instant::now(),
            cut_short: false,
        }
    }

    /// Appends one line (`line` ends with a newline) in a single write, so that a concurrent
    /// reader and a killed hrsync see whole lines, and forces the log to disk when the last
    /// time is [`SYNC_EVERY`] ago.
    pub(crate) fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.cut_short {
            self.write(b"\n")?;
            self.cut_short = false;
        }
        self.write(line)?;
        if self.synced.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.target {
            Target::File(file) => file.write_all(bytes),
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            #[cfg(test)]
            Target::Writer(writer) => writer.write_all(bytes),
        }
    }

    /// Forces what was appended to disk (standard output: flushes it).
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        match &mut self.target {
            Target::File(file) => file.sync_data()?,
            Target::Stdout => std::io::stdout().lock().flush()?,
            #[cfg(test)]
            Target::Writer(writer) => writer.flush()?,
        }
        self.synced = Instant::now();
        Ok(())
    }
}

/// Whether the file's last byte is not a newline.
fn ends_mid_line(file: &File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    use std::os::unix::fs::FileExt;
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

/// Opens the audit log to append to, created owner-only (it names people and their access).
/// A symbolic link at the path is refused rather than followed, and so is a log that belongs
/// to another user (records written into it would be theirs to read and to rewrite) and one
/// that is not a regular file (a device or a pipe keeps nothing; a pipe without a reader is
/// refused at once rather than waited on).
fn open_log(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    // Read too: to see whether the last line was cut short.
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| explain_open(path, e))?;
    check_opened(path, &file)?;
    Ok(file)
}

/// The error of opening `path`, with what an `ELOOP` means here.
pub(crate) fn explain_open(path: &Path, error: std::io::Error) -> std::io::Error {
    if error.raw_os_error() == Some(libc::ELOOP) {
        std::io::Error::other(format!(
            "{} is a symbolic link; the audit log is not written through one",
            path.display()
        ))
    } else {
        error
    }
}

/// Refuses an opened log that is not a regular file or belongs to another user.
pub(crate) fn check_opened(path: &Path, file: &File) -> std::io::Result<()> {
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let owner = metadata.uid();
        let us = rustix::process::geteuid().as_raw();
        if owner != us {
            return Err(std::io::Error::other(format!(
                "{} belongs to another user (uid {owner}) than the one hrsync runs as (uid {us}); \
                 not written",
                path.display()
            )));
        }
    }
    Ok(())
}
