//! `edgetoken-origin`: serve HTTP, or run a maintenance command.

use clap::Parser;
use edgetoken_origin::app::{self, App};
use edgetoken_origin::clock::SystemClock;
use edgetoken_origin::config::{Cli, Command};
use edgetoken_origin::store::Role;
use edgetoken_origin::{http, passwords};
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("edgetoken-origin: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgetoken-origin: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let app = App::open(cli.config, Arc::new(SystemClock))?;
    match cli.command {
        Some(Command::CreateUser { email, role }) => {
            let role = Role::parse(&role).ok_or("--role must be user or admin")?;
            let (password, generated) = match std::env::var("EDGETOKEN_NEW_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (passwords::generate(), true),
            };
            passwords::acceptable(&password)?;
            let user = app.create_user(&email, &password, role).map_err(|e| e.to_string())?;
            println!("created {} {} (id {})", user.role.as_str(), user.email, user.id);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        Some(Command::RotateKey) => {
            let c = &app.config;
            let grace = c.access_ttl + c.clock_tolerance + c.revocation_ttl;
            let kid = app.keys.rotate(app.store.as_ref(), app.now(), grace).map_err(|e| e.to_string())?;
            println!("new signing key {kid}; running origins pick it up within {} s", c.revocation_interval);
            Ok(())
        }
        None => serve(app).await,
    }
}

async fn serve(app: Arc<App>) -> Result<(), String> {
    if app.config.demo {
        let users = app.ensure_demo_users().map_err(|e| e.to_string())?;
        println!("demo accounts (passwords generated for this start):");
        for (email, password, role) in users {
            println!("  {:<5}  {email}  {password}", role.as_str());
        }
    }
    let listener = tokio::net::TcpListener::bind(app.config.listen).await.map_err(|e| format!("bind {}: {e}", app.config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("edgetoken-origin listening on http://{addr} (issuer {}, db {})", app.config.issuer, app.config.db.display());
    app::spawn_background(&app);
    tokio::select! {
        r = http::serve(listener, app.clone()) => r.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => {
            println!("edgetoken-origin: shutting down");
            Ok(())
        }
    }
}
