//! The object store on local disk and on a real S3 server (s3s-fs, which verifies signatures):
//! streamed round trips, deletion, failed uploads, and signed URLs that refuse every tampering.

#![cfg(feature = "ssr")]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Backend, TestApp, fetch, files_under, s3_root};
use data_exports::storage::{ObjectKey, ObjectStore, StorageError};
use http::{StatusCode, header};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Fs,
    S3,
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local_disk() {
                    super::$name(super::Store::Fs).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3() {
                    super::$name(super::Store::S3).await
                }
            }
        )*
    };
}

on_both_stores!(
    a_multi_megabyte_stream_round_trips,
    delete_removes_the_object,
    a_failed_upload_leaves_nothing,
    signed_urls_expire,
    tampered_urls_are_refused,
    a_url_signed_for_one_key_never_serves_another,
    hostile_download_names_give_one_valid_header,
    ttls_are_bounded_and_honoured,
);

/// An app whose store is `store`; for S3, a fresh bucket on the test server.
async fn app(store: Store) -> TestApp {
    match store {
        Store::Fs => TestApp::new(Backend::Sqlite).await,
        Store::S3 => TestApp::with_s3(Backend::Sqlite, &[]).await,
    }
}

fn key(file: &str) -> ObjectKey {
    ObjectKey::new(Uuid::new_v4(), Uuid::new_v4(), file).unwrap()
}

/// Deterministic pseudo-random bytes: compression or dedup cannot fake a round trip.
fn payload(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

async fn put(storage: &ObjectStore, key: &ObjectKey, data: &[u8]) -> u64 {
    let chunks: Vec<Result<Bytes, StorageError>> = data
        .chunks(64 * 1024)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    storage
        .put_stream(key, "text/csv", futures::stream::iter(chunks))
        .await
        .unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

async fn a_multi_megabyte_stream_round_trips(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let data = payload(12 * 1024 * 1024 + 123);
    let key = key("export.csv");
    assert_eq!(put(storage, &key, &data).await, data.len() as u64);
    assert!(storage.exists(&key).await.unwrap());
    if store == Store::Fs {
        // A stored export is the owner's alone.
        use std::os::unix::fs::PermissionsExt;
        let file = app.local_bucket().join(key.as_str());
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let url = storage
        .signed_get_url(&key, HOUR, "Acme full export 2026-11-26.csv")
        .unwrap();
    let response = fetch(&app, &url, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.body == data, "downloaded bytes differ");
    let disposition = response.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert_eq!(
        disposition,
        "attachment; filename=\"Acme full export 2026-11-26.csv\""
    );

    // Range requests work, for resumable downloads.
    let response = fetch(&app, &url, Some("bytes=100-199")).await;
    assert_eq!(response.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.body, &data[100..200]);
}

async fn delete_removes_the_object(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let key = key("export.json");
    put(storage, &key, b"{\"clients\": []}").await;
    let url = storage.signed_get_url(&key, HOUR, "export.json").unwrap();
    assert_eq!(fetch(&app, &url, None).await.status, StatusCode::OK);
    storage.delete(&key).await.unwrap();
    assert!(!storage.exists(&key).await.unwrap());
    assert_eq!(fetch(&app, &url, None).await.status, StatusCode::NOT_FOUND);
    // Deleting again is not an error.
    storage.delete(&key).await.unwrap();
}

async fn a_failed_upload_leaves_nothing(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let key = key("export.xlsx");
    let data = payload(11 * 1024 * 1024);
    // The source fails after two multipart parts have gone up.
    let chunks = data
        .chunks(1024 * 1024)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .take(10)
        .chain(std::iter::once(Err(StorageError::Io(std::io::Error::other(
            "database went away",
        )))));
    let result = storage
        .put_stream(&key, "application/octet-stream", futures::stream::iter(chunks))
        .await;
    assert!(result.is_err());
    assert!(!storage.exists(&key).await.unwrap());
    let leftovers = match store {
        Store::Fs => files_under(&app.state.config.server.data_dir.join("storage")),
        Store::S3 => files_under(&s3_root())
            .into_iter()
            .filter(|path| path.contains(&key.organization_id().to_string()) || path.contains("upload"))
            .collect(),
    };
    assert!(leftovers.is_empty(), "partial files left behind: {leftovers:?}");
}

async fn signed_urls_expire(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let key = key("export.csv");
    put(storage, &key, b"a,b\n1,2\n").await;
    let url = storage
        .signed_get_url(&key, Duration::from_secs(1), "export.csv")
        .unwrap();
    assert_eq!(fetch(&app, &url, None).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let response = fetch(&app, &url, None).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{}", response.text());
    if store == Store::Fs {
        assert!(response.text().contains("expired"), "{}", response.text());
    }
}

/// `url` with query parameter `name` replaced by `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key == name => format!("{key}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

async fn tampered_urls_are_refused(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let key = key("export.csv");
    put(storage, &key, b"secret,rows\n").await;
    let url = storage.signed_get_url(&key, HOUR, "export.csv").unwrap();
    let (signature, disposition, expiry) = match store {
        Store::Fs => ("sig", "name", "expires"),
        Store::S3 => ("X-Amz-Signature", "response-content-disposition", "X-Amz-Expires"),
    };
    let original_signature = url
        .split(&format!("{signature}="))
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let mut flipped = original_signature.to_owned();
    let last = flipped.pop().unwrap();
    // '0' and '1' belong to both alphabets (hex for S3, base64url for the local store), so the
    // tampered signature stays well-formed whatever its last character was.
    flipped.push(if last == '0' { '1' } else { '0' });
    // (URL, malformed): S3 answers a malformed presigned URL with 400 rather than 403.
    for (tampered, malformed) in [
        (with_param(&url, signature, &flipped), false),
        (
            with_param(&url, disposition, "attachment%3B%20filename%3D%22evil.exe%22"),
            false,
        ),
        (with_param(&url, expiry, "999999999"), false),
        (with_param(&url, signature, ""), true),
        (url.split('?').next().unwrap().to_owned(), true),
    ] {
        let response = fetch(&app, &tampered, None).await;
        let refused = response.status == StatusCode::FORBIDDEN
            || (malformed && store == Store::S3 && response.status == StatusCode::BAD_REQUEST);
        assert!(refused, "{tampered}: {} {}", response.status, response.text());
        assert!(response.body.len() < 2048 && !response.text().contains("secret,rows"));
    }
}

async fn a_url_signed_for_one_key_never_serves_another(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let ours = key("export.csv");
    let theirs = key("export.csv"); // another organisation's file
    put(storage, &ours, b"ours\n").await;
    put(storage, &theirs, b"theirs\n").await;
    let url = storage.signed_get_url(&ours, HOUR, "export.csv").unwrap();
    let swapped = url.replace(ours.as_str(), theirs.as_str());
    assert_ne!(swapped, url);
    let response = fetch(&app, &swapped, None).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{}", response.text());
    assert!(!response.text().contains("theirs"));
    // And path tricks do not escape the bucket.
    if store == Store::Fs {
        let escaped = url.replace(ours.as_str(), &format!("{}/../../../signing.key", ours.as_str()));
        assert_eq!(fetch(&app, &escaped, None).await.status, StatusCode::FORBIDDEN);
    }
}

async fn hostile_download_names_give_one_valid_header(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let key = key("export.csv");
    put(storage, &key, b"x\n").await;
    let long = format!("{}.csv", "📄".repeat(320));
    for name in [
        "evil\r\nSet-Cookie: session=stolen.csv",
        "quote\"d; filename=evil.exe.csv",
        "../../etc/passwd",
        ".bashrc",
        "تقرير العيادة \u{202E}vsc.exe",
        "Clínica 🧠 export.csv",
        long.as_str(),
    ] {
        let url = storage.signed_get_url(&key, HOUR, name).unwrap();
        let response = fetch(&app, &url, None).await;
        assert_eq!(response.status, StatusCode::OK, "{name:?}: {}", response.text());
        let values: Vec<_> = response
            .headers
            .get_all(header::CONTENT_DISPOSITION)
            .iter()
            .collect();
        assert_eq!(values.len(), 1, "{name:?}");
        let value = values[0].to_str().expect("ASCII header");
        assert!(value.starts_with("attachment; filename=\""), "{value}");
        assert!(!value.contains('\r') && !value.contains('\n'), "{value}");
        assert!(response.headers.get(header::SET_COOKIE).is_none(), "{name:?}");
        let fallback = value.split('"').nth(1).unwrap();
        assert!(!fallback.starts_with('.') && !fallback.contains('/'), "{value}");
    }
}

async fn ttls_are_bounded_and_honoured(store: Store) {
    let app = app(store).await;
    let storage = &app.state.storage;
    let key = key("export.csv");
    assert!(matches!(
        storage.signed_get_url(&key, Duration::from_secs(604_801), "x.csv"),
        Err(StorageError::InvalidTtl)
    ));
    assert!(storage.signed_get_url(&key, Duration::ZERO, "x.csv").is_err());
    let url = storage.signed_get_url(&key, HOUR, "x.csv").unwrap();
    match store {
        Store::S3 => assert!(url.contains("X-Amz-Expires=3600"), "{url}"),
        Store::Fs => {
            let expires: u64 = url
                .split("expires=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            assert!((now + 3595..=now + 3600).contains(&expires), "{expires} vs {now}");
        }
    }
    // Every call signs anew.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_ne!(url, storage.signed_get_url(&key, HOUR, "x.csv").unwrap());
}

/// Server-side encryption (`S3_SSE`) is asked for on every upload, a single PutObject and a
/// multipart upload alike, with the header signed: the test server checks every signature over
/// the headers it is told were signed, and accepts both, from SSE-S3 and from SSE-KMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_ask_for_server_side_encryption_and_the_store_accepts_them() {
    for vars in [
        &[("S3_SSE", "AES256")][..],
        &[
            ("S3_SSE", "aws:kms"),
            ("S3_SSE_KMS_KEY_ID", "arn:aws:kms:us-east-1:111122223333:key/test"),
        ][..],
    ] {
        let app = TestApp::with_s3(Backend::Sqlite, vars).await;
        let storage = &app.state.storage;
        for size in [1_000, 12 * 1024 * 1024] {
            let data = payload(size);
            let key = key("export.csv");
            assert_eq!(put(storage, &key, &data).await, size as u64, "{vars:?}");
            let url = storage.signed_get_url(&key, HOUR, "export.csv").unwrap();
            assert!(
                fetch(&app, &url, None).await.body == data,
                "{vars:?}: {size} bytes differ"
            );
        }
    }
}

/// An upload already gone answers 403 to a second abort on the test server (S3: 404): ListParts
/// confirms nothing is left, so it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_an_upload_twice_is_done_once_nothing_is_left() {
    let app = TestApp::with_s3(Backend::Sqlite, &[]).await;
    let storage = &app.state.storage;
    let key = key("export.csv");
    let mut writer = storage.writer(&key, "text/csv").await.unwrap();
    writer.write(&payload(6 * 1024 * 1024)).await.unwrap();
    writer.abort().await;
    // An id the store no longer knows: it answers 403, and ListParts lists no part.
    let gone = storage.abort_upload(&key, &Uuid::new_v4().to_string()).await;
    assert!(gone.is_ok(), "{gone:?}");
}

/// The issue that found this: a 403 to an abort was taken for "already gone" whenever the
/// bucket answered, though S3 says 403 when the credentials may not abort — the upload's note
/// was forgotten with its parts still stored. Now ListParts must confirm nothing is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_refused_while_parts_are_left_is_not_taken_for_done() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    let parts_left = Arc::new(AtomicBool::new(true));
    let answer = parts_left.clone();
    // A store that refuses every abort and lists one part while `parts_left`, else none.
    let store = axum::Router::new().fallback(move |method: http::Method, uri: http::Uri| {
        let parts_left = answer.load(Ordering::SeqCst);
        async move {
            let listing = uri.query().unwrap_or("").contains("uploadId");
            match method {
                http::Method::DELETE => (StatusCode::FORBIDDEN, String::new()),
                http::Method::GET if listing && !parts_left => (StatusCode::NOT_FOUND, String::new()),
                http::Method::GET if listing => (
                    StatusCode::OK,
                    concat!(
                        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                        r#"<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
                        "<Bucket>pf-exports</Bucket><Key>k</Key><UploadId>u</UploadId>",
                        "<MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>",
                        "<Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag>",
                        "<LastModified>2026-11-27T00:00:00.000Z</LastModified><Size>5242880</Size></Part>",
                        "</ListPartsResult>"
                    )
                    .to_owned(),
                ),
                _ => (StatusCode::OK, String::new()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, store).await.unwrap() });
    let url = format!("s3://pf-exports?endpoint=http://{address}&style=path");
    let app = TestApp::with_env(
        Backend::Sqlite,
        &[
            ("STORAGE_URL", &url),
            ("S3_ACCESS_KEY_ID", "key"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
        ],
    )
    .await;
    let key = key("export.csv");
    let refused = app.state.storage.abort_upload(&key, "upload-1").await;
    assert!(
        matches!(
            refused,
            Err(StorageError::S3 {
                operation: "AbortMultipartUpload",
                status: 403
            })
        ),
        "{refused:?}"
    );
    parts_left.store(false, Ordering::SeqCst);
    let gone = app.state.storage.abort_upload(&key, "upload-1").await;
    assert!(gone.is_ok(), "{gone:?}");
}
