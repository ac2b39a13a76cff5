//! A loopback capture with Wireshark's `dumpcap`, for tests that check what went on the wire
//! with `tshark`. Shared by this crate's tests and the CLI's (`#[path]`-included there).
//! Without tshark or dumpcap, or without the right to capture on `lo`, [`Capture::start`]
//! says what is skipped and gives `None`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `tool --version` runs.
pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// A running `dumpcap` on `lo` for UDP to one port, writing `pcap` in its own directory
/// (removed on drop).
pub struct Capture {
    dumpcap: Option<Child>,
    dir: PathBuf,
    /// The capture file (complete after [`Capture::stop`]).
    pub pcap: PathBuf,
}

impl Capture {
    /// Starts capturing UDP datagrams to `port` on `lo` and waits until dumpcap writes.
    /// `None`, with a `SKIPPED:` line naming `what` is not checked, when it cannot.
    pub fn start(name: &str, port: u16, what: &str) -> Option<Capture> {
        if !have("tshark") || !have("dumpcap") {
            eprintln!("SKIPPED: tshark/dumpcap not installed; {what} not checked with Wireshark");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("rvoip-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pcap = dir.join("cap.pcapng");
        let dumpcap = Command::new("dumpcap")
            .args(["-i", "lo", "-q", "-f", &format!("udp dst port {port}"), "-w"])
            .arg(&pcap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let capture = Capture { dumpcap: Some(dumpcap), dir, pcap };
        // dumpcap creates the file once it captures.
        let t = Instant::now();
        while !capture.pcap.exists() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !capture.pcap.exists() {
            eprintln!("SKIPPED: dumpcap could not capture on lo (permissions?); {what} not checked");
            return None;
        }
        std::thread::sleep(Duration::from_millis(300));
        Some(capture)
    }

    /// Stops dumpcap (SIGINT, so it finishes the file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.dumpcap.take() {
            let _ = Command::new("kill").args(["-INT", &d.id().to_string()]).status();
            let _ = d.wait();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut d) = self.dumpcap.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
