//! Test support: the real `data-exports` binary started on a free loopback port.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::Duration,
};

/// The server binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_data-exports");

/// A fresh, empty directory under the target dir, removed by the caller's next run.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A running server process, killed when dropped.
pub struct TestServer {
    child: Child,
    pub base_url: String,
    pub data_dir: PathBuf,
    output: mpsc::Receiver<String>,
}

impl TestServer {
    /// Starts `data-exports serve` with its own data directory and a port the OS picks,
    /// and waits until it says where it listens.
    pub fn start(name: &str, extra_env: &[(&str, &str)]) -> TestServer {
        let data_dir = scratch_dir(name);
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("DATA_DIR", &data_dir)
            .env("RUST_LOG", "info")
            .env_remove("LOG_FORMAT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn data-exports");

        // Forward both streams into one channel so the test can read them without blocking.
        let (sender, output) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }

        let mut server = TestServer {
            child,
            base_url: String::new(),
            data_dir,
            output,
        };
        let line = server
            .wait_for_line("listening on http://", Duration::from_secs(60))
            .expect("the server never said where it listens");
        let url = line[line.find("http://").unwrap()..].trim().to_owned();
        server.base_url = strip_ansi(&url);
        server
    }

    /// Waits for an output line containing `needle`; `None` on timeout or exit.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left) {
                Ok(line) if strip_ansi(&line).contains(needle) => return Some(strip_ansi(&line)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for server") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes terminal colour codes from a log line.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
