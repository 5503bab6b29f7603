//! Sign-in, sessions, the permission guard, cross-site rejection and organisation isolation,
//! each on SQLite and on Postgres.

#![cfg(feature = "ssr")]

mod common;

use std::time::Duration;

use axum::body::Body;
use common::{Backend, TestApp, count, strings};
use data_exports::{
    auth::{Permission, guard},
    error::AppError,
    seed::DEMO_PASSWORD,
};
use http::{Request, StatusCode, header};

const ALL: [Permission; 3] = [
    Permission::ViewExports,
    Permission::CreateExports,
    Permission::DeleteExports,
];

on_both_databases!(
    each_demo_user_holds_exactly_their_roles_permissions,
    sign_in_sets_an_http_only_same_site_cookie,
    a_wrong_password_or_unknown_email_is_refused_alike,
    failed_sign_ins_are_throttled_per_account,
    failed_sign_ins_are_throttled_per_address,
    an_ipv6_client_is_throttled_by_its_slash_64_behind_two_proxies,
    a_parallel_burst_cannot_slip_past_the_throttle,
    signing_in_rotates_the_session,
    signing_out_kills_the_session,
    a_password_reset_ends_every_session,
    idle_sessions_expire,
    sessions_expire_absolutely_however_active,
    the_guard_answers_401_and_403_and_audits_denials,
    a_user_sees_only_their_own_organisation,
    malformed_requests_get_a_clear_400,
    cross_site_state_changes_are_refused,
    the_audit_log_is_append_only,
    migrations_are_idempotent_and_the_demo_seed_is_deterministic,
    housekeeping_removes_expired_sessions_and_stale_failures,
    a_stranger_cannot_lock_an_account_out,
    without_a_trusted_proxy_one_address_does_not_lock_everyone_out,
    a_flood_of_unauthenticated_requests_adds_a_bounded_number_of_rows,
    two_hundred_parallel_sign_ins_stay_within_the_password_check_bound,
    past_a_thousand_sources_a_minute_the_rest_count_together,
);

async fn each_demo_user_holds_exactly_their_roles_permissions(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let expected: &[(&str, &str, &[&str])] = &[
        (
            "admin",
            "org_admin",
            &[
                "pf.disclosures.view",
                "pf.export_requests.create",
                "pf.export_requests.delete",
                "pf.export_requests.view",
                "pf.export_settings.manage",
            ],
        ),
        (
            "finance",
            "finance_admin",
            &["pf.export_requests.create", "pf.export_requests.view"],
        ),
        ("staff", "staff", &["pf.export_requests.view"]),
        ("norole", "", &[]),
    ];
    for domain in ["acme.test", "globex.test"] {
        for (local, role, permissions) in expected {
            let email = format!("{local}@{domain}");
            let cookie = app.login(&email).await;
            let user = app.call("current_user", &[], Some(&cookie)).await.json();
            assert_eq!(user["email"], email);
            assert_eq!(user["role"].as_str().unwrap_or(""), *role, "{email}");
            assert_eq!(&strings(&user["permissions"]), permissions, "{email}");
        }
    }
}

async fn sign_in_sets_an_http_only_same_site_cookie(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let response = app
        .call(
            "login",
            &[("email", "Admin@Acme.Test "), ("password", DEMO_PASSWORD)],
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let cookie = response.set_cookie_header();
    assert!(cookie.starts_with("exports_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http in development: {cookie}");
    assert_eq!(app.audit_count("login_succeeded").await, 1);

    // Behind an https proxy the cookie is Secure.
    let request = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(Body::from(common::form_encode(&[
            ("email", "admin@acme.test"),
            ("password", DEMO_PASSWORD),
        ])))
        .unwrap();
    let response = app.request(request).await;
    let secure = response.set_cookie_header();
    assert!(secure.contains("Secure"), "{secure}");
    // …and carries the __Host- prefix; the session works under that name only, over HTTPS.
    assert!(secure.starts_with("__Host-exports_session="), "{secure}");
    let token = secure
        .strip_prefix("__Host-exports_session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    let me = |cookie: String, https: bool| {
        let mut request = Request::post("/api/current_user").header(header::COOKIE, cookie);
        if https {
            request = request.header("x-forwarded-proto", "https");
        }
        app.request(request.body(Body::empty()).unwrap())
    };
    let signed_in = me(format!("__Host-exports_session={token}"), true).await.json();
    assert_eq!(signed_in["email"], "admin@acme.test");
    assert_eq!(
        me(format!("exports_session={token}"), true).await.json(),
        serde_json::Value::Null
    );
    // Over HTTPS every answer tells the browser to stay on HTTPS.
    assert_eq!(
        response.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let plain = app
        .request(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert!(
        !plain.headers.contains_key("strict-transport-security"),
        "no HSTS over plain HTTP"
    );
}

async fn a_wrong_password_or_unknown_email_is_refused_alike(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let wrong = app
        .call(
            "login",
            &[("email", "admin@acme.test"), ("password", "not-the-password")],
            None,
        )
        .await;
    let unknown = app
        .call(
            "login",
            &[("email", "nobody@acme.test"), ("password", "whatever-it-is")],
            None,
        )
        .await;
    for response in [&wrong, &unknown] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.json()["code"], "invalid_credentials");
        assert!(response.session_cookie().is_none());
    }
    assert_eq!(
        wrong.body, unknown.body,
        "the answer must not reveal which accounts exist"
    );
    // Counted apart from the audit log, with the account when there is one.
    assert_eq!(app.denial_count("login_failed").await, 2);
    assert_eq!(app.audit_count("login_failed").await, 0);
    let accounts: Vec<String> = data_exports::with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT account_id FROM pf_denials WHERE event = 'login_failed' ORDER BY account_id")
            .fetch_all(pool).await.unwrap()
    });
    let admin = common::user_id(&app, "admin@acme.test").await;
    assert_eq!(accounts, ["".to_owned(), admin.to_string()]);

    let empty = app
        .call("login", &[("email", "admin@acme.test"), ("password", "")], None)
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.json()["field"], "password");
}

async fn failed_sign_ins_are_throttled_per_account(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    for _ in 0..data_exports::auth::throttle::PER_ACCOUNT {
        let response = app
            .call(
                "login",
                &[("email", "finance@acme.test"), ("password", "guess-guess-guess")],
                None,
            )
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now, with a clear message.
    let response = app
        .call(
            "login",
            &[("email", "finance@acme.test"), ("password", DEMO_PASSWORD)],
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    let body = response.json();
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Try again in 15 minutes"),
        "{body}"
    );
    assert!(response.session_cookie().is_none());
    assert_eq!(app.denial_count("login_throttled").await, 1);
    // Other accounts are unaffected.
    app.login("admin@acme.test").await;
}

async fn failed_sign_ins_are_throttled_per_address(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("TRUST_PROXY", "true")], 10).await;
    // Spread over many accounts, so no single account is locked; the client also writes its own
    // X-Forwarded-For entry each time, which must not count: our proxy appends the real address.
    for i in 0..data_exports::auth::throttle::PER_ADDRESS {
        let spoofed = format!("10.9.8.{i}, 203.0.113.7");
        let email = format!("user{i}@nowhere.test");
        let response = sign_in_from(&app, &email, "wrong-password", &[&spoofed]).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = sign_in_from(&app, "admin@acme.test", DEMO_PASSWORD, &["203.0.113.7"]).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    let other = sign_in_from(&app, "admin@acme.test", DEMO_PASSWORD, &["198.51.100.2"]).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text());
}

async fn an_ipv6_client_is_throttled_by_its_slash_64_behind_two_proxies(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("TRUST_PROXY", "true"), ("TRUST_PROXY_HOPS", "2")], 10).await;
    // The client's own line, then the CDN's entry for the client and the load balancer's for the
    // CDN, on a second line: the client is two hops from the right.
    let attempt = |email: String, client: String, password: &'static str| {
        let app = &app;
        async move {
            let proxies = format!("{client}, 198.51.100.10");
            sign_in_from(app, &email, password, &["192.0.2.1", &proxies]).await
        }
    };
    // Every failure from another address of the same /64.
    for i in 0..data_exports::auth::throttle::PER_ADDRESS {
        let client = format!("2001:db8:1:2::{:x}", i + 1);
        let response = attempt(format!("user{i}@nowhere.test"), client, "wrong-password").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = attempt(
        "admin@acme.test".into(),
        "2001:db8:1:2:ffff::9".into(),
        DEMO_PASSWORD,
    )
    .await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.text()
    );
    let neighbour = attempt("admin@acme.test".into(), "2001:db8:1:3::1".into(), DEMO_PASSWORD).await;
    assert_eq!(neighbour.status, StatusCode::OK, "{}", neighbour.text());
}

async fn signing_in_rotates_the_session(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let first = app.login("admin@acme.test").await;
    // Sign in again from the same browser (carrying the first cookie).
    let response = app
        .call(
            "login",
            &[("email", "admin@acme.test"), ("password", DEMO_PASSWORD)],
            Some(&first),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let second = response.session_cookie().unwrap();
    assert_ne!(first, second);
    assert!(
        app.call("current_user", &[], Some(&first)).await.json().is_null(),
        "old session must be dead"
    );
    assert_eq!(
        app.call("current_user", &[], Some(&second)).await.json()["email"],
        "admin@acme.test"
    );

    // A token planted before sign-in (session fixation) is never adopted.
    let planted = "attacker-chosen-token";
    let response = app
        .call(
            "login",
            &[("email", "staff@acme.test"), ("password", DEMO_PASSWORD)],
            Some(planted),
        )
        .await;
    assert_ne!(response.session_cookie().unwrap(), planted);
    assert!(
        app.call("current_user", &[], Some(planted))
            .await
            .json()
            .is_null()
    );
}

async fn signing_out_kills_the_session(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("staff@globex.test").await;
    let response = app.call("logout", &[], Some(&cookie)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.set_cookie_header().contains("Max-Age=0"));
    assert!(
        app.call("current_user", &[], Some(&cookie))
            .await
            .json()
            .is_null()
    );
    assert_eq!(app.audit_count("logout").await, 1);
}

async fn idle_sessions_expire(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("SESSION_IDLE_TIMEOUT_SECS", "1")], 10).await;
    let cookie = app.login("admin@acme.test").await;
    assert!(
        !app.call("current_user", &[], Some(&cookie))
            .await
            .json()
            .is_null()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        app.call("current_user", &[], Some(&cookie))
            .await
            .json()
            .is_null()
    );
}

async fn sessions_expire_absolutely_however_active(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("SESSION_ABSOLUTE_TIMEOUT_SECS", "2")], 10).await;
    let cookie = app.login("admin@acme.test").await;
    for _ in 0..3 {
        assert!(
            !app.call("current_user", &[], Some(&cookie))
                .await
                .json()
                .is_null()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        app.call("current_user", &[], Some(&cookie))
            .await
            .json()
            .is_null()
    );
}

fn request_with(cookie: Option<&str>) -> http::request::Parts {
    let mut request = Request::get("/settings/exports");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("exports_session={cookie}"));
    }
    request.body(()).unwrap().into_parts().0
}

async fn the_guard_answers_401_and_403_and_audits_denials(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let expected: &[(&str, [bool; 3])] = &[
        ("admin", [true, true, true]),
        ("finance", [true, true, false]),
        ("staff", [true, false, false]),
        ("norole", [false, false, false]),
    ];
    let mut denials = 0;
    for (local, allowed) in expected {
        let cookie = app.login(&format!("{local}@acme.test")).await;
        for (permission, allowed) in ALL.iter().zip(allowed) {
            let result = guard::authorize(&app.state, &request_with(Some(&cookie)), *permission).await;
            match (allowed, result) {
                (true, Ok(user)) => assert_eq!(user.email, format!("{local}@acme.test")),
                (false, Err(AppError::Forbidden { permission: key })) => {
                    assert_eq!(key, permission.key());
                    denials += 1;
                }
                (allowed, other) => {
                    panic!("{local} {permission:?}: expected allowed={allowed}, got {other:?}")
                }
            }
        }
    }
    let anonymous = guard::authorize(&app.state, &request_with(None), Permission::ViewExports).await;
    assert_eq!(anonymous.unwrap_err(), AppError::Unauthenticated);
    let forged = guard::authorize(&app.state, &request_with(Some("forged")), Permission::ViewExports).await;
    assert_eq!(forged.unwrap_err(), AppError::Unauthenticated);
    // A 403 is in the audit log; a 401 (nobody signed in) is counted apart, with the permission.
    assert_eq!(app.audit_count("access_denied").await, denials);
    assert_eq!(app.denial_count("access_denied").await, 2);
    let permissions: Vec<String> = data_exports::with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT permission FROM pf_denials WHERE event = 'access_denied'")
            .fetch_all(pool).await.unwrap()
    });
    assert_eq!(permissions, [Permission::ViewExports.key()]);
}

async fn a_user_sees_only_their_own_organisation(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let acme = app.login("admin@acme.test").await;
    let globex = app.login("admin@globex.test").await;
    let acme_user = app.call("current_user", &[], Some(&acme)).await.json();
    let globex_user = app.call("current_user", &[], Some(&globex)).await.json();
    assert_eq!(acme_user["organization_name"], "Acme Behavioral Health");
    assert_eq!(globex_user["organization_name"], "Globex Clinic");
    assert_eq!(acme_user["organization_time_zone"], "America/New_York");
    assert_eq!(globex_user["organization_time_zone"], "Europe/London");
    assert_ne!(acme_user["organization_id"], globex_user["organization_id"]);

    // The guard hands every server function the session's organisation, never one from input.
    let user = guard::authorize(&app.state, &request_with(Some(&acme)), Permission::ViewExports)
        .await
        .unwrap();
    assert_eq!(
        user.organization_id.to_string(),
        acme_user["organization_id"].as_str().unwrap()
    );

    // Removing the membership ends the session's access at once. (The app has no function that
    // removes one: an administrator's SQL stands in for it.)
    data_exports::with_db!(&app.state.db, pool => {
        sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(user.user_id).execute(pool).await.map(|_| ())
    })
    .unwrap();
    assert!(app.call("current_user", &[], Some(&acme)).await.json().is_null());
}

async fn malformed_requests_get_a_clear_400(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cases: Vec<(&str, &str)> = vec![
        ("application/x-www-form-urlencoded", "email=admin%40acme.test"),
        ("application/x-www-form-urlencoded", "%%%garbage"),
        ("application/x-www-form-urlencoded", ""),
        ("application/json", "{\"email\": 5}"),
    ];
    for (content_type, body) in cases {
        let request = Request::post("/api/login")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let response = app.request(request).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.text()
        );
        assert_eq!(response.json()["code"], "bad_request", "{body}");
    }
    let unknown = app
        .request(
            Request::post("/api/no_such_function")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(unknown.status.is_client_error(), "{}", unknown.status);
}

async fn the_audit_log_is_append_only(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    app.login("admin@acme.test").await;
    // Tampering, by SQL: the database itself must refuse it.
    let update = data_exports::with_db!(&app.state.db, pool => {
        sqlx::query("UPDATE pf_audit_logs SET event = 'tampered'").execute(pool).await.map(|_| ())
    });
    let delete = data_exports::with_db!(&app.state.db, pool => {
        sqlx::query("DELETE FROM pf_audit_logs").execute(pool).await.map(|_| ())
    });
    for result in [update, delete] {
        let message = result.unwrap_err().to_string();
        assert!(message.contains("append-only"), "{message}");
    }
    assert_eq!(app.audit_count("login_succeeded").await, 1);
}

async fn migrations_are_idempotent_and_the_demo_seed_is_deterministic(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    app.state
        .db
        .migrate()
        .await
        .expect("re-running migrations is a no-op");
    let counts = |table: &'static str| {
        let db = app.state.db.clone();
        async move {
            data_exports::with_db!(&db, pool => {
                sqlx::query_as::<_, (String, i64)>(&format!(
                    "SELECT o.slug, COUNT(*) FROM {table} t JOIN organizations o ON o.id = t.organization_id \
                     GROUP BY o.slug ORDER BY o.slug"
                ))
                .fetch_all(pool)
                .await
                .unwrap()
            })
        }
    };
    let appointments = counts("appointments").await;
    assert_eq!(
        appointments,
        vec![
            ("acme-behavioral-health".to_owned(), 30),
            ("globex-clinic".to_owned(), 30)
        ]
    );
    let before = (
        counts("clients").await,
        counts("encounters").await,
        counts("claims").await,
    );
    // Seeding again resets the demo passwords but adds no records.
    let report = data_exports::seed::demo(&app.state.db, 30).await.unwrap();
    assert_eq!(report.rows, 0);
    assert_eq!(
        before,
        (
            counts("clients").await,
            counts("encounters").await,
            counts("claims").await
        )
    );
    // The same seed gives the same rows on the other database too: fixed expectations.
    assert_eq!(before.0[0].1, 20);
}

async fn cross_site_state_changes_are_refused(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let login = |extra: &[(&'static str, &'static str)]| {
        let mut request = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "exports.example:3000");
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let body = common::form_encode(&[("email", "admin@acme.test"), ("password", DEMO_PASSWORD)]);
        app.request(request.body(Body::from(body)).unwrap())
    };
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("origin", "http://exports.example:3000.evil.example")],
    ] {
        let response = login(headers).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(response.json()["code"], "cross_site");
        assert!(response.session_cookie().is_none());
    }
    assert_eq!(app.audit_count("login_succeeded").await, 0, "nothing ran");
    for headers in [
        &[("sec-fetch-site", "same-origin")][..],
        &[("origin", "http://exports.example:3000")],
        &[],
    ] {
        assert_eq!(login(headers).await.status, StatusCode::OK, "{headers:?}");
    }
}

async fn a_parallel_burst_cannot_slip_past_the_throttle(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::seeded(backend).await);
    let mut attempts = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        attempts.push(tokio::spawn(async move {
            app.call(
                "login",
                &[("email", "admin@globex.test"), ("password", "guess-guess-guess")],
                None,
            )
            .await
            .status
        }));
    }
    let mut checked = 0;
    for attempt in attempts {
        let status = attempt.await.unwrap();
        assert!(
            matches!(status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS),
            "{status}"
        );
        checked += i64::from(status == StatusCode::UNAUTHORIZED);
    }
    // Only attempts that reached the password check answer 401: never more than the limit.
    assert!(
        checked <= data_exports::auth::throttle::PER_ACCOUNT,
        "{checked} passwords were tried"
    );
    // Attempts refused at the second look checked nothing and count as nothing: guessing on
    // one at a time, the account locks after exactly the limit of passwords tried in all.
    loop {
        let guess = app
            .call(
                "login",
                &[("email", "admin@globex.test"), ("password", "guess-guess-guess")],
                None,
            )
            .await;
        if guess.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(guess.status, StatusCode::UNAUTHORIZED);
        checked += 1;
    }
    assert_eq!(checked, data_exports::auth::throttle::PER_ACCOUNT);
    let right = app
        .call(
            "login",
            &[("email", "admin@globex.test"), ("password", DEMO_PASSWORD)],
            None,
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn a_password_reset_ends_every_session(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("finance@acme.test").await;
    let other = app.login("staff@acme.test").await;
    data_exports::auth::accounts::upsert_user(
        &app.state.db,
        "finance@acme.test",
        "Acme Finance",
        "a-brand-new-password",
    )
    .await
    .unwrap();
    assert!(
        app.call("current_user", &[], Some(&cookie))
            .await
            .json()
            .is_null()
    );
    assert!(
        !app.call("current_user", &[], Some(&other)).await.json().is_null(),
        "other users keep theirs"
    );
}

async fn housekeeping_removes_expired_sessions_and_stale_failures(backend: Backend) {
    use chrono::DurationRound;
    use data_exports::{auth::housekeeping, with_db};
    let app = TestApp::seeded(backend).await;
    let admin = app.login("admin@acme.test").await;
    let _staff = app.login("staff@acme.test").await;
    let db = &app.state.db;
    let past = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
    let old = chrono::Utc::now() - chrono::TimeDelta::minutes(20);
    // Rows from the past, written by hand: the app's own functions only ever write the present.
    with_db!(db, pool => {
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE user_id = (SELECT id FROM users WHERE email = 'staff@acme.test')")
            .bind(past).execute(pool).await.unwrap();
        sqlx::query("INSERT INTO login_failures (scope, key, failed_at) VALUES ('address', 'old', $1), ('address', 'recent', $2)")
            .bind(old).bind(chrono::Utc::now()).execute(pool).await.unwrap();
        // Denial counts are kept 90 days.
        let minute = |days| (chrono::Utc::now() - chrono::TimeDelta::days(days)).duration_trunc(chrono::TimeDelta::minutes(1)).unwrap();
        for days in [91, 89] {
            sqlx::query("INSERT INTO pf_denials (minute, source, event, permission, account_id, count, first_at, last_at) \
                         VALUES ($1, '192.0.2.1', 'access_denied', '', '', 3, $1, $1)")
                .bind(minute(days)).execute(pool).await.unwrap();
        }
    });
    assert_eq!(housekeeping::sweep(db).await.unwrap(), (1, 2));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM pf_denials").await, 1);
    let failure: String = with_db!(db, pool => {
        sqlx::query_scalar("SELECT key FROM login_failures").fetch_one(pool).await.unwrap()
    });
    let sessions = count(&app, "SELECT COUNT(*) FROM sessions").await;
    assert_eq!(
        (sessions, failure.as_str()),
        (1, "recent"),
        "what still counts stays"
    );
    assert!(!app.call("current_user", &[], Some(&admin)).await.json().is_null());
    assert_eq!(housekeeping::sweep(db).await.unwrap(), (0, 0));
}

/// A sign-in attempt carrying these `X-Forwarded-For` lines (read when the app trusts a proxy).
async fn sign_in_from(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded: &[&str],
) -> common::TestResponse {
    let mut request =
        Request::post("/api/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for line in forwarded {
        request = request.header("x-forwarded-for", *line);
    }
    let body = Body::from(common::form_encode(&[("email", email), ("password", password)]));
    app.request(request.body(body).unwrap()).await
}

/// Failing on someone else's account on purpose locks out the one who fails, not the owner.
async fn a_stranger_cannot_lock_an_account_out(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("TRUST_PROXY", "true")], 10).await;
    let stranger = "203.0.113.66";
    for _ in 0..data_exports::auth::throttle::PER_ACCOUNT {
        let response = sign_in_from(&app, "finance@acme.test", "guess-guess-guess", &[stranger]).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let locked = sign_in_from(&app, "finance@acme.test", DEMO_PASSWORD, &[stranger]).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let owner = sign_in_from(&app, "finance@acme.test", DEMO_PASSWORD, &["198.51.100.20"]).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text());
}

/// Without TRUST_PROXY every client behind a load balancer has the balancer's address: failures
/// spread over many accounts from it must not lock out the accounts nobody failed on.
async fn without_a_trusted_proxy_one_address_does_not_lock_everyone_out(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[], 10).await;
    for i in 0..data_exports::auth::throttle::PER_ADDRESS + 5 {
        let response = app
            .call(
                "login",
                &[
                    ("email", &format!("user{i}@nowhere.test")),
                    ("password", "wrong-password"),
                ],
                None,
            )
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    app.login("admin@acme.test").await;
}

/// The issue that found this: every unauthenticated request wrote an audit row, so a flood grew
/// the database without bound. Now a flood adds a few counted rows and no audit row.
async fn a_flood_of_unauthenticated_requests_adds_a_bounded_number_of_rows(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::seeded_with(backend, &[], 10).await);
    let audit_before = count(&*app, "SELECT COUNT(*) FROM pf_audit_logs").await;
    const CALLS: usize = 1_000;
    const SIGN_INS: usize = 200;
    let mut flood = Vec::new();
    for i in 0..CALLS + SIGN_INS {
        let app = app.clone();
        flood.push(tokio::spawn(async move {
            let status = if i < CALLS {
                app.call("list_export_requests", &[], None).await.status
            } else {
                app.call(
                    "login",
                    &[("email", "admin@acme.test"), ("password", "not-the-password")],
                    None,
                )
                .await
                .status
            };
            assert!(
                matches!(status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS),
                "{status}"
            );
        }));
    }
    for request in flood {
        request.await.unwrap();
    }
    // Nothing in the audit log; every denial counted; a handful of rows (one per event and
    // minute the flood touched, and the throttle's own few).
    assert_eq!(
        count(&*app, "SELECT COUNT(*) FROM pf_audit_logs").await,
        audit_before
    );
    assert_eq!(app.denial_count("access_denied").await, CALLS as i64);
    let sign_in_denials = app.denial_count("login_failed").await + app.denial_count("login_throttled").await;
    assert_eq!(sign_in_denials, SIGN_INS as i64);
    let rows = count(&*app, "SELECT COUNT(*) FROM pf_denials").await;
    assert!(rows <= 3 * 3, "{rows} rows for {} denials", CALLS + SIGN_INS);
    let failures = count(&*app, "SELECT COUNT(*) FROM login_failures").await;
    assert!(
        failures <= 2 * 2 * (data_exports::auth::throttle::PER_ACCOUNT + 1),
        "{failures} throttle rows"
    );
}

/// Password checks (19 MiB and a core each) run at most one per core at a time; the rest wait
/// their turn briefly (here not at all) and are told to come back, never a 500.
async fn two_hundred_parallel_sign_ins_stay_within_the_password_check_bound(backend: Backend) {
    use data_exports::auth::password;
    let app =
        std::sync::Arc::new(TestApp::seeded_with(backend, &[("PASSWORD_CHECK_WAIT_MS", "0")], 10).await);
    let mut attempts = Vec::new();
    for i in 0..200 {
        let app = app.clone();
        attempts.push(tokio::spawn(async move {
            // Each a different unknown account, so the throttle leaves every one to the check.
            app.call(
                "login",
                &[
                    ("email", &format!("flood{i}@nowhere.test")),
                    ("password", "wrong-password"),
                ],
                None,
            )
            .await
        }));
    }
    let mut busy = 0;
    for attempt in attempts {
        let response = attempt.await.unwrap();
        match response.status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(response.json()["code"], "busy");
                let retry: u64 = response.headers[header::RETRY_AFTER]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=5).contains(&retry), "{retry}");
            }
            other => panic!("{other}: {}", response.text()),
        }
    }
    assert!(busy > 0, "200 parallel checks all ran: nothing bounds them");
    assert!(
        password::peak_running() <= password::bound(),
        "{} checks ran at once",
        password::peak_running()
    );
    // A refused attempt's password was never checked: it counts as no failure.
    assert_eq!(app.denial_count("login_failed").await, 200 - busy);
}

/// A minute's denials get a row per source up to the cap; the rest of that minute counts under
/// the overflow source, so many addresses cannot grow the table past it either.
async fn past_a_thousand_sources_a_minute_the_rest_count_together(backend: Backend) {
    use data_exports::audit::{
        AuditEvent,
        denials::{self, Denial, OVERFLOW, SOURCES_PER_MINUTE},
    };
    let app = TestApp::new(backend).await;
    let extra = 5;
    let sources: Vec<String> = (0..SOURCES_PER_MINUTE + extra)
        .map(|n| format!("198.18.{}.{}", n / 256, n % 256))
        .collect();
    let mut minutes = std::collections::BTreeSet::new();
    for source in &sources {
        let denial = Denial {
            event: AuditEvent::AccessDenied,
            source,
            permission: Some("pf.export_requests.view"),
            account: None,
        };
        denials::count(&app.state.db, denial).await.unwrap();
        minutes.insert(chrono::Utc::now().format("%H:%M").to_string());
    }
    assert_eq!(
        app.denial_count("access_denied").await,
        SOURCES_PER_MINUTE + extra
    );
    if minutes.len() == 1 {
        // All in one minute (else the cap applied per minute, and this proves less).
        let rows = count(&app, "SELECT COUNT(*) FROM pf_denials").await;
        assert_eq!(rows, SOURCES_PER_MINUTE + 1);
        let overflow: i64 = data_exports::with_db!(&app.state.db, pool => {
            sqlx::query_scalar("SELECT CAST(count AS BIGINT) FROM pf_denials WHERE source = $1")
                .bind(OVERFLOW).fetch_one(pool).await.unwrap()
        });
        assert_eq!(overflow, extra);
    }
}
