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

// ---------------------------------------------------------------------------------------------
// In-process app on either database.

use axum::{Router, body::Body};
use data_exports::{config::Config, seed, state::AppState};
use http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

/// The two databases every database test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite` and `postgres` tests in a module named after each async test function,
/// each calling it with its backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A database URL for a brand-new, empty database on `backend`.
pub async fn fresh_database_url(backend: Backend) -> String {
    let name = format!("t{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = scratch_dir(&format!("db-{name}"));
            format!("sqlite://{}", dir.join("exports.db").display())
        }
        Backend::Postgres => {
            let admin = std::env::var("TEST_POSTGRES_URL").expect(
                "TEST_POSTGRES_URL is not set: run the tests through `make test`, which starts a Postgres for them",
            );
            let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("connect to the test Postgres");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut connection)
                .await
                .expect("create test database");
            let base = admin.rsplit_once('/').expect("URL with a database").0;
            format!("{base}/{name}")
        }
    }
}

/// The configuration of `Leptos.toml` with `vars` as the environment.
pub fn config_with(vars: &[(&str, &str)]) -> Config {
    let text = include_str!("../../Leptos.toml");
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_toml(text, std::path::Path::new("Leptos.toml"), |key| {
        vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    })
    .expect("test configuration")
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The session token this response sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("exports_session="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
    }

    pub fn set_cookie_header(&self) -> String {
        self.headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// The whole app in-process, on a fresh database of `backend`.
pub struct TestApp {
    pub state: AppState,
    pub backend: Backend,
    router: Router,
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        TestApp::with_env(backend, &[]).await
    }

    /// With extra configuration variables (`SESSION_IDLE_TIMEOUT_SECS`, …).
    pub async fn with_env(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
        let url = fresh_database_url(backend).await;
        // Each app keeps its files (local object store, signing key) in a directory of its own.
        let data_dir = scratch_dir(&format!("app-{}", uuid::Uuid::new_v4().simple()));
        let data_dir = data_dir.to_str().expect("UTF-8 path").to_owned();
        let mut all = vec![
            ("DATABASE_URL", url.as_str()),
            ("DATABASE_MAX_CONNECTIONS", "4"),
            ("DATA_DIR", data_dir.as_str()),
        ];
        all.extend_from_slice(vars);
        let state = AppState::connect(config_with(&all))
            .await
            .expect("connect test database");
        let router = data_exports::server::router(state.clone());
        TestApp {
            state,
            backend,
            router,
        }
    }

    /// Storing its files in a fresh bucket of the test S3 server (s3s-fs, started by `make test`).
    pub async fn with_s3(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
        let s3 = s3_env().await;
        let mut all: Vec<(&str, &str)> = s3.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(vars);
        TestApp::with_env(backend, &all).await
    }

    /// Whose object store nobody answers at: every upload and readiness check fails.
    pub async fn with_unreachable_store(backend: Backend) -> TestApp {
        TestApp::with_env(backend, &unreachable_store_env()).await
    }

    /// The same database and settings with the object store down: S3 at an address nobody
    /// answers, or a local store whose bucket directory has become a file.
    pub async fn with_store_down(&self) -> TestApp {
        use data_exports::storage::ObjectStore;
        let dir = scratch_dir(&format!("down-{}", uuid::Uuid::new_v4().simple()));
        let dir_text = dir.to_str().expect("UTF-8 path").to_owned();
        let fs_url = format!("file://{dir_text}/storage");
        let mut vars = vec![
            ("DATABASE_URL", self.state.config.server.database_url.as_str()),
            ("DATABASE_MAX_CONNECTIONS", "1"),
            ("DATA_DIR", dir_text.as_str()),
        ];
        match &self.state.storage {
            ObjectStore::S3(_) => vars.extend(unreachable_store_env()),
            ObjectStore::Fs(_) => vars.push(("STORAGE_URL", fs_url.as_str())),
        }
        let other = AppState::connect(config_with(&vars)).await.expect("connect");
        other.db.close().await;
        if let ObjectStore::Fs(_) = &other.storage {
            let bucket = dir.join("storage/pf-exports");
            std::fs::remove_dir_all(&bucket).unwrap();
            std::fs::write(&bucket, b"not a directory").unwrap();
        }
        let state = AppState {
            storage: other.storage,
            ..self.state.clone()
        };
        TestApp {
            router: data_exports::server::router(state.clone()),
            state,
            backend: self.backend,
        }
    }

    /// The objects stored under `prefix` (`<organisation>/<request>`), as file names; hidden
    /// bookkeeping files of the stores are left out.
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        use data_exports::config::StorageBackend;
        let dir = match &self.state.config.storage.backend {
            StorageBackend::Fs { root, bucket } => root.join(bucket),
            StorageBackend::S3(s3) => PathBuf::from(env("TEST_S3_ROOT")).join(&s3.bucket),
        };
        let mut found: Vec<String> = files_under(&dir.join(prefix))
            .into_iter()
            .filter(|name| !name.starts_with('.'))
            .collect();
        found.sort();
        found
    }

    /// With the demo organisations and users, and a few records each.
    pub async fn seeded(backend: Backend) -> TestApp {
        let app = TestApp::new(backend).await;
        seed::demo(&app.state.db, 30).await.expect("seed demo");
        app
    }

    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .expect("read body")
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// POSTs a form to the server function at `/api/{endpoint}`, with the session `cookie`.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)], cookie: Option<&str>) -> TestResponse {
        let body = form_encode(form);
        let mut request = Request::post(format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "127.0.0.1:3000");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, format!("exports_session={cookie}"));
        }
        self.request(request.body(Body::from(body)).unwrap()).await
    }

    /// POSTs a JSON body to the server function at `/api/{endpoint}`.
    pub async fn call_json(
        &self,
        endpoint: &str,
        body: &serde_json::Value,
        cookie: Option<&str>,
    ) -> TestResponse {
        self.call_raw(endpoint, "application/json", body.to_string(), cookie)
            .await
    }

    /// POSTs any body with any content type: for malformed-request tests.
    pub async fn call_raw(
        &self,
        endpoint: &str,
        content_type: &str,
        body: impl Into<Body>,
        cookie: Option<&str>,
    ) -> TestResponse {
        let mut request =
            Request::post(format!("/api/{endpoint}")).header(header::CONTENT_TYPE, content_type);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, format!("exports_session={cookie}"));
        }
        self.request(request.body(body.into()).unwrap()).await
    }

    /// Signs in and returns the session token; panics if sign-in fails.
    pub async fn login(&self, email: &str) -> String {
        let response = self
            .call(
                "login",
                &[("email", email), ("password", seed::DEMO_PASSWORD)],
                None,
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{email}: {}", response.text());
        response.session_cookie().expect("a session cookie")
    }

    /// Rows of the audit log with this event name.
    pub async fn audit_count(&self, event: &str) -> i64 {
        data_exports::with_db!(&self.state.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM pf_audit_logs WHERE event = $1")
                .bind(event)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    }
}

/// The environment of an app whose object store nobody answers at.
pub fn unreachable_store_env() -> [(&'static str, &'static str); 3] {
    [
        (
            "STORAGE_URL",
            "s3://pf-exports?endpoint=http://127.0.0.1:9&region=us-east-1",
        ),
        ("S3_ACCESS_KEY_ID", "key"),
        ("S3_SECRET_ACCESS_KEY", "secret"),
    ]
}

pub fn form_encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A variable `make test` sets for the tests.
pub fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set: run the tests through `make test`"))
}

/// The environment that points a process at a new bucket on the test S3 server, with the
/// smallest part size S3 allows (so multipart uploads happen at 5 MiB).
pub async fn s3_env() -> Vec<(&'static str, String)> {
    let bucket = format!("t{}", uuid::Uuid::new_v4().simple());
    create_bucket(&bucket).await;
    vec![
        (
            "STORAGE_URL",
            format!(
                "s3://{bucket}?endpoint={}&region=us-east-1",
                env("TEST_S3_ENDPOINT")
            ),
        ),
        ("S3_ACCESS_KEY_ID", env("TEST_S3_ACCESS_KEY_ID")),
        ("S3_SECRET_ACCESS_KEY", env("TEST_S3_SECRET_ACCESS_KEY")),
        ("S3_PART_SIZE", "5242880".to_owned()),
    ]
}

/// Creates a bucket on the test S3 server.
pub async fn create_bucket(name: &str) {
    use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
    let endpoint = env("TEST_S3_ENDPOINT").parse().unwrap();
    let bucket = Bucket::new(endpoint, UrlStyle::Path, name.to_owned(), "us-east-1").unwrap();
    let credentials = Credentials::new(env("TEST_S3_ACCESS_KEY_ID"), env("TEST_S3_SECRET_ACCESS_KEY"));
    let url = bucket.create_bucket(&credentials).sign(Duration::from_secs(60));
    let status = reqwest::Client::new().put(url).send().await.unwrap().status();
    assert!(status.is_success(), "create bucket: {status}");
}

/// GETs a signed URL: through the app for local links, over HTTP for S3 ones.
pub async fn fetch(app: &TestApp, url: &str, range: Option<&str>) -> TestResponse {
    if url.starts_with('/') {
        let mut request = Request::get(url);
        if let Some(range) = range {
            request = request.header(header::RANGE, range);
        }
        app.request(request.body(Body::empty()).unwrap()).await
    } else {
        let mut request = reqwest::Client::new().get(url);
        if let Some(range) = range {
            request = request.header(header::RANGE, range);
        }
        let response = request.send().await.unwrap();
        TestResponse {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }
}

/// Files under `dir`, recursively, as paths relative to it.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found
}
