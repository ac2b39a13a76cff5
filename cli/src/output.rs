//! Output files that appear whole or not at all.
//!
//! Every output of a run is checked and created before the work starts, under a temporary
//! name in its final directory (`.NAME.PID.partial`), so an unwritable path, a missing
//! directory or a name given twice is an error before any processing. When the whole run
//! has succeeded, [`Outputs::commit`] renames every file to its final name; if the run fails
//! (an error, a panic, a full disk), dropping [`Outputs`] removes every temporary file and
//! every directory it created, so no partial output is left behind. An interrupt (Ctrl-C,
//! SIGTERM) removes them too, through [`remove_on_interrupt`].
//! A destination that is not a regular file (`/dev/null`, a FIFO) is written in place,
//! never renamed onto.

use super::CliError;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Temporary files and created directories of the runs in progress, for the interrupt
/// handler.
static PENDING: Mutex<(Vec<PathBuf>, Vec<PathBuf>)> = Mutex::new((Vec::new(), Vec::new()));

fn pending() -> std::sync::MutexGuard<'static, (Vec<PathBuf>, Vec<PathBuf>)> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

fn forget(files: &[(PathBuf, PathBuf)], dirs: &[PathBuf]) {
    let mut p = pending();
    p.0.retain(|f| !files.iter().any(|(t, _)| t == f));
    p.1.retain(|d| !dirs.contains(d));
}

/// Set by a command that ends itself cleanly on an interrupt ([`stop_on_interrupt`]).
static STOP_GRACEFULLY: AtomicBool = AtomicBool::new(false);
/// An interrupt arrived while [`STOP_GRACEFULLY`] was set.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// From now on an interrupt does not exit: it sets the flag [`interrupted`] reads, and the
/// running command finishes (writes its outputs) and returns. For commands that run until
/// stopped (`bridge`).
pub fn stop_on_interrupt() {
    STOP_GRACEFULLY.store(true, Ordering::SeqCst);
}

/// Whether an interrupt asked a [`stop_on_interrupt`] command to finish.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// On Ctrl-C or SIGTERM: removes every pending temporary file and created directory, then
/// exits with status 130 (unless a command asked to [`stop_on_interrupt`]). Call once, at
/// start-up; failing to install is not fatal.
pub fn remove_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        if STOP_GRACEFULLY.load(Ordering::SeqCst) {
            INTERRUPTED.store(true, Ordering::SeqCst);
            return;
        }
        let p = pending();
        for f in &p.0 {
            let _ = std::fs::remove_file(f);
        }
        for d in p.1.iter().rev() {
            let _ = std::fs::remove_dir_all(d);
        }
        eprintln!("rvoip-media: interrupted; no output written");
        std::process::exit(130);
    });
}

/// The outputs of one run. See the [module docs](self).
#[derive(Default)]
pub struct Outputs {
    files: Vec<(PathBuf, PathBuf)>,
    dirs: Vec<PathBuf>,
    /// Destinations that are not regular files (`/dev/null`, a FIFO), written in place.
    direct: Vec<PathBuf>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io { path: path.display().to_string(), source }
}

impl Outputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `dir` (and its parents) unless it exists; a directory this creates is removed
    /// again if the run fails.
    pub fn create_dir(&mut self, dir: &Path) -> Result<(), CliError> {
        if dir.is_dir() {
            return Ok(());
        }
        if dir.exists() {
            return Err(CliError::Usage(format!("{}: exists and is not a directory", dir.display())));
        }
        // Remember the outermost missing ancestor, so a failed run removes all it created.
        let mut top = dir.to_path_buf();
        while let Some(parent) = top.parent() {
            if parent.as_os_str().is_empty() || parent.exists() {
                break;
            }
            top = parent.to_path_buf();
        }
        pending().1.push(top.clone());
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        self.dirs.push(top);
        Ok(())
    }

    /// Checks that `dest` can be written and creates its temporary file, returned open for
    /// writing. Errors: `dest` is a directory, its directory does not exist or is not
    /// writable, or `dest` was already given as another output of this run.
    pub fn create(&mut self, dest: &Path) -> Result<File, CliError> {
        if self.files.iter().any(|(_, d)| d == dest) || self.direct.iter().any(|d| d == dest) {
            return Err(CliError::Usage(format!("{}: given as two outputs of one run", dest.display())));
        }
        if dest.is_dir() {
            return Err(CliError::Usage(format!("{}: is a directory, expected a file name", dest.display())));
        }
        // A device or a FIFO (`--out /dev/null`) is written in place: renaming a temporary
        // file onto it would replace the device with a regular file (as root, `/dev/null`
        // then kept what every program wrote there and gave it back to every reader).
        if std::fs::metadata(dest).is_ok_and(|m| !m.file_type().is_file()) {
            let file = std::fs::OpenOptions::new().write(true).open(dest).map_err(io_err(dest))?;
            self.direct.push(dest.to_path_buf());
            return Ok(file);
        }
        let name = dest
            .file_name()
            .ok_or_else(|| CliError::Usage(format!("{}: not a file name", dest.display())))?
            .to_string_lossy()
            .into_owned();
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(CliError::Usage(format!(
                "{}: cannot write here, directory {} does not exist",
                dest.display(),
                dir.display()
            )));
        }
        let tmp = dir.join(format!(".{name}.{}.partial", std::process::id()));
        pending().0.push(tmp.clone());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| CliError::Io { path: dest.display().to_string(), source })?;
        self.files.push((tmp, dest.to_path_buf()));
        Ok(file)
    }

    /// Renames every temporary file to its final name. Files already renamed stay if a later
    /// rename fails (the error names the file); the rest are removed.
    pub fn commit(mut self) -> Result<(), CliError> {
        let files = std::mem::take(&mut self.files);
        let mut rest = files.clone().into_iter();
        for (tmp, dest) in rest.by_ref() {
            if let Err(source) = std::fs::rename(&tmp, &dest) {
                let _ = std::fs::remove_file(&tmp);
                self.files = rest.collect();
                forget(&files, &[]);
                return Err(CliError::Io { path: dest.display().to_string(), source });
            }
        }
        forget(&files, &self.dirs);
        self.dirs.clear();
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
        // Innermost first; `remove_dir_all` only on directories this run created.
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir_all(d);
        }
        forget(&self.files, &self.dirs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rvoip-cli-out-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn listing(d: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn commit_renames_and_drop_removes() {
        use std::io::Write;
        let d = scratch("commit");
        let mut o = Outputs::new();
        o.create(&d.join("a.wav")).unwrap().write_all(b"A").unwrap();
        o.create(&d.join("b.csv")).unwrap().write_all(b"B").unwrap();
        assert_eq!(listing(&d).len(), 2);
        assert!(listing(&d).iter().all(|n| n.ends_with(".partial")), "{:?}", listing(&d));
        o.commit().unwrap();
        assert_eq!(listing(&d), ["a.wav", "b.csv"]);
        assert_eq!(std::fs::read(d.join("a.wav")).unwrap(), b"A");

        let mut o = Outputs::new();
        o.create(&d.join("c.wav")).unwrap();
        o.create_dir(&d.join("new/deeper")).unwrap();
        o.create(&d.join("new/deeper/x.wav")).unwrap();
        drop(o);
        assert_eq!(listing(&d), ["a.wav", "b.csv"], "a failed run leaves nothing");
        std::fs::remove_dir_all(d).ok();
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_written_in_place_not_replaced() {
        use std::io::Write;
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device());
        let mut o = Outputs::new();
        o.create(null).unwrap().write_all(b"not kept").unwrap();
        assert!(o.create(null).unwrap_err().to_string().contains("two outputs"));
        o.commit().unwrap();
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device(), "/dev/null replaced");
        assert_eq!(std::fs::read(null).unwrap(), b"");
        let mut o = Outputs::new();
        o.create(null).unwrap();
        drop(o);
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device(), "/dev/null removed");
    }

    #[test]
    fn bad_destinations_are_refused_up_front() {
        let d = scratch("bad");
        let mut o = Outputs::new();
        let e = o.create(&d.join("missing/x.wav")).unwrap_err().to_string();
        assert!(e.contains("does not exist") && e.contains("missing"), "{e}");
        let e = o.create(&d).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        o.create(&d.join("x.wav")).unwrap();
        let e = o.create(&d.join("x.wav")).unwrap_err().to_string();
        assert!(e.contains("two outputs"), "{e}");
        drop(o);
        assert!(listing(&d).is_empty());
        std::fs::remove_dir_all(d).ok();
    }
}
