//! The whole app in-process (`TestApp`) on either database: settings, stores, requests, sign-in.

use std::path::PathBuf;

use axum::{Router, body::Body};
use data_exports::{
    config::{Config, StorageBackend},
    seed,
    state::AppState,
    storage::ObjectStore,
};
use http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

use super::{
    Backend, env_refs, files_under, fresh_database_url, s3_env, s3_root, scratch_dir, unreachable_store_env,
};

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
        session_cookie(&self.headers)
    }

    pub fn set_cookie_header(&self) -> String {
        self.headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// The session token a response's headers set, if any (in-process or from the real binary).
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    for set in headers.get_all(header::SET_COOKIE) {
        if let Some(token) = set.to_str().ok().and_then(|v| v.strip_prefix("exports_session=")) {
            return Some(token.split(';').next().unwrap_or_default().to_owned());
        }
    }
    None
}

/// The strings of a JSON array (a header row, a list of permissions).
pub fn strings(array: &serde_json::Value) -> Vec<&str> {
    let items = array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"));
    items.iter().map(|item| item.as_str().unwrap()).collect()
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
        let mut all = env_refs(&s3);
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
        let dir = match &self.state.config.storage.backend {
            StorageBackend::Fs { root, bucket } => root.join(bucket),
            StorageBackend::S3(s3) => s3_root().join(&s3.bucket),
        };
        let mut found: Vec<String> = files_under(&dir.join(prefix))
            .into_iter()
            .filter(|name| !name.starts_with('.'))
            .collect();
        found.sort();
        found
    }

    /// Where the local store of an app on local disk keeps its bucket.
    pub fn local_bucket(&self) -> PathBuf {
        match &self.state.config.storage.backend {
            StorageBackend::Fs { root, bucket } => root.join(bucket),
            StorageBackend::S3(_) => panic!("this app stores its files on S3"),
        }
    }

    /// With the demo organisations and users, and a few records each.
    pub async fn seeded(backend: Backend) -> TestApp {
        TestApp::seeded_with(backend, &[], 30).await
    }

    /// With extra configuration variables, and the demo organisations and users with `scale`
    /// appointments each (and clients, staff, encounters and claims in proportion).
    pub async fn seeded_with(backend: Backend, vars: &[(&str, &str)], scale: u64) -> TestApp {
        let app = TestApp::with_env(backend, vars).await;
        seed::demo(&app.state.db, scale).await.expect("seed demo");
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

impl TestApp {
    /// Denials of this event counted in `pf_denials` (nobody signed in).
    pub async fn denial_count(&self, event: &str) -> i64 {
        data_exports::with_db!(&self.state.db, pool => {
            sqlx::query_scalar("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM pf_denials WHERE event = $1")
                .bind(event)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    }
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
