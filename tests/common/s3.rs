//! The test S3 server (s3s-fs, started by `make test`): a new bucket's environment, its files, a
//! dead store and a stalled one.

use std::{path::PathBuf, time::Duration};

/// A variable `make test` sets for the tests.
pub fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set: run the tests through `make test`"))
}

/// The directory the test S3 server keeps its buckets (and its open uploads) in.
pub fn s3_root() -> PathBuf {
    PathBuf::from(env("TEST_S3_ROOT"))
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

/// The environment of a process whose object store accepts connections and reads requests but
/// never answers one, as a store stalled mid-outage does. It stalls while the test runs.
pub async fn stalled_store_env() -> Vec<(&'static str, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    vec![
        (
            "STORAGE_URL",
            format!("s3://pf-exports?endpoint=http://{address}&region=us-east-1"),
        ),
        ("S3_ACCESS_KEY_ID", "key".to_owned()),
        ("S3_SECRET_ACCESS_KEY", "secret".to_owned()),
    ]
}

/// Borrows an owned environment (`s3_env`'s, say) as the `(key, value)` pairs apps and
/// processes take.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(key, value)| (*key, value.as_str())).collect()
}
