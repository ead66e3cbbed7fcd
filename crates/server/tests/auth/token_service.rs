//! The built-in token service: RFC 6749 token endpoint, authorization code with PKCE, HTTP Basic client credentials.

use super::*;

#[test]
fn token_endpoint_follows_rfc_6749() {
    let base = &env().server.base;
    let token_url = format!("{base}/oauth2/token");
    let basic = format!("Basic {}", STANDARD.encode("client-a:secret-a"));
    let r = send(
        "POST",
        &token_url,
        &[("Authorization", &basic)],
        Some(&[("grant_type", "client_credentials")]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.json();
    assert_eq!(
        (t["token_type"].as_str(), t["expires_in"].as_i64()),
        (Some("Bearer"), Some(3600))
    );
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                t["access_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    for claim in ["iss", "aud", "sub", "tid", "roles", "exp", "iat", "jti"] {
        assert!(payload.get(claim).is_some(), "{claim} in {payload}");
    }
    assert_eq!(payload["tid"], "tenant-a");
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Pairs, Pairs, u16, &str)> = vec![
        (
            vec![],
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "client-a"),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![],
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "x"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![],
            vec![
                ("grant_type", "password"),
                ("client_id", "client-a"),
                ("client_secret", "secret-a"),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![],
            vec![("client_id", "client-a"), ("client_secret", "secret-a")],
            400,
            "invalid_request",
        ),
        (
            vec![("Authorization", basic.as_str())],
            vec![
                ("grant_type", "client_credentials"),
                ("client_secret", "secret-a"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![],
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "client-a"),
                ("client_secret", "secret-a"),
                ("scope", "Mail.Read"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![],
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "web-app"),
                ("code", "made-up"),
                ("code_verifier", "x"),
                ("redirect_uri", "http://127.0.0.1/callback"),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (headers, form, status, error) in cases {
        let r = send("POST", &token_url, &headers, Some(&form));
        assert_eq!(
            (r.status, r.json()["error"].as_str().unwrap().to_string()),
            (status, error.to_string()),
            "{form:?}: {}",
            r.body
        );
    }
    // repeated failures from one address are rate-limited
    let mut limited = None;
    for _ in 0..8 {
        let r = send(
            "POST",
            &token_url,
            &[],
            Some(&[
                ("grant_type", "client_credentials"),
                ("client_id", "client-b"),
                ("client_secret", "guess"),
            ]),
        );
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("rate limited after repeated failures");
    assert!(r.header("retry-after").is_some());
    let d = send(
        "GET",
        &format!("{base}/.well-known/openid-configuration"),
        &[],
        None,
    )
    .json();
    assert_eq!(d["issuer"], base.as_str());
    let keys = send("GET", d["jwks_uri"].as_str().unwrap(), &[], None).json();
    assert_eq!(keys["keys"][0]["alg"], "ES256");
    assert!(
        keys["keys"][0].get("d").is_none(),
        "no private parts in the JWKS"
    );
}

#[test]
fn authorization_code_with_pkce_signs_a_user_in() {
    let base = &env().server.base;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";
    let challenge =
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let params = [
        ("response_type", "code"),
        ("client_id", "web-app"),
        ("redirect_uri", "http://127.0.0.1/callback"),
        ("scope", "get_data_warehouse"),
        ("state", "xyz"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = send(
        "GET",
        &format!("{base}/oauth2/authorize?{}", form_urlencoded_like(&params)),
        &[],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<form") && page.body.contains("name=\"password\""));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let bad_redirect = send(
        "GET",
        &format!(
            "{base}/oauth2/authorize?{}",
            form_urlencoded_like(&[
                ("response_type", "code"),
                ("client_id", "web-app"),
                ("redirect_uri", "https://evil.example.com/"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256")
            ])
        ),
        &[],
        None,
    );
    assert_eq!(
        bad_redirect.status, 400,
        "never redirects to an unregistered URI"
    );
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("username", "alice"));
    form.push(("password", "wrong password"));
    assert_eq!(
        send(
            "POST",
            &format!("{base}/oauth2/authorize"),
            &[],
            Some(&form)
        )
        .status,
        401
    );
    form.pop();
    form.push(("password", "correct horse battery"));
    let r = send(
        "POST",
        &format!("{base}/oauth2/authorize"),
        &[],
        Some(&form),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with("http://127.0.0.1/callback?code=") && location.ends_with("&state=xyz"),
        "{location}"
    );
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let exchange = |verifier: &str| {
        send(
            "POST",
            &format!("{base}/oauth2/token"),
            &[],
            Some(&[
                ("grant_type", "authorization_code"),
                ("client_id", "web-app"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1/callback"),
                ("code_verifier", verifier),
            ]),
        )
    };
    let r = exchange(verifier);
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(r.json()["scope"], "get_data_warehouse");
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &token).body,
        "25",
        "alice reads tenant-b"
    );
    assert_eq!(
        exchange(verifier).json()["error"],
        "invalid_grant",
        "a code is single-use"
    );
}

#[test]
fn basic_credentials_only_for_opted_in_clients() {
    let url = format!("{}/devices/$count?api-version=v1.0", env().server.root);
    let basic =
        |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let r = send(
        "GET",
        &url,
        &[("Authorization", &basic("basic-client", "basic-secret"))],
        None,
    );
    assert_eq!((r.status, r.body.as_str()), (200, "40"));
    assert_eq!(
        send(
            "GET",
            &url,
            &[("Authorization", &basic("client-a", "secret-a"))],
            None
        )
        .status,
        401,
        "not opted in"
    );
    assert_eq!(
        send(
            "GET",
            &url,
            &[("Authorization", &basic("basic-client", "wrong"))],
            None
        )
        .status,
        401
    );
}
