//! Tokens of an external OIDC issuer: each algorithm accepted, every kind of bad token rejected with its reason, credentials missing, malformed or misplaced.

use super::*;

#[test]
fn external_tokens_with_each_algorithm_are_accepted() {
    let c = claims("dir-a");
    for (alg, kid, file) in [
        (Algorithm::RS256, "rsa-a", "rsa-a.pem"),
        (Algorithm::PS256, "rsa-a-ps", "rsa-a.pem"),
        (Algorithm::ES256, "ec", "ec.pem"),
        (Algorithm::EdDSA, "ed", "ed25519.pem"),
    ] {
        let r = get(DEVICES, &sign(alg, kid, file, &c));
        assert_eq!(r.status, 200, "{alg:?}: {}", r.body);
    }
    // Entra ID v1-style app-only token: roles instead of scp, appid instead of azp
    let mut app = claims("dir-b");
    app.as_object_mut().unwrap().remove("scp");
    app["roles"] = json!(["get_data_warehouse"]);
    assert_eq!(
        get(DEVICES, &sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &app)).status,
        200
    );
}

#[test]
fn rejects_alg_none() {
    let c = claims("dir-a");
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(c.to_string())
    );
    assert_rejected(&none, 401, "not a well-formed JWT");
}

#[test]
fn rejects_hs256_signed_with_the_public_key() {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("rsa-a".into());
    let confused = encode(
        &h,
        &claims("dir-a"),
        &EncodingKey::from_secret(fixture("rsa-a.pub.pem").as_bytes()),
    )
    .unwrap();
    assert_rejected(&confused, 401, "HS256");
}

#[test]
fn rejects_an_unknown_kid() {
    assert_rejected(
        &sign(
            Algorithm::RS256,
            "not-published",
            "rsa-b.pem",
            &claims("dir-a"),
        ),
        401,
        "not published",
    );
}

#[test]
fn rejects_a_wrong_signature() {
    assert_rejected(
        &sign(Algorithm::RS256, "rsa-a", "rsa-b.pem", &claims("dir-a")),
        401,
        "signature",
    );
    let good = good_token();
    // flip one character in the middle of the signature (the last one may only carry padding bits)
    let sig_start = good.rfind('.').unwrap() + 1;
    let middle = sig_start + (good.len() - sig_start) / 2;
    let flipped = if &good[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    assert_rejected(
        &format!("{}{flipped}{}", &good[..middle], &good[middle + 1..]),
        401,
        "signature",
    );
    // claims changed after signing
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged = claims("dir-a");
    forged["tid"] = json!("dir-b");
    assert_rejected(
        &format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged.to_string()),
            parts[2]
        ),
        401,
        "signature",
    );
}

#[test]
fn rejects_an_expired_token_beyond_the_clock_skew() {
    assert_rejected(
        &token_with(|c| c["exp"] = json!(now() - 3600)),
        401,
        "expired",
    );
    assert_eq!(
        get(DEVICES, &token_with(|c| c["exp"] = json!(now() - 60))).status,
        200,
        "within 5 minutes of skew"
    );
    assert_rejected(
        &token_with(|c| {
            c.as_object_mut().unwrap().remove("exp");
        }),
        401,
        "exp",
    );
}

#[test]
fn rejects_a_token_not_yet_valid() {
    assert_rejected(
        &token_with(|c| c["nbf"] = json!(now() + 3600)),
        401,
        "not valid yet",
    );
    assert_rejected(
        &token_with(|c| c["iat"] = json!(now() + 3600)),
        401,
        "issued in the future",
    );
}

#[test]
fn rejects_a_wrong_audience() {
    assert_rejected(
        &token_with(|c| c["aud"] = json!("https://graph.microsoft.com")),
        401,
        "not meant for this service",
    );
}

#[test]
fn rejects_a_wrong_issuer() {
    assert_rejected(
        &token_with(|c| c["iss"] = json!("https://evil.example.com")),
        401,
        "issuer is not trusted",
    );
}

#[test]
fn rejects_a_token_without_the_permission() {
    assert_rejected(
        &token_with(|c| c["scp"] = json!("User.Read")),
        403,
        "permission",
    );
}

#[test]
fn rejects_a_directory_that_is_not_allowed() {
    assert_rejected(
        &token_with(|c| c["tid"] = json!("dir-x")),
        403,
        "not allowed",
    );
}

#[test]
fn missing_malformed_and_misplaced_credentials() {
    let root = &env().server.root;
    let base = &env().server.base;
    for path in [
        format!("{root}?api-version=v1.0"),
        format!("{root}/$metadata?api-version=v1.0"),
        format!("{root}/devices?api-version=v1.0"),
    ] {
        for headers in [vec![], vec![("Authorization", "Bearer")]] {
            let r = send("GET", &path, &headers, None);
            assert_eq!(r.status, 401, "{path}");
            let challenge = r.header("www-authenticate").unwrap();
            // Power BI and Excel read the sign-in authority from here; no error code without a token
            assert!(
                challenge.contains(&format!("authorization_uri=\"{base}/oauth2/authorize\"")),
                "{challenge}"
            );
            assert!(
                challenge.contains(&format!("resource_id=\"{base}/\"")),
                "{challenge}"
            );
            assert!(!challenge.contains("error="), "{challenge}");
            assert_eq!(r.json()["error"]["code"], "Unauthorized");
        }
    }
    let token = &env().token_a;
    for bad in [
        "Bearer abc.def",
        "Bearer a b",
        "Bearer ....",
        "Basic !!!",
        "Negotiate xyz",
    ] {
        assert_eq!(
            send(
                "GET",
                &format!("{root}/devices?api-version=v1.0"),
                &[("Authorization", bad)],
                None
            )
            .status,
            401,
            "{bad}"
        );
    }
    let huge = format!("Bearer {}", "a".repeat(20_000));
    assert_eq!(
        send(
            "GET",
            &format!("{root}/devices?api-version=v1.0"),
            &[("Authorization", huge.as_str())],
            None
        )
        .status,
        401
    );
    let r = send(
        "GET",
        &format!("{root}/devices?api-version=v1.0&access_token={token}"),
        &[],
        None,
    );
    assert_eq!(r.status, 401);
    assert!(r.body.contains("query string"));
    assert!(
        !r.body.contains(token.as_str()),
        "the token is never echoed"
    );
    // health and discovery stay public
    assert_eq!(
        send("GET", &format!("{base}/healthz"), &[], None).status,
        200
    );
    assert_eq!(
        send(
            "GET",
            &format!("{base}/.well-known/openid-configuration"),
            &[],
            None
        )
        .status,
        200
    );
}
