//! The real server binary, started on a free port: pages, health check, 404, config errors, shutdown.

#![cfg(feature = "ssr")]

mod common;

use std::{process::Command, time::Duration};

use common::{BIN, TestServer, http_client as client, session_cookie};

#[tokio::test]
async fn serves_the_exports_page_with_the_hydration_script() {
    let server = TestServer::start("page", &[]);
    let response = client()
        .get(server.url("/settings/exports"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Data Exports · Exports</title>"), "{html}");
    // Nobody is signed in: the page's gate asks for it, and no data is rendered.
    assert!(html.contains("Please sign in"), "{html}");
    // The bundle by the names the build gave it (with their content hashes).
    for file in bundle_files() {
        assert!(html.contains(&format!("/pkg/{file}")), "no {file} in {html}");
    }
    assert!(html.contains("hydrate"), "{html}");
}

/// The built bundle's JS, WASM and CSS file names, as `target/site/hash.txt` lists them (the
/// release build runs before the tests).
fn bundle_files() -> Vec<String> {
    let listed = concat!(env!("CARGO_MANIFEST_DIR"), "/target/site/hash.txt");
    let hashes =
        std::fs::read_to_string(listed).unwrap_or_else(|e| panic!("{listed}: {e} (build the site first)"));
    let hash = |kind: &str| {
        hashes
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find_map(|(file, hash)| (file.trim() == kind).then(|| hash.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {kind} in {hashes}"))
    };
    ["js", "wasm", "css"]
        .into_iter()
        .map(|kind| format!("data-exports.{}.{kind}", hash(kind)))
        .collect()
}

/// The bundle goes out compressed at build time (brotli or gzip, as the browser accepts), cached
/// for a year under its hashed names; a page is compressed as it is served and never cached; an
/// old bundle name is a 404 nobody caches.
#[tokio::test]
async fn the_bundle_is_precompressed_and_immutable_and_pages_are_compressed() {
    let server = TestServer::start("compression", &[]);
    let get = |path: String, encoding: Option<&'static str>| {
        let mut request = client().get(server.url(&path));
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        request.send()
    };
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/target/site/pkg");
    for file in bundle_files() {
        let stored = std::fs::metadata(format!("{site}/{file}")).unwrap().len();
        for (accepted, encoding) in [
            (Some("br, gzip"), Some("br")),
            (Some("gzip"), Some("gzip")),
            (None, None),
        ] {
            let response = get(format!("/pkg/{file}"), accepted).await.unwrap();
            assert_eq!(response.status(), 200, "{file}");
            let headers = response.headers().clone();
            assert_eq!(
                headers["cache-control"], "public, max-age=31536000, immutable",
                "{file}"
            );
            let sent = headers
                .get("content-encoding")
                .map(|value| value.to_str().unwrap().to_owned());
            assert_eq!(sent.as_deref(), encoding, "{file} for {accepted:?}");
            let length = response.bytes().await.unwrap().len() as u64;
            if encoding.is_some() {
                assert!(
                    length < stored / 2,
                    "{file}: {length} of {stored} bytes as {encoding:?}"
                );
            } else {
                assert_eq!(length, stored, "{file}");
            }
        }
    }
    let plain = get("/login".into(), None).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap().len();
    for encoding in ["br", "gzip"] {
        let page = get("/login".into(), Some(encoding)).await.unwrap();
        assert_eq!(page.headers()["content-encoding"], encoding);
        assert_eq!(page.headers()["cache-control"], "no-store");
        let sent = page.bytes().await.unwrap().len();
        assert!(sent * 4 < plain * 3, "{encoding}: {sent} of {plain} bytes");
    }
    let old = get("/pkg/data-exports.js".into(), Some("br")).await.unwrap();
    assert_eq!(old.status(), 404);
    assert_eq!(old.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts_and_every_response_is_hardened() {
    let server = TestServer::start("headers", &[]);
    let mut nonces = Vec::new();
    for path in ["/login", "/settings/exports"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {policy}"))
            .to_owned();
        for directive in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(
                policy.contains(directive),
                "{path}: {directive} missing from {policy}"
            );
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        let html = response.text().await.unwrap();
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path}: no script at all");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: a script without this response's nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is used once");
    let css = format!("/pkg/{}", bundle_files()[2]);
    for path in ["/login", "/healthz", "/no-such-page", css.as_str()] {
        let response = client().get(server.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
        // Only the static bundle may be cached; pages and answers carry the organisation's data.
        let cache = headers.get("cache-control").map(|value| value.to_str().unwrap());
        if path.starts_with("/pkg/") {
            assert_ne!(cache, Some("no-store"), "{path}");
        } else {
            assert_eq!(cache, Some("no-store"), "{path}");
        }
    }
    let answer = client()
        .post(server.url("/api/current_user"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert!(
        health.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

#[tokio::test]
async fn the_root_redirects_to_the_exports_page() {
    let server = TestServer::start("root", &[]);
    // A browser navigation: leptos_axum answers 302 only to requests that accept HTML.
    let response = client()
        .get(server.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()["location"], "/settings/exports");
}

#[tokio::test]
async fn healthz_answers_with_the_version() {
    let server = TestServer::start("healthz", &[]);
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn an_unknown_path_is_a_404_page() {
    let server = TestServer::start("notfound", &[]);
    let response = client().get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"), "{html}");
}

#[test]
fn a_bad_configuration_value_stops_the_server_with_a_clear_message() {
    let output = Command::new(BIN)
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LEPTOS_SITE_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    assert!(
        stderr.contains("site-addr") || stderr.contains("site_addr"),
        "{stderr}"
    );
}

#[test]
fn a_missing_configuration_file_is_named() {
    let output = Command::new(BIN)
        .args(["--config", "/nonexistent/Leptos.toml", "serve"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/Leptos.toml"), "{stderr}");
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    let mut server = TestServer::start("sigterm", &[]);
    server.terminate_cleanly();
}

/// `make run` on a fresh clone: the repository's files and nothing else (no `data/`, no
/// settings but the README's defaults), the binary creates its data directory, seeds the demo,
/// and a demo admin signs in and sees the page.
#[tokio::test]
async fn a_fresh_clone_serves_with_the_readmes_defaults_and_the_demo_admin_signs_in() {
    use std::os::unix::fs::PermissionsExt;
    let clone = common::scratch_dir("fresh-clone");
    let repository = env!("CARGO_MANIFEST_DIR");
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repository)
        .output()
        .expect("git ls-files (the tests run from a clone)");
    assert!(listed.status.success());
    for file in listed
        .stdout
        .split(|byte| *byte == 0)
        .filter(|name| !name.is_empty())
    {
        let name = std::str::from_utf8(file).unwrap();
        let from = std::path::Path::new(repository).join(name);
        if !from.is_file() {
            continue;
        }
        let to = clone.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    assert!(!clone.join("data").exists());

    // `.ci/serve` (behind `make run`) seeds the demo into an empty database.
    let mut server = TestServer::start_in(&clone, &[("SEED_DEMO", "true")]);
    let data = clone.join("data");
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is the owner's alone");
    assert!(data.join("exports.db").is_file());
    // The database and the development signing key are the owner's alone.
    for file in ["exports.db", "signing.key"] {
        let mode = std::fs::metadata(data.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }

    let client = client();
    let login = client
        .post(server.url("/api/login"))
        .form(&[("email", "admin@acme.test"), ("password", "demo-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "{:?}", server.output());
    let token = session_cookie(login.headers()).expect("a session cookie");
    let page = client
        .get(server.url("/settings/exports"))
        .header("cookie", format!("exports_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("New Export"), "{html}");
    assert!(!html.contains("Please sign in"), "{html}");
    // The demo's Acme keeps its calendar in New York.
    assert!(html.contains("Dates are in America/New_York"), "{html}");
}

/// `data-exports org set-time-zone`: an IANA name is stored (and shown to the organisation's
/// users); anything else, or an unknown organisation, is refused with a message and changes nothing.
#[tokio::test]
async fn an_organisations_time_zone_is_set_by_its_iana_name_only() {
    let data = common::scratch_dir("time-zone");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATA_DIR", &data)
            .env_remove("DATABASE_URL")
            .output()
            .expect("run data-exports")
    };
    let seeded = run(&["seed", "--demo", "--scale", "10"]);
    assert!(seeded.status.success(), "{seeded:?}");
    let zone = || async {
        let url = format!("sqlite://{}", data.join("exports.db").display());
        let db = data_exports::db::Db::connect(&url, 1).await.unwrap();
        let zones: Vec<(String, String)> = data_exports::with_db!(&db, pool => {
            sqlx::query_as("SELECT slug, time_zone FROM organizations ORDER BY slug")
                .fetch_all(pool)
                .await
                .unwrap()
        });
        db.close().await;
        zones
    };
    let demo = vec![
        ("acme-behavioral-health".to_owned(), "America/New_York".to_owned()),
        ("globex-clinic".to_owned(), "Europe/London".to_owned()),
    ];
    assert_eq!(zone().await, demo);

    let set = run(&[
        "org",
        "set-time-zone",
        "--org",
        "globex-clinic",
        "--time-zone",
        "Europe/Paris",
    ]);
    assert!(set.status.success(), "{set:?}");
    assert!(String::from_utf8_lossy(&set.stdout).contains("Europe/Paris"));
    assert_eq!(zone().await[1].1, "Europe/Paris");

    for (org, time_zone, says) in [
        ("globex-clinic", "Mars/Olympus_Mons", "not an IANA time zone"),
        ("globex-clinic", "", "not an IANA time zone"),
        ("no-such-clinic", "UTC", "no organisation no-such-clinic"),
    ] {
        let refused = run(&["org", "set-time-zone", "--org", org, "--time-zone", time_zone]);
        assert!(!refused.status.success(), "{time_zone}: {refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(says), "{time_zone}: {stderr}");
    }
    assert_eq!(zone().await[1].1, "Europe/Paris", "a refusal changes nothing");

    // A new organisation keeps its dates in UTC until told otherwise.
    let db = data_exports::db::Db::connect(&format!("sqlite://{}", data.join("exports.db").display()), 1)
        .await
        .unwrap();
    data_exports::auth::accounts::ensure_organization(&db, "Initech Counselling")
        .await
        .unwrap();
    db.close().await;
    assert!(
        zone()
            .await
            .contains(&("initech-counselling".to_owned(), "UTC".to_owned()))
    );
}

/// The signed-in page renders whole every time on the real, multi-threaded server. A value of
/// the page kept in thread-local storage (the confirmation dialog's opener, once) was dropped on
/// another worker thread when the render finished, which panicked and cut the response off:
/// more than half of these requests failed before the fix.
#[tokio::test]
async fn the_signed_in_page_renders_whole_every_time() {
    let server = TestServer::start("renders-whole", &[("SEED_DEMO", "true")]);
    let client = client();
    let login = client
        .post(server.url("/api/login"))
        .form(&[("email", "admin@acme.test"), ("password", "demo-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = session_cookie(login.headers()).expect("a session cookie");
    for attempt in 0..40 {
        let response = client
            .get(server.url("/settings/exports"))
            .header("cookie", format!("exports_session={token}"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("request {attempt}: {error}"));
        assert_eq!(response.status(), 200);
        let html = response
            .text()
            .await
            .unwrap_or_else(|error| panic!("request {attempt}: {error}"));
        assert!(html.contains("</html>"), "request {attempt} cut short");
        assert!(html.contains("New Export"), "request {attempt}");
    }
}

/// A client that sends its headers too slowly (here, never finishes them) is disconnected once
/// the header-read timeout passes, so slow clients cannot hold connections open for ever.
#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start("slow-headers", &[("HEADER_READ_TIMEOUT_SECS", "1")]);
    let address = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the connection was still open 20 s after a 1 s header timeout"
    );
    // Nothing was served from the half-sent request.
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
}

/// Past `MAX_CONNECTIONS`, a new connection waits (in the kernel's backlog) until one closes: idle
/// clients hold no more than their share of descriptors.
#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let server = TestServer::start(
        "max-connections",
        &[("MAX_CONNECTIONS", "2"), ("HEADER_READ_TIMEOUT_SECS", "60")],
    );
    let address = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let idle: Vec<_> = futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(&address)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    // Each a fresh connection: a pooled one could have been accepted before the idle two.
    let client = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    };
    let refused = client().get(server.url("/healthz")).send().await;
    assert!(refused.is_err(), "a third connection was served: {refused:?}");
    drop(idle);
    let served = eventually_ok(|| client().get(server.url("/healthz")).send()).await;
    assert_eq!(served.status(), reqwest::StatusCode::OK);
}

/// The first success of `attempt` within 20 s.
async fn eventually_ok<F, Fut, T, E>(attempt: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) if std::time::Instant::now() > deadline => panic!("{error:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
