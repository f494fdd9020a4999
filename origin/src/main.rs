//! `edgetoken-origin`: serve HTTP, or run a maintenance command.

use clap::Parser;
use edgetoken_origin::app::{self, App};
use edgetoken_origin::clock::SystemClock;
use edgetoken_origin::config::{Cli, Command};
use edgetoken_origin::keys::EmergencyError;
use edgetoken_origin::store::{Role, WithdrawTarget};
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
            let r = app.keys.rotate(app.store.as_ref(), app.now()).map_err(|e| e.to_string())?;
            let verb = if r.created { "published next signing key" } else { "a next signing key is already pending:" };
            println!("{verb} {}; it starts signing at {} (unix time)", r.next.kid, r.next.activates_at);
            Ok(())
        }
        Some(Command::EmergencyRotate { kid, all, revoke_sessions }) => {
            let target = match (kid, all) {
                (Some(kid), _) => WithdrawTarget::Kid(kid),
                (None, true) => WithdrawTarget::All,
                (None, false) => WithdrawTarget::Active,
            };
            let e = app.keys.emergency(app.store.as_ref(), app.now(), target, revoke_sessions).map_err(|e| match e {
                EmergencyError::UnknownKid => "no published or pending key has this kid; nothing changed".to_string(),
                EmergencyError::RetryLater => "kill switches in quick succession; nothing changed, retry in a second".to_string(),
                EmergencyError::Store(e) => e.to_string(),
            })?;
            println!("withdrawn: {}", e.withdrawn.join(", "));
            println!(
                "new active signing key {}; global not_before {}; sessions revoked {}",
                e.kid, e.not_before, e.sessions_revoked
            );
            println!("running origins apply it within {} s (--revocation-interval)", app.config.revocation_interval);
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
