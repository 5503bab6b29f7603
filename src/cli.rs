//! The binary's command line: `serve` (the default), `worker`, `migrate`, `seed`, and `user` and
//! `org` administration.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Instant};

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::{EnvFilter, fmt};

mod bench;

use self::bench::{BenchArgs, BenchLedgerArgs};
use crate::{auth::accounts, config::Config, seed, state::AppState};

#[derive(Debug, Parser)]
#[command(name = "data-exports", version, about = "Asynchronous, audited data exports")]
struct Cli {
    /// The runtime configuration file; environment variables override its keys.
    #[arg(long, global = true, env = "EXPORTS_CONFIG", default_value = "Leptos.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web app (the default).
    Serve,
    /// Run export workers only (no web server); several processes may share one Postgres.
    Worker(WorkerArgs),
    /// Apply database migrations, then exit.
    Migrate,
    /// Seed data.
    Seed(SeedArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Benchmark the export engine: produce one export straight from the database into the
    /// store, print its figures as JSON, and delete the file.
    #[command(hide = true)]
    Bench(BenchArgs),
    /// Benchmark the ledger of disclosures: record synthetic disclosures of the organisation's
    /// clients, then answer for random clients; print the figures as JSON. Leaves the entries.
    #[command(hide = true)]
    BenchLedger(BenchLedgerArgs),
}

#[derive(Debug, Args)]
struct WorkerArgs {
    /// Exports this process produces at a time (overrides WORKER_CONCURRENCY).
    #[arg(long)]
    concurrency: Option<usize>,
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// The two demo organisations with their users (password "demo-password") and records.
    #[arg(long, required = true)]
    demo: bool,
    /// Appointments per organisation (clients, staff, encounters and claims scale with it).
    #[arg(long, default_value_t = seed::DEFAULT_SCALE)]
    scale: u64,
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Set the organisation's IANA time zone (e.g. America/New_York): its export dates are read in it.
    SetTimeZone {
        /// The organisation (name or slug).
        #[arg(long)]
        org: String,
        #[arg(long)]
        time_zone: String,
    },
    /// Set how long the organisation keeps completed export files (1 to 720 hours); files it has
    /// now are re-dated from their completion.
    SetRetention {
        /// The organisation (name or slug).
        #[arg(long)]
        org: String,
        #[arg(long)]
        hours: i64,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user (or reset an existing user's name and password). Reads the password from stdin.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Also make the user a member of this organisation (created if missing)…
        #[arg(long)]
        org: Option<String>,
        /// …with this role (org_admin, finance_admin, staff); omit for no permission.
        #[arg(long, requires = "org")]
        role: Option<String>,
    },
    /// Give a user a role in an organisation (creates the membership if needed).
    Grant {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: String,
        /// org_admin, finance_admin or staff; omit for a membership with no permission.
        #[arg(long)]
        role: Option<String>,
    },
}

/// Parses the command line, runs the command, and turns any failure into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

fn run(cli: Cli) -> CliResult {
    let mut config = Config::load(&cli.config)?;
    if let Some(Command::Worker(WorkerArgs {
        concurrency: Some(concurrency),
    })) = &cli.command
    {
        if !(1..=64).contains(concurrency) {
            return Err("--concurrency must be between 1 and 64".into());
        }
        config.worker.concurrency = *concurrency;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let config_path = cli.config;
    runtime.block_on(async move {
        let seed_demo = config.server.seed_demo;
        let state = AppState::connect(config).await?;
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                if seed_demo && seed::is_empty(&state.db).await? {
                    seed_in_child(&config_path).await?;
                }
                crate::server::serve(state.clone()).await?;
            }
            Command::Worker(_) => crate::server::work(state.clone()).await?,
            Command::Migrate => println!("database is up to date ({})", state.db.backend()),
            Command::Seed(args) => {
                if state.config.production() {
                    return Err(
                        "the demo (with its published password) is never seeded in production".into(),
                    );
                }
                let _ = args.demo;
                seed_demo_and_print(&state, args.scale).await?;
            }
            Command::User(command) => user(&state, command).await?,
            Command::Org(command) => org(&state, command).await?,
            Command::Bench(args) => bench::engine(&state, args).await?,
            Command::BenchLedger(args) => bench::ledger(&state, args).await?,
        }
        // Closing the pool lets SQLite checkpoint its write-ahead log into the database file.
        state.db.close().await;
        Ok(())
    })
}

/// Seeds the demo in a child process (`data-exports seed --demo`, same configuration and
/// environment) and waits for it, so that the seeding's memory leaves with the child rather than
/// staying with the server for good: hashing the eight demo passwords (argon2id, 19 MiB each, on
/// blocking threads) left about 140 MB in the allocator's per-thread arenas.
async fn seed_in_child(config: &std::path::Path) -> CliResult {
    let status = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(config)
        .args(["seed", "--demo"])
        .status()
        .await?;
    if !status.success() {
        return Err(format!("seeding the demo failed ({status})").into());
    }
    Ok(())
}

async fn seed_demo_and_print(state: &AppState, scale: u64) -> CliResult {
    let started = Instant::now();
    let report = seed::demo(&state.db, scale).await?;
    println!(
        "seeded {} organisation(s), {} rows, in {:.1}s ({})",
        report.organizations_seeded,
        report.rows,
        started.elapsed().as_secs_f64(),
        state.db.backend()
    );
    println!("demo logins (password: {}):", seed::DEMO_PASSWORD);
    for (email, role) in &report.logins {
        println!("  {email:<22} {}", role.unwrap_or("no role"));
    }
    Ok(())
}

async fn user(state: &AppState, command: UserCommand) -> CliResult {
    let db = &state.db;
    match command {
        UserCommand::Add {
            email,
            name,
            org,
            role,
        } => {
            let mut password = String::new();
            if std::io::stdin().is_terminal() {
                eprint!("password for {email}: ");
            }
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user_id = accounts::upsert_user(db, &email, &name, password).await?;
            println!("user {email} ready");
            if let Some(org) = org {
                let organization_id = accounts::ensure_organization(db, &org).await?;
                accounts::grant(db, user_id, organization_id, role.as_deref()).await?;
                println!(
                    "{email} is a member of {org} ({})",
                    role.as_deref().unwrap_or("no role")
                );
            }
        }
        UserCommand::Grant { email, org, role } => {
            let user_id = accounts::find_user(db, &email)
                .await?
                .ok_or_else(|| format!("no user {email}"))?;
            let organization_id = accounts::find_organization(db, &org)
                .await?
                .ok_or_else(|| format!("no organisation {org}"))?;
            accounts::grant(db, user_id, organization_id, role.as_deref()).await?;
            println!(
                "{email} is a member of {org} ({})",
                role.as_deref().unwrap_or("no role")
            );
        }
    }
    Ok(())
}

async fn org(state: &AppState, command: OrgCommand) -> CliResult {
    match command {
        OrgCommand::SetTimeZone { org, time_zone } => {
            let organization_id = accounts::find_organization(&state.db, &org)
                .await?
                .ok_or_else(|| format!("no organisation {org}"))?;
            let zone = accounts::set_time_zone(&state.db, organization_id, &time_zone).await?;
            println!("{org}'s dates are in {}", zone.name());
        }
        OrgCommand::SetRetention { org, hours } => {
            let organization_id = accounts::find_organization(&state.db, &org)
                .await?
                .ok_or_else(|| format!("no organisation {org}"))?;
            let hours = crate::exports::lifecycle::valid_hours(hours)?;
            crate::exports::lifecycle::set_retention(&state.db, organization_id, hours, None).await?;
            println!(
                "{org} keeps completed export files for {}",
                crate::format::duration(std::time::Duration::from_secs(u64::from(hours) * 3600))
            );
        }
    }
    Ok(())
}

/// Structured logs on stdout; `RUST_LOG` filters, `LOG_FORMAT=json` switches to JSON lines.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(std::io::stdout().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
