//! The production guide's `DATABASE_URL` form, `…/ragbase?sslmode=require&connection_limit=N`,
//! against a real TLS endpoint: PgBouncer (from `local/services`) in front of the shared
//! PostgreSQL, which refuses clients that do not use TLS.

mod support;

use support::{Server, TestDb, run_ragbase, start_services};

#[tokio::test]
async fn sslmode_require_connects_over_tls_and_connection_limit_caps_the_pool() {
    let db = TestDb::create().await;
    let tls = start_services(&[], &["postgres", "pgbouncer"])
        .database_tls_url
        .unwrap();
    let (base, _) = tls.split_once('?').unwrap();
    let (host, _) = base.rsplit_once('/').unwrap();
    let name = db.url.rsplit_once('/').unwrap().1;
    let url = |query: &str| format!("{host}/{name}?{query}");

    // The endpoint refuses plain connections, so the runs below that succeed used TLS.
    let (ok, out) = run_ragbase(&["migrate"], &[("DATABASE_URL", &url("sslmode=disable"))]).await;
    assert!(!ok && out.contains("SSL required"), "{out}");

    let production = url("sslmode=require&connection_limit=2&application_name=pool-test");
    let server = Server::start(
        &["serve", "--migrate", "--no-worker"],
        &[("DATABASE_URL", &production)],
    )
    .await;
    // 30 concurrent listings, three queries each: a pool of two serves them all.
    let listings: Vec<_> = (0..30)
        .map(|_| tokio::spawn(reqwest::get(server.url("/api/documents"))))
        .collect();
    for listing in listings {
        assert_eq!(listing.await.unwrap().unwrap().status(), 200);
    }
    let connections: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pool-test'",
    )
    .fetch_one(&mut db.connect().await)
    .await
    .unwrap();
    assert!(
        (1..=2).contains(&connections),
        "{connections} server connections"
    );
}
