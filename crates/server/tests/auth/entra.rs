//! Entra ID: templated issuers of v1 and v2 tokens, and the built-in issuer under Entra's URL layout (discovery, keys, tokens, ID tokens, unsupported options).

use super::*;

#[test]
fn entra_style_issuer_templates_accept_v1_and_v2_tokens_of_allowed_directories() {
    let e = env();
    let template = |path: &str| IssuerSettings {
        issuer: format!("{}/{path}", e.issuer.url),
        discovery_url: None,
        jwks_uri: Some(format!("{}/keys", e.issuer.url)),
        tenant_claim: "tid".into(),
        tenants: [("dir-a".to_string(), "tenant-a".to_string())].into(),
    };
    let settings = AuthSettings {
        issuers: vec![template("{tenantid}/v2.0"), template("sts/{tenantid}/")],
        authorization_uri: Some("https://login.microsoftonline.com/common/oauth2/authorize".into()),
        ..AuthSettings::default()
    };
    let server = support::start(store_with_two_tenants("entra"), 10, settings, registry());
    let url = format!("{}/devices/$count?api-version=v1.0", server.root);
    let token = |iss: String, tid: &str| {
        let mut c = claims(tid);
        c["iss"] = json!(iss);
        c["aud"] = json!(format!("{}/", server.base));
        sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &c)
    };
    let call = |t: &str| {
        send(
            "GET",
            &url,
            &[("Authorization", &format!("Bearer {t}"))],
            None,
        )
    };
    let v2 = call(&token(format!("{}/dir-a/v2.0", e.issuer.url), "dir-a"));
    assert_eq!((v2.status, v2.body.as_str()), (200, "40"));
    assert_eq!(
        call(&token(format!("{}/sts/dir-a/", e.issuer.url), "dir-a")).status,
        200,
        "v1 issuer form"
    );
    assert_eq!(
        call(&token(format!("{}/dir-a/v2.0", e.issuer.url), "dir-b")).status,
        401,
        "iss must name the token's own directory"
    );
    assert_eq!(
        call(&token(format!("{}/dir-b/v2.0", e.issuer.url), "dir-b")).status,
        403,
        "directory not listed"
    );
    let challenge = send("GET", &url, &[], None)
        .header("www-authenticate")
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(
            "authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\""
        ),
        "{challenge}"
    );
}

#[test]
fn entra_layout_publishes_discovery_keys_and_tokens_per_tenant() {
    let base = &env().server.base;
    let discovery = |tenant: &str| {
        send(
            "GET",
            &format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
            &[],
            None,
        )
    };
    let doc = discovery("tenant-a").json();
    assert_eq!(doc["issuer"], format!("{base}/tenant-a/v2.0"));
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/tenant-a/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/tenant-a/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{base}/tenant-a/discovery/v2.0/keys")
    );
    let keys = send("GET", doc["jwks_uri"].as_str().unwrap(), &[], None).json();
    let root_keys = send("GET", &format!("{base}/oauth2/keys"), &[], None).json();
    assert!(!keys["keys"].as_array().unwrap().is_empty());
    assert_eq!(keys, root_keys, "one key set for both layouts");
    assert_eq!(
        discovery("common").json()["issuer"],
        format!("{base}/{{tenantid}}/v2.0"),
        "any-tenant segments announce Entra's template"
    );
    let unknown = discovery("no-such-tenant");
    assert_eq!(
        (unknown.status, unknown.json()["error"].as_str()),
        (400, Some("invalid_tenant"))
    );
    // the root layout is unchanged
    assert_eq!(
        send(
            "GET",
            &format!("{base}/.well-known/openid-configuration"),
            &[],
            None
        )
        .json()["issuer"],
        base.as_str()
    );

    let token_at = |tenant: &str, id: &str, secret: &str, scope: &str| {
        send(
            "POST",
            &format!("{base}/{tenant}/oauth2/v2.0/token"),
            &[],
            Some(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", scope),
                ("client_info", "1"),
            ]),
        )
    };
    let default_scope = format!("{base}/.default");
    let r = token_at("tenant-a", "client-a", "secret-a", &default_scope);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json().get("client_info").is_none(),
        "applications have no account"
    );
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let claims = jwt_claims(&token);
    assert_eq!(claims["iss"], format!("{base}/tenant-a/v2.0"));
    assert_eq!(claims["aud"], format!("{base}/"));
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &token).body,
        "40",
        "the Entra-layout token is accepted and reads its tenant"
    );
    let r = token_at("tenant-a", "client-b", "secret-b", &default_scope);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("unauthorized_client")),
        "a client of another tenant"
    );
    let r = token_at("organizations", "client-b", "secret-b", &default_scope);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_claims(&token)["iss"], format!("{base}/tenant-b/v2.0"));
    assert_eq!(get("/devices/$count?api-version=v1.0", &token).body, "25");
    let r = token_at(
        "tenant-a",
        "client-a",
        "secret-a",
        "https://graph.microsoft.com/.default",
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains(&default_scope),
        "{}",
        r.body
    );
    // the root token endpoint reads the resource the same way
    let r = send(
        "POST",
        &format!("{base}/oauth2/token"),
        &[],
        Some(&[
            ("grant_type", "client_credentials"),
            ("client_id", "client-a"),
            ("client_secret", "secret-a"),
            ("scope", &format!("{base}//.default")),
        ]),
    );
    let claims = jwt_claims(r.json()["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some(base.as_str()), Some(format!("{base}/").as_str()))
    );
}

#[test]
fn entra_layout_signs_users_in_with_an_id_token() {
    let base = &env().server.base;
    let verifier = "entra-layout-verifier-with-enough-entropy-0123456789abcdefghij";
    let challenge =
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let scope = format!("{base}/.default openid profile offline_access");
    let params = [
        ("response_type", "code"),
        ("client_id", "web-app"),
        ("redirect_uri", "http://127.0.0.1/callback"),
        ("scope", scope.as_str()),
        ("state", "s-1"),
        ("nonce", "n-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let authorize = |tenant: &str| format!("{base}/{tenant}/oauth2/v2.0/authorize");
    let page = send(
        "GET",
        &format!(
            "{}?{}",
            authorize("tenant-b"),
            form_urlencoded_like(&params)
        ),
        &[],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"name="nonce" value="n-123""#));
    let mut form = params.to_vec();
    form.push(("username", "alice"));
    form.push(("password", "correct horse battery"));
    let elsewhere = send("POST", &authorize("tenant-a"), &[], Some(&form));
    assert_eq!(elsewhere.status, 401, "alice is not in tenant-a");
    assert!(elsewhere.body.contains("does not belong to this tenant"));
    let r = send("POST", &authorize("tenant-b"), &[], Some(&form));
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_string();
    let query: std::collections::HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(query["state"], "s-1");
    let r = send(
        "POST",
        &format!("{base}/tenant-b/oauth2/v2.0/token"),
        &[],
        Some(&[
            ("grant_type", "authorization_code"),
            ("client_id", "web-app"),
            ("code", &query["code"]),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("code_verifier", verifier),
            ("scope", &scope),
            ("client_info", "1"),
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(
        body["scope"],
        format!("{base}/.default openid profile"),
        "granted as asked; no offline_access (no refresh tokens)"
    );
    assert!(body.get("refresh_token").is_none());
    let id = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], format!("{base}/tenant-b/v2.0"));
    assert_eq!(id["aud"], "web-app");
    assert_eq!(id["nonce"], "n-123");
    assert_eq!(id["preferred_username"], "alice");
    assert_eq!(id["tid"], "tenant-b");
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info, json!({ "uid": "alice", "utid": "tenant-b" }));
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(token)["scp"], "get_data_warehouse");
    assert_eq!(get("/devices/$count?api-version=v1.0", token).body, "25");
}

#[test]
fn unsupported_entra_options_are_named_in_the_error() {
    let base = &env().server.base;
    let r = send(
        "POST",
        &format!("{base}/tenant-a/oauth2/v2.0/token"),
        &[],
        Some(&[
            ("grant_type", "client_credentials"),
            ("client_id", "client-a"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
        ]),
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_client"))
    );
    assert!(r.body.contains("use a client secret"), "{}", r.body);
    let page = send(
        "GET",
        &format!(
            "{base}/tenant-b/oauth2/v2.0/authorize?{}",
            form_urlencoded_like(&[
                ("response_type", "code"),
                ("client_id", "web-app"),
                ("redirect_uri", "http://127.0.0.1/callback"),
                ("response_mode", "form_post"),
                ("code_challenge", &"c".repeat(43)),
                ("code_challenge_method", "S256"),
            ])
        ),
        &[],
        None,
    );
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("response_mode must be query"),
        "{}",
        page.body
    );
}
