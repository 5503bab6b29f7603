//! The hidden benchmark commands: the export engine (one export into the store, with its ledger
//! written and rolled back) and the ledger of disclosures at scale.

use std::time::Instant;

use clap::Args;
use uuid::Uuid;

use super::CliResult;
use crate::{auth::accounts, state::AppState};

#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    /// The organisation (name or slug).
    #[arg(long)]
    org: String,
    /// csv, xlsx or json.
    #[arg(long)]
    format: String,
    /// The export type's key (`deidentified_dataset` reads in a fresh random order).
    #[arg(long, default_value = "selected_records")]
    export_type: String,
    /// The entity types (comma-separated keys).
    #[arg(long, value_delimiter = ',', default_value = "appointments")]
    entities: Vec<String>,
    /// The first day (YYYY-MM-DD, in the organisation's time zone); with --to.
    #[arg(long, default_value = "")]
    from: String,
    /// The last day, inclusive; with --from.
    #[arg(long, default_value = "")]
    to: String,
    /// Skip the ledger of disclosures (which clients the file carries, written as a completion
    /// writes it and then rolled back): to measure what it costs.
    #[arg(long)]
    no_ledger: bool,
}

/// Produces one export straight from the database into the store (and its ledger, rolled
/// back), prints its figures as JSON, and deletes the file.
pub(super) async fn engine(state: &AppState, args: BenchArgs) -> CliResult {
    use crate::{
        engine::{self, Cancel, Plan, Progress, worker},
        exports::{catalog, model::NewExport},
    };
    let organization_id = accounts::find_organization(&state.db, &args.org)
        .await?
        .ok_or_else(|| format!("no organisation {}", args.org))?;
    let spec = catalog::spec(&NewExport {
        export_type: args.export_type,
        export_format: args.format,
        entity_types: args.entities,
        date_from: args.from,
        date_to: args.to,
        ..NewExport::default()
    })
    .map_err(|error| error.to_string())?;
    let export_format = spec.export_format;
    let plan_type = spec.export_type.key();
    let zone = accounts::organization_time_zone(&state.db, organization_id).await?;
    // The row-count preview's question for the same export, timed on its own.
    let counted = Instant::now();
    engine::count_rows(&state.db, organization_id, &spec, zone).await?;
    let count_ms = counted.elapsed().as_secs_f64() * 1000.0;
    let range = spec
        .date_range
        .map_or_else(|| "all time".to_owned(), |range| range.label());
    let plan = Plan {
        organization_id,
        export_request_id: uuid::Uuid::new_v4(),
        attempt: 1,
        ledger: !args.no_ledger && !spec.export_type.deidentifies(),
        spec,
        time_zone: zone,
        requested_at: crate::db::now(),
        requested_by: None,
    };
    let started = Instant::now();
    let produced = engine::produce(
        &state.db,
        &state.storage,
        &plan,
        worker::settings(&state.config.worker),
        &Progress::default(),
        &Cancel::default(),
    )
    .await?;
    // The ledger as a completion writes it, committed: the first run numbers the clients new to
    // the ledger (its `ledger_unnumbered`), later ones find them numbered, as in production.
    let ledger_started = Instant::now();
    if let Some(clients) = &produced.clients {
        let mut tx = state.db.begin().await?;
        let at = crate::db::now();
        crate::disclosures::ledger::record_in(&mut tx, plan.disclosure(), clients, at, at).await?;
        tx.commit().await?;
    }
    let ledger_ms = ledger_started.elapsed().as_secs_f64() * 1000.0;
    let seconds = started.elapsed().as_secs_f64();
    state.storage.delete(&produced.key).await?;
    println!(
        "{}",
        serde_json::json!({
            "database": state.db.backend(),
            "format": export_format.key(),
            "export_type": plan_type,
            "rows": produced.row_count,
            "bytes": produced.size,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "rows_per_second": (produced.row_count as f64 / seconds).round(),
            "range": range,
            "count_ms": (count_ms * 10.0).round() / 10.0,
            "ledger_clients": produced.clients.as_ref().map(|clients| clients.len()),
            "ledger_unnumbered": produced.clients.as_ref().map(|clients| clients.unnumbered()),
            "ledger_ms": (ledger_ms * 10.0).round() / 10.0,
        })
    );
    Ok(())
}

#[derive(Debug, Args)]
pub(super) struct BenchLedgerArgs {
    /// The organisation (name or slug) whose clients the disclosures carry.
    #[arg(long)]
    org: String,
    /// Disclosures to record: every tenth carries every client, the others 2% drawn at random.
    #[arg(long, default_value_t = 1000)]
    exports: usize,
    /// Clients to ask for afterwards, drawn at random.
    #[arg(long, default_value_t = 200)]
    samples: usize,
}

/// Records `exports` synthetic disclosures of the organisation's clients through the ledger (each
/// in a transaction of its own, as completions write them), then times the answer for `samples`
/// random clients and measures what the ledger holds; prints it all as JSON.
pub(super) async fn ledger(state: &AppState, args: BenchLedgerArgs) -> CliResult {
    use rand::{Rng, seq::SliceRandom};

    use crate::{
        db::with_db,
        disclosures::ledger::{self, Carried, Disclosed},
        exports::{catalog, model::NewExport},
    };
    let db = &state.db;
    let organization_id = accounts::find_organization(db, &args.org)
        .await?
        .ok_or_else(|| format!("no organisation {}", args.org))?;
    let clients: Vec<Uuid> = with_db!(db, pool => {
        sqlx::query_scalar("SELECT id FROM clients WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_all(pool)
            .await
    })?;
    let spec = catalog::spec(&NewExport {
        export_type: "selected_records".into(),
        export_format: "csv".into(),
        entity_types: vec!["clients".into()],
        purpose: "treatment".into(),
        recipient: "internal: benchmark".into(),
        ..NewExport::default()
    })
    .map_err(|error| error.to_string())?;
    let stored_before = stored(db).await?;
    let mut rng = rand::thread_rng();
    let now = crate::db::now();
    let (mut full_ms, mut partial_ms, mut pairs) = (Vec::new(), Vec::new(), 0usize);
    // As an export loads them before it reads: after the first (which numbers every client).
    let (mut known, mut first_ms): (Vec<(Uuid, u32)>, f64) = (Vec::new(), 0.0);
    for n in 0..args.exports {
        let mut carried = Carried::new(known.iter().copied());
        if n % 10 == 0 {
            clients.iter().for_each(|client| carried.note(*client));
        } else {
            for client in clients.choose_multiple(&mut rng, clients.len() / 50) {
                carried.note(*client);
            }
        }
        pairs += carried.len();
        let export = Disclosed {
            export_request_id: Uuid::new_v4(),
            organization_id,
            spec: &spec,
            time_zone: "UTC",
            requested_by: None,
        };
        let completed_at = now - chrono::TimeDelta::minutes((args.exports - n) as i64);
        let started = Instant::now();
        let mut tx = db.begin().await?;
        ledger::record_in(
            &mut tx,
            export,
            &carried,
            completed_at,
            completed_at + chrono::TimeDelta::days(2192),
        )
        .await?;
        tx.commit().await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if n % 10 == 0 {
            full_ms.push(ms)
        } else {
            partial_ms.push(ms)
        }
        if n == 0 {
            first_ms = (ms * 10.0).round() / 10.0;
            known = with_db!(db, pool => {
                sqlx::query_as::<_, (Uuid, i32)>(ledger::SUBJECTS_SQL).bind(organization_id).fetch_all(pool).await
            })?
            .into_iter()
            .map(|(client, number)| (client, number as u32))
            .collect();
        }
    }
    let (from, until) = (
        now - chrono::TimeDelta::days(3650),
        now + chrono::TimeDelta::days(1),
    );
    let (mut answer_ms, mut found) = (Vec::new(), 0usize);
    for _ in 0..args.samples {
        let client = clients[rng.gen_range(0..clients.len())];
        let started = Instant::now();
        found += ledger::for_client(db, organization_id, client, from, until)
            .await?
            .len();
        answer_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (blocks, bits_bytes): (i64, i64) = with_db!(db, pool => {
        sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(bits)), 0) AS BIGINT) FROM pf_disclosure_blocks")
            .fetch_one(pool)
            .await
    })?;
    let stored_bytes = stored(db).await? - stored_before;
    let quantile = |values: &mut Vec<f64>, q: f64| {
        values.sort_by(f64::total_cmp);
        let at = ((values.len() as f64 - 1.0) * q).round() as usize;
        (values.get(at).copied().unwrap_or(0.0) * 10.0).round() / 10.0
    };
    println!(
        "{}",
        serde_json::json!({
            "database": db.backend(),
            "clients": clients.len(),
            "exports": args.exports,
            "pairs": pairs,
            "blocks": blocks,
            "bits_bytes": bits_bytes,
            "stored_bytes": stored_bytes,
            "write_first_ms": first_ms,
            "write_full_ms_p50": quantile(&mut full_ms, 0.5),
            "write_partial_ms_p50": quantile(&mut partial_ms, 0.5),
            "answer_ms_p50": quantile(&mut answer_ms, 0.5),
            "answer_ms_p99": quantile(&mut answer_ms, 0.99),
            "answer_ms_max": quantile(&mut answer_ms, 1.0),
            "disclosures_per_answer": found as f64 / args.samples.max(1) as f64,
        })
    );
    Ok(())
}

/// Bytes the ledger's tables take (Postgres), or the database file (SQLite): compared before and
/// after, what the ledger added.
async fn stored(db: &crate::db::Db) -> Result<i64, sqlx::Error> {
    match db {
        crate::db::Db::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT CAST(pg_total_relation_size('pf_disclosure_blocks') + pg_total_relation_size('pf_disclosures') \
                 + pg_total_relation_size('pf_disclosure_subjects') AS BIGINT)",
            )
            .fetch_one(pool)
            .await
        }
        crate::db::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                .fetch_one(pool)
                .await
        }
    }
}
