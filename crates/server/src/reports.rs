//! The reports site at `/reports/`: a page, its script and its style sheet, embedded in the
//! binary and served with a strict Content-Security-Policy (no inline script or style, no
//! `eval`, requests to this origin only, never framed). The page signs in with the built-in
//! issuer and reads everything it shows from the OData API with the user's token.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

/// Where the site is served.
pub const REPORTS_PATH: &str = "/reports/";

/// The public client the site signs users in as (authorization code with PKCE): it must be
/// registered with `{public URL}/reports/` as a redirect URI (`serve --demo` does it).
pub const REPORTS_CLIENT: &str = "dw-reports";

const INDEX: &str = include_str!("../reports/index.html");
const SCRIPT: &str = include_str!("../reports/app.js");
const STYLE: &str = include_str!("../reports/app.css");

/// What the site's responses may load and do.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// `/reports`: the site's address with its trailing slash (relative links resolve under it).
pub async fn without_slash() -> Redirect {
    Redirect::permanent(REPORTS_PATH)
}

/// `/reports/`: the page.
pub async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// `/reports/app.js`: the page's script.
pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `/reports/app.css`: the page's style sheet.
pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    security_headers(h);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The headers every page of the site (the sign-in page too) carries.
pub fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}
