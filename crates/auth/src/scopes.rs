//! What a token or authorization request's `scope` asks for.
//!
//! Entra-style clients (MSAL, Azure.Identity) name the resource in the scope:
//! `{resource}/.default`, or `{resource}/{permission}` for a delegated permission; the token's
//! audience is then that resource, which must be one of the service's audiences (compared without
//! a trailing `/` and ignoring ASCII case, so `https://host/.default` and `https://host//.default`
//! both name `https://host/`). A bare permission (`get_data_warehouse`), or no scope at all, asks
//! for the service's first audience. A delegated request may add the OpenID Connect scopes.

use crate::oauth_error::OAuthError;

/// Whether a token is for an application itself or for a signed-in user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Client credentials: app roles.
    App,
    /// Authorization code: delegated scope.
    Delegated,
}

/// OpenID Connect scopes a delegated request may carry. `openid` brings an ID token, `profile`
/// the user name in it; `email` and `offline_access` are accepted and not granted (there are no
/// e-mail addresses and no refresh tokens).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The outcome of reading a `scope` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    /// The token's audience: one of the service's audiences, spelled as configured.
    pub audience: String,
    /// The scope item that named the resource (`https://host/.default`), as the request wrote
    /// it: the response grants it back in the same words, so clients that cache tokens by the
    /// scopes they asked for (MSAL) find them again.
    pub resource_scope: Option<String>,
    /// `openid` was asked for: the response carries an ID token.
    pub openid: bool,
    /// `profile` was asked for: the ID token names the user.
    pub profile: bool,
}

fn invalid_scope(description: String) -> OAuthError {
    OAuthError::new(400, "invalid_scope", description)
}

fn same_resource(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Reads `scope` for `flow`; `permission` is the scope (delegated) or role (app) that grants
/// access; `audiences` are the service's, the first being the default.
pub(crate) fn read(
    scope: Option<&str>,
    flow: Flow,
    permission: &str,
    audiences: &[String],
) -> Result<Requested, OAuthError> {
    let default = audiences.first().cloned().unwrap_or_default();
    let mut requested = Requested {
        audience: default.clone(),
        resource_scope: None,
        openid: false,
        profile: false,
    };
    let shown = default.trim_end_matches('/');
    let accepted = || match flow {
        Flow::App => format!("'{shown}/.default' or '{permission}'"),
        Flow::Delegated => format!(
            "'{shown}/.default', '{shown}/{permission}' or '{permission}', with {}",
            OIDC_SCOPES.join(", ")
        ),
    };
    for item in scope.unwrap_or("").split_ascii_whitespace() {
        if item == permission {
            continue;
        }
        if flow == Flow::Delegated && OIDC_SCOPES.contains(&item) {
            requested.openid |= item == "openid";
            requested.profile |= item == "profile";
            continue;
        }
        let resource = match item.rsplit_once('/') {
            Some((resource, ".default")) => resource,
            Some((resource, p)) if p == permission && flow == Flow::Delegated => resource,
            _ => {
                return Err(invalid_scope(format!(
                    "scope '{item}' cannot be granted; ask for {}",
                    accepted()
                )))
            }
        };
        let audience = audiences
            .iter()
            .find(|a| same_resource(a, resource))
            .ok_or_else(|| {
                invalid_scope(format!(
                    "resource '{resource}' is not served here; ask for {}",
                    accepted()
                ))
            })?;
        if requested
            .resource_scope
            .as_deref()
            .and_then(|r| r.rsplit_once('/'))
            .is_some_and(|(r, _)| !same_resource(r, resource))
        {
            return Err(invalid_scope(
                "a token is for one resource; ask for one at a time".into(),
            ));
        }
        requested.audience = audience.clone();
        requested.resource_scope = Some(item.to_string());
    }
    Ok(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audiences() -> Vec<String> {
        vec![
            "https://dw.example.com/".into(),
            "https://dw.example.com".into(),
            "api://device-warehouse".into(),
        ]
    }

    const P: &str = "get_data_warehouse";

    #[test]
    fn dot_default_names_the_audience_with_or_without_a_slash() {
        for scope in [
            "https://dw.example.com/.default",
            "https://dw.example.com//.default",
            "HTTPS://DW.EXAMPLE.COM/.default",
        ] {
            let r = read(Some(scope), Flow::App, P, &audiences()).unwrap();
            assert_eq!(r.audience, "https://dw.example.com/", "{scope}");
        }
        let r = read(
            Some("api://device-warehouse/.default"),
            Flow::App,
            P,
            &audiences(),
        )
        .unwrap();
        assert_eq!(r.audience, "api://device-warehouse");
        assert_eq!(
            r.resource_scope.as_deref(),
            Some("api://device-warehouse/.default")
        );
    }

    #[test]
    fn no_scope_or_the_bare_permission_ask_for_the_first_audience() {
        for scope in [None, Some(""), Some(P)] {
            let r = read(scope, Flow::App, P, &audiences()).unwrap();
            assert_eq!(r.audience, "https://dw.example.com/");
            assert_eq!(r.resource_scope, None);
        }
    }

    #[test]
    fn delegated_requests_take_the_permission_by_resource_and_oidc_scopes() {
        let r = read(
            Some("https://dw.example.com/get_data_warehouse openid profile offline_access"),
            Flow::Delegated,
            P,
            &audiences(),
        )
        .unwrap();
        assert_eq!(r.audience, "https://dw.example.com/");
        assert!(r.openid && r.profile);
        // OIDC scopes are for users only
        let e = read(Some("openid"), Flow::App, P, &audiences()).unwrap_err();
        assert_eq!(e.error, "invalid_scope");
    }

    #[test]
    fn foreign_resources_other_permissions_and_two_resources_are_refused() {
        for scope in [
            "https://graph.microsoft.com/.default",
            "https://dw.example.com/Directory.Read",
            "write_everything",
            "https://dw.example.com/.default api://device-warehouse/.default",
        ] {
            let e = read(Some(scope), Flow::Delegated, P, &audiences()).unwrap_err();
            assert_eq!((e.status, e.error), (400, "invalid_scope"), "{scope}");
        }
        let e = read(
            Some("https://graph.microsoft.com/.default"),
            Flow::App,
            P,
            &audiences(),
        )
        .unwrap_err();
        assert!(
            e.description
                .contains("'https://dw.example.com/.default' or"),
            "{}",
            e.description
        );
    }
}
