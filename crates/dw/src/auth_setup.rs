//! Building the server's authentication from settings: the built-in issuer's keys and clients,
//! accepted audiences, and trusted external issuers.

use crate::error::{CliError, CliResult};
use crate::settings::Settings;
use auth::{KeyRing, Registry, TokenService, Validator};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the built-in issuer keeps its signing keys.
pub fn keys_file(settings: &Settings) -> CliResult<PathBuf> {
    Ok(settings.data_dir()?.join("signing-keys.json"))
}

/// Where `dw clients` and `dw users` keep clients and users.
pub fn registry_file(settings: &Settings) -> CliResult<PathBuf> {
    Ok(settings.data_dir()?.join("auth-registry.json"))
}

/// Clients and users from the registry file and the configuration.
pub fn registry(settings: &Settings) -> CliResult<Registry> {
    let file = Registry::load(&registry_file(settings)?)?;
    Ok(file.merged_with(&Registry {
        clients: settings.clients.clone(),
        users: settings.users.clone(),
    }))
}

/// The audiences tokens must carry: configured, or the service's base URL with and without `/`.
pub fn audiences(settings: &Settings, base_url: &str) -> Vec<String> {
    if settings.auth.audiences.is_empty() {
        vec![format!("{base_url}/"), base_url.to_string()]
    } else {
        settings.auth.audiences.clone()
    }
}

/// The built-in token service, when enabled.
pub fn token_service(settings: &Settings, base_url: &str) -> CliResult<Option<Arc<TokenService>>> {
    if !settings.issuer.enabled {
        return Ok(None);
    }
    let keys = Arc::new(KeyRing::open(&keys_file(settings)?)?);
    Ok(Some(Arc::new(TokenService::new(
        base_url,
        &audiences(settings, base_url),
        &settings.auth.scope,
        &settings.auth.role,
        settings.issuer.token_lifetime_secs,
        keys,
        registry(settings)?,
    ))))
}

/// The server's authentication state.
pub fn auth_state(settings: &Settings, base_url: &str, tls: bool) -> CliResult<server::AuthState> {
    let service = token_service(settings, base_url)?;
    let mut resource = settings.auth.clone();
    resource.audiences = audiences(settings, base_url);
    if service.is_none() && resource.issuers.is_empty() {
        return Err(CliError::Usage(
            "no token issuer is trusted: enable [issuer] or configure [[auth.issuers]]".into(),
        ));
    }
    let builtin = service
        .as_ref()
        .map(|s| (s.issuer(), s.keys().clone(), s.lifetime()));
    let validator = Validator::new(resource, builtin);
    Ok(server::AuthState {
        validator,
        service,
        tls,
        allow_plain_http_secrets: settings.issuer.allow_plain_http,
    })
}
