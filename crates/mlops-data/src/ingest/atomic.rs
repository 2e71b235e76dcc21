//! Write-to-temporary-then-rename, so a failed write never leaves a partial file under the
//! final name.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::io_error;
use crate::Result;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file next to its destination. Dropped without [`TempFile::commit`], it removes
/// the temporary file.
#[derive(Debug)]
pub(crate) struct TempFile {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Creates a new, empty temporary file in `dest`'s directory.
    pub(crate) fn create(dest: &Path) -> Result<(Self, File)> {
        let name = dest.file_name().ok_or_else(|| {
            io_error(
                dest,
                io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
            )
        })?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut last_err = None;
        for _ in 0..32 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
            let tmp = dir.join(tmp_name);
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => {
                    return Ok((
                        Self {
                            tmp,
                            dest: dest.to_path_buf(),
                            committed: false,
                        },
                        file,
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(io_error(dest, e)),
            }
        }
        Err(io_error(
            dest,
            last_err.unwrap_or_else(|| io::Error::other("could not create a temporary file")),
        ))
    }

    /// Syncs `file` to disk and renames the temporary file to the destination.
    pub(crate) fn commit(mut self, file: File) -> Result<()> {
        file.sync_all().map_err(|e| io_error(&self.dest, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| io_error(&self.dest, e))?;
        self.committed = true;
        // Make the rename itself durable. Best effort: the file is already complete and in
        // place, and not every platform or file system can sync a directory.
        #[cfg(unix)]
        if let Some(dir) = self.dest.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// The final path.
    pub(crate) fn dest(&self) -> &Path {
        &self.dest
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the write already failed and that error is what the caller sees.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
