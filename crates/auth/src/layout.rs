//! The built-in issuer's two URL layouts.
//!
//! * The root layout: `/.well-known/openid-configuration`, `/oauth2/token`, `/oauth2/authorize`,
//!   `/oauth2/keys`; the issuer is the service's base URL.
//! * Entra ID's layout below a tenant segment, which MSAL and Azure.Identity build from an
//!   authority plus a tenant: `/{tenant}/v2.0/.well-known/openid-configuration`,
//!   `/{tenant}/oauth2/v2.0/token`, `/{tenant}/oauth2/v2.0/authorize`,
//!   `/{tenant}/discovery/v2.0/keys`; the issuer is `{base}/{tenant}/v2.0`, as Entra's v2.0
//!   tokens name theirs.

/// Tenant segments that stand for any tenant, as in Entra ID: a token requested through them
/// carries the client's (or user's) own tenant.
pub const ANY_TENANT: [&str; 2] = ["common", "organizations"];

/// Which layout a request to the built-in issuer came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout<'a> {
    /// The root endpoints.
    Root,
    /// Entra ID's endpoints below this tenant segment (a tenant name, or one of [`ANY_TENANT`]).
    Tenant(&'a str),
}

/// The issuer of tokens for `tenant` in Entra's layout: `{base}/{tenant}/v2.0`.
pub fn tenant_issuer(base: &str, tenant: &str) -> String {
    format!("{}/{tenant}/v2.0", base.trim_end_matches('/'))
}

impl Layout<'_> {
    /// Whether a client or user of `tenant` may be served through this layout.
    pub fn admits(&self, tenant: &str) -> bool {
        match self {
            Layout::Root => true,
            Layout::Tenant(t) => *t == tenant || self.is_any_tenant(),
        }
    }

    /// Whether the tenant segment is one of [`ANY_TENANT`].
    pub fn is_any_tenant(&self) -> bool {
        matches!(self, Layout::Tenant(t) if ANY_TENANT.contains(t))
    }

    /// The `iss` of a token for `tenant` issued through this layout.
    pub fn issuer(&self, base: &str, tenant: &str) -> String {
        match self {
            Layout::Root => base.to_string(),
            Layout::Tenant(_) => tenant_issuer(base, tenant),
        }
    }

    /// The issuer announced by discovery: for a tenant segment naming any tenant, Entra's
    /// template `{base}/{tenantid}/v2.0`.
    pub fn announced_issuer(&self, base: &str) -> String {
        match self {
            Layout::Root => base.to_string(),
            Layout::Tenant(_) if self.is_any_tenant() => tenant_issuer(base, "{tenantid}"),
            Layout::Tenant(t) => tenant_issuer(base, t),
        }
    }

    /// The authorization endpoint's URL.
    pub fn authorize_url(&self, base: &str) -> String {
        self.oauth_url(base, "authorize")
    }

    /// The token endpoint's URL.
    pub fn token_url(&self, base: &str) -> String {
        self.oauth_url(base, "token")
    }

    /// The JWKS URL.
    pub fn keys_url(&self, base: &str) -> String {
        match self {
            Layout::Root => format!("{base}/oauth2/keys"),
            Layout::Tenant(t) => format!("{base}/{t}/discovery/v2.0/keys"),
        }
    }

    fn oauth_url(&self, base: &str, endpoint: &str) -> String {
        match self {
            Layout::Root => format!("{base}/oauth2/{endpoint}"),
            Layout::Tenant(t) => format!("{base}/{t}/oauth2/v2.0/{endpoint}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_entra_below_a_tenant_and_stay_put_at_the_root() {
        let base = "https://dw.example.com";
        let acme = Layout::Tenant("acme");
        assert_eq!(
            acme.token_url(base),
            "https://dw.example.com/acme/oauth2/v2.0/token"
        );
        assert_eq!(
            acme.authorize_url(base),
            "https://dw.example.com/acme/oauth2/v2.0/authorize"
        );
        assert_eq!(
            acme.keys_url(base),
            "https://dw.example.com/acme/discovery/v2.0/keys"
        );
        assert_eq!(
            acme.issuer(base, "acme"),
            "https://dw.example.com/acme/v2.0"
        );
        assert_eq!(
            Layout::Root.token_url(base),
            "https://dw.example.com/oauth2/token"
        );
        assert_eq!(Layout::Root.issuer(base, "acme"), base);
    }

    #[test]
    fn any_tenant_segments_admit_every_tenant_and_announce_a_template() {
        let common = Layout::Tenant("common");
        assert!(common.admits("acme") && common.admits("globex"));
        assert_eq!(
            common.announced_issuer("https://h"),
            "https://h/{tenantid}/v2.0"
        );
        assert_eq!(common.issuer("https://h", "acme"), "https://h/acme/v2.0");
        let acme = Layout::Tenant("acme");
        assert!(acme.admits("acme") && !acme.admits("globex"));
        assert!(Layout::Root.admits("globex"));
    }
}
