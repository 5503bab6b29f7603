//! The real `data-exports` binary, started as a server or a worker on a free loopback port.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::Duration,
};

use super::scratch_dir;

/// The server binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_data-exports");

/// An HTTP client for a running server that, like a test, wants to see redirects.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A running server process, killed when dropped.
pub struct TestServer {
    child: Child,
    pub base_url: String,
    pub data_dir: PathBuf,
    output: mpsc::Receiver<String>,
    /// Every line read from the process so far.
    seen: Vec<String>,
}

impl TestServer {
    /// Starts `data-exports serve` with its own data directory and a port the OS picks,
    /// and waits until it says where it listens.
    pub fn start(name: &str, extra_env: &[(&str, &str)]) -> TestServer {
        let mut server = TestServer::spawn(name, "serve", extra_env);
        server.wait_until_listening();
        server
    }

    /// Starts `data-exports worker` and waits until it has started.
    pub fn worker(name: &str, extra_env: &[(&str, &str)]) -> TestServer {
        let mut worker = TestServer::spawn(name, "worker", extra_env);
        worker
            .wait_for_line("export worker started", Duration::from_secs(60))
            .expect("the worker never started");
        worker
    }

    /// Starts `data-exports serve` in `dir` as a newcomer would: no data directory given (the
    /// default, `data/` under `dir`) and no settings but a free port and `extra_env`.
    pub fn start_in(dir: &Path, extra_env: &[(&str, &str)]) -> TestServer {
        let mut command = Command::new(BIN);
        command.arg("serve").current_dir(dir).env_clear();
        for key in ["PATH", "HOME"] {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        let mut server = TestServer::launch(command, dir.join("data"), extra_env);
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let line = self
            .wait_for_line("listening on http://", Duration::from_secs(60))
            .unwrap_or_else(|| panic!("the server never said where it listens: {:?}", self.output()));
        let url = line[line.find("http://").unwrap()..]
            .split_whitespace()
            .next()
            .unwrap_or_default();
        self.base_url = url.to_owned();
    }

    fn spawn(name: &str, subcommand: &str, extra_env: &[(&str, &str)]) -> TestServer {
        let data_dir = scratch_dir(name);
        let mut command = Command::new(BIN);
        command
            .arg(subcommand)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATA_DIR", &data_dir);
        TestServer::launch(command, data_dir, extra_env)
    }

    fn launch(mut command: Command, data_dir: PathBuf, extra_env: &[(&str, &str)]) -> TestServer {
        command
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
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

        TestServer {
            child,
            base_url: String::new(),
            data_dir,
            output,
            seen: Vec::new(),
        }
    }

    /// Kills the process outright (SIGKILL): no shutdown, no clean-up.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Waits for an output line containing `needle`; `None` on timeout or exit.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left) {
                Ok(line) => {
                    let line = strip_ansi(&line);
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Everything the process has written to stdout and stderr so far.
    pub fn output(&mut self) -> Vec<String> {
        while let Ok(line) = self.output.try_recv() {
            self.seen.push(strip_ansi(&line));
        }
        self.seen.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends SIGTERM and checks that the process exits successfully, saying it shut down cleanly.
    pub fn terminate_cleanly(&mut self) {
        let status = self.terminate();
        assert!(status.success(), "{status:?}");
        let said = self.wait_for_line("shut down cleanly", Duration::from_secs(5));
        assert!(said.is_some(), "{:?}", self.output());
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
