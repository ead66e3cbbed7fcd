//! Administrative commands: tenants, clients, users, signing keys, tokens.

use crate::auth_setup;
use crate::error::{CliError, CliResult};
use crate::settings::CommonArgs;
use crate::settings::{Overrides, Settings};
use auth::{ClientKind, KeyRing, Registry};
use clap::{Args, Subcommand};
use std::io::BufRead;

/// `dw tenants ...`
#[derive(Subcommand)]
pub enum TenantsCommand {
    /// Create an empty tenant.
    Add {
        /// Tenant name (what tokens carry in `tid`, or what [[auth.issuers]] map directory ids to).
        name: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// List tenants with their newest snapshot.
    List {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Delete a tenant and all of its data.
    Remove {
        /// Tenant name.
        name: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `dw clients ...`
#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints a confidential client's secret once.
    Add {
        /// `client_id`.
        id: String,
        /// Redirect URI for the authorization code flow (repeatable). An `http` loopback URI
        /// (`http://localhost`) admits any port, for applications that pick one at run time.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Also accept `Authorization: Basic` with this client's id and secret (TLS or loopback only).
        #[arg(long, conflicts_with = "public")]
        allow_basic: bool,
        /// A public client: no secret, users sign in with the authorization code flow and PKCE
        /// (desktop and command-line applications, MSAL's PublicClientApplication).
        #[arg(long, requires = "redirect_uris")]
        public: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// List clients (never secrets).
    List {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Remove a client.
    Remove {
        /// `client_id`.
        id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `dw users ...`
#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add or replace a user; the password is read from standard input (one line).
    Add {
        /// User name.
        name: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Remove a user.
    Remove {
        /// User name.
        name: String,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `dw keys ...`
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; the old one stays published until its tokens expire.
    Rotate {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// List signing keys.
    List {
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `dw token`
#[derive(Args)]
pub struct TokenArgs {
    /// The client the token is for.
    #[arg(long)]
    client: String,
    /// Public base URL of the service (the token's issuer and audience). [default: from settings]
    #[arg(long)]
    public_url: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

fn load(common: &CommonArgs) -> CliResult<Settings> {
    Settings::load(common.config.as_deref(), &Overrides::from_common(common))
}

fn edit_registry(
    settings: &Settings,
    f: impl FnOnce(&mut Registry) -> CliResult<()>,
) -> CliResult<()> {
    let file = auth_setup::registry_file(settings)?;
    // from the read to the write: two commands at once are serialised, so neither undoes the
    // other's change (a removal undone by an add left a compromised client valid)
    let _lock = safe_files::lock(&file).map_err(CliError::io_doing(format!(
        "cannot lock {}",
        file.display()
    )))?;
    let mut registry = Registry::load(&file)?;
    f(&mut registry)?;
    registry.save(&file)?;
    eprintln!(
        "saved {}; a running server picks this up on SIGHUP or restart",
        file.display()
    );
    Ok(())
}

/// `dw tenants`
pub fn tenants(c: TenantsCommand) -> CliResult<()> {
    match c {
        TenantsCommand::Add { name, common } => {
            let store = crate::settings::open_store(&load(&common)?)?;
            let t = store.create_tenant(&name)?;
            println!("tenant '{}' (id {})", t.name, t.id);
        }
        TenantsCommand::List { common } => {
            let store = crate::settings::open_store(&load(&common)?)?;
            for t in store.tenants()? {
                let snap = t
                    .snapshot_date_key
                    .map_or("no data yet".to_string(), |d| format!("snapshot {d}"));
                println!("{}\t{snap}\tgeneration {}", t.name, t.generation);
            }
        }
        TenantsCommand::Remove { name, yes, common } => {
            if !yes {
                return Err(CliError::Failed(format!(
                    "this deletes tenant '{name}' and all its data; add --yes to confirm"
                )));
            }
            let store = crate::settings::open_store(&load(&common)?)?;
            if !store.remove_tenant(&name)? {
                return Err(CliError::Failed(format!("no tenant '{name}'")));
            }
            println!("removed tenant '{name}'");
        }
    }
    Ok(())
}

/// `dw clients`
pub fn clients(c: ClientsCommand) -> CliResult<()> {
    match c {
        ClientsCommand::Add {
            id,
            redirect_uris,
            allow_basic,
            public,
            common,
        } => {
            let settings = load(&common)?;
            let tenant = settings.tenant.clone();
            let kind = match (public, allow_basic) {
                (true, _) => ClientKind::Public,
                (false, true) => ClientKind::ConfidentialWithBasic,
                (false, false) => ClientKind::Confidential,
            };
            let mut secret = None;
            edit_registry(&settings, |r| {
                secret = r.add_client(&id, &tenant, redirect_uris, kind)?;
                Ok(())
            })?;
            println!("client_id:     {id}");
            match secret {
                Some(secret) => {
                    println!("client_secret: {secret}");
                    eprintln!("the secret is shown only now; it is stored as an Argon2 hash");
                }
                None => eprintln!("a public client: no secret, PKCE only"),
            }
        }
        ClientsCommand::List { common } => {
            for c in auth_setup::registry(&load(&common)?)?.clients {
                let kind = if c.secret_hash.is_some() {
                    "confidential"
                } else {
                    "public"
                };
                println!(
                    "{}\ttenant {}\t{kind}\tbasic {}\t{}",
                    c.id,
                    c.tenant,
                    c.allow_basic,
                    c.redirect_uris.join(" ")
                );
            }
        }
        ClientsCommand::Remove { id, common } => edit_registry(&load(&common)?, |r| {
            let before = r.clients.len();
            r.clients.retain(|c| c.id != id);
            if r.clients.len() == before {
                return Err(CliError::Failed(format!(
                    "no client '{id}' in the registry file"
                )));
            }
            Ok(())
        })?,
    }
    Ok(())
}

/// `dw users`
pub fn users(c: UsersCommand) -> CliResult<()> {
    match c {
        UsersCommand::Add { name, common } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(CliError::io_doing("reading the password"))?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.len() < 8 {
                return Err(CliError::Failed(
                    "give a password of at least 8 characters on standard input".into(),
                ));
            }
            let settings = load(&common)?;
            let tenant = settings.tenant.clone();
            edit_registry(&settings, |r| {
                r.set_user(&name, password, &tenant);
                Ok(())
            })?;
            println!("user '{name}' can sign in for tenant '{tenant}'");
        }
        UsersCommand::List { common } => {
            for u in auth_setup::registry(&load(&common)?)?.users {
                println!("{}\ttenant {}", u.username, u.tenant);
            }
        }
        UsersCommand::Remove { name, common } => edit_registry(&load(&common)?, |r| {
            let before = r.users.len();
            r.users.retain(|u| u.username != name);
            if r.users.len() == before {
                return Err(CliError::Failed(format!(
                    "no user '{name}' in the registry file"
                )));
            }
            Ok(())
        })?,
    }
    Ok(())
}

/// `dw keys`
pub fn keys(c: KeysCommand) -> CliResult<()> {
    let (KeysCommand::Rotate { common } | KeysCommand::List { common }) = &c;
    let settings = load(common)?;
    let ring = KeyRing::open(&auth_setup::keys_file(&settings)?)?;
    if let KeysCommand::Rotate { .. } = c {
        let kid = ring.rotate()?;
        let pruned = ring.prune(settings.issuer.token_lifetime_secs)?;
        println!("signing with new key {kid}; {pruned} expired key(s) removed");
        eprintln!("running servers use the new key after SIGHUP or restart; tokens signed with the old key stay valid until they expire");
    }
    for (kid, created, retired) in ring.list() {
        let state = retired.map_or("current".to_string(), |r| format!("retired at {r}"));
        println!("{kid}\tcreated {created}\t{state}");
    }
    Ok(())
}

/// `dw token`
pub fn token(a: TokenArgs) -> CliResult<()> {
    let mut settings = load(&a.common)?;
    if a.public_url.is_some() {
        settings.public_url = a.public_url.clone();
    }
    let base = settings.base_url(None);
    let service = auth_setup::token_service(&settings, &base)?.ok_or_else(|| {
        CliError::Usage("the built-in token service is disabled ([issuer] enabled = false)".into())
    })?;
    let t = service
        .token_for_client(&a.client)
        .map_err(|e| CliError::Failed(e.description))?;
    println!("{}", t.access_token);
    Ok(())
}

/// What the demo creates the first time it starts: the secret of `demo-client` and the
/// password of the user `demo` (shown once, stored hashed).
pub struct DemoCredentials {
    /// `demo-client`'s secret.
    pub client_secret: String,
    /// The user `demo`'s password, for the reports site's sign-in.
    pub user_password: String,
}

/// Creates, when no client exists yet, the demo tenant's `demo-client`, the public client
/// `dw-reports` of the reports site (redirected back to `base`'s `/reports/`) and the user
/// `demo`; returns their credentials.
pub fn ensure_demo_client(settings: &Settings, base: &str) -> CliResult<Option<DemoCredentials>> {
    if !auth_setup::registry(settings)?.clients.is_empty() {
        return Ok(None);
    }
    let mut credentials = None;
    edit_registry(settings, |r| {
        let client_secret = r
            .add_client(
                "demo-client",
                &settings.tenant,
                Vec::new(),
                ClientKind::ConfidentialWithBasic,
            )?
            .unwrap_or_default();
        r.add_client(
            server::REPORTS_CLIENT,
            &settings.tenant,
            vec![format!("{base}{}", server::REPORTS_PATH)],
            ClientKind::Public,
        )?;
        let user_password = auth::secrets::generate_secret();
        r.set_user("demo", &user_password, &settings.tenant);
        credentials = Some(DemoCredentials {
            client_secret,
            user_password,
        });
        Ok(())
    })?;
    Ok(credentials)
}
