//! Tenant isolation in one store, key rotation at the issuer without a restart, and an issuer
//! slow to publish its keys.

use super::*;

#[test]
fn tenants_never_see_each_others_rows() {
    let e = env();
    let a: BTreeSet<String> = all_device_ids(&e.token_a, "").into_iter().collect();
    let b: BTreeSet<String> = all_device_ids(&e.token_b, "").into_iter().collect();
    assert_eq!((a.len(), b.len()), (40, 25));
    assert!(a.is_disjoint(&b));
    // external tokens map directory tenants the same way
    let ext_b = sign(Algorithm::ES256, "ec", "ec.pem", &claims("dir-b"));
    assert_eq!(
        all_device_ids(&ext_b, "")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        b
    );
    // filters, orderings, counts and keys stay inside the caller's tenant
    let some_b = b.iter().next().unwrap();
    for q in [
        format!("&$filter=deviceId eq '{some_b}'"),
        "&$orderby=deviceName desc".into(),
        "&$filter=true".into(),
        "&$skip=3&$top=100".into(),
    ] {
        let q = q.replace(' ', "%20");
        assert!(
            all_device_ids(&e.token_a, &q)
                .iter()
                .all(|id| a.contains(id)),
            "{q}"
        );
    }
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &e.token_a).body,
        "40"
    );
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &e.token_b).body,
        "25"
    );
    let one_a = get("/devices(1)?api-version=v1.0", &e.token_a).json();
    assert!(a.contains(one_a["deviceId"].as_str().unwrap()));
    assert_eq!(
        get("/devices(30)?api-version=v1.0", &e.token_b).status,
        404,
        "B has 25 devices; A's device 30 is invisible"
    );
    for c in warehouse::Warehouse::get()
        .collections
        .iter()
        .filter(|c| c.in_version(warehouse::ApiVersion::Beta))
    {
        let count = |t: &str| get(&format!("/{}/$count?api-version=beta", c.name), t).body;
        let (ca, cb) = (count(&e.token_a), count(&e.token_b));
        assert!(
            ca.parse::<u64>().is_ok() && cb.parse::<u64>().is_ok(),
            "{}: {ca} {cb}",
            c.name
        );
    }
    // a skiptoken from B's paging is refused with A's token
    let page_b = get("/devices?api-version=v1.0", &e.token_b).json();
    let next_b = page_b["@odata.nextLink"].as_str().unwrap();
    let r = send(
        "GET",
        next_b,
        &[("Authorization", &format!("Bearer {}", e.token_a))],
        None,
    );
    assert_eq!(r.status, 400);
    // nothing in the request can choose the tenant
    let r = send(
        "GET",
        &format!(
            "{}/devices/$count?api-version=v1.0&tenant=tenant-b&tid=tenant-b",
            e.server.root
        ),
        &[
            ("Authorization", &format!("Bearer {}", e.token_a)),
            ("X-Tenant", "tenant-b"),
        ],
        None,
    );
    assert_eq!(r.body, "40");
}

#[test]
fn key_rotation_at_the_issuer_needs_no_restart_and_refetches_are_rate_limited() {
    let e = env();
    let c = claims("dir-a");
    assert_eq!(
        get(DEVICES, &sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &c)).status,
        200
    );
    e.issuer.jwks.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(jwk("rsa-b.pem", "rsa-b-2026", "RS256"));
    assert_eq!(
        get(
            DEVICES,
            &sign(Algorithm::RS256, "rsa-b-2026", "rsa-b.pem", &c)
        )
        .status,
        200,
        "new key found by refetch"
    );

    // a server that refetches at most once an hour does not hammer the issuer
    let mut slow_settings = settings(&e.issuer, 3600);
    slow_settings.issuers[0].jwks_uri = Some(format!("{}/keys-counted", e.issuer.url));
    let slow = support::start(
        store_with_two_tenants("slow"),
        10,
        slow_settings,
        registry(),
    );
    let mut for_slow = c.clone();
    for_slow["aud"] = json!(format!("{}/", slow.base));
    let token = sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &for_slow);
    let url = format!("{}/devices?api-version=v1.0", slow.root);
    let bearer = |t: &str| format!("Bearer {t}");
    assert_eq!(
        send("GET", &url, &[("Authorization", &bearer(&token))], None).status,
        200
    );
    let before = *e.issuer.fetches.lock().unwrap();
    let unknown = sign(Algorithm::RS256, "never-published", "rsa-b.pem", &for_slow);
    for _ in 0..5 {
        assert_eq!(
            send("GET", &url, &[("Authorization", &bearer(&unknown))], None).status,
            401
        );
    }
    assert_eq!(
        *e.issuer.fetches.lock().unwrap(),
        before,
        "no refetch within the minimum interval"
    );
}

#[test]
fn a_slow_issuer_holds_up_only_the_tokens_whose_keys_it_is_fetching() {
    let e = env();
    let mut slow_settings = settings(&e.issuer, 0);
    slow_settings.issuers[0].jwks_uri = Some(format!("{}/keys-slow", e.issuer.url));
    let server = support::start(
        store_with_two_tenants("slow-issuer"),
        10,
        slow_settings,
        registry(),
    );
    let url = format!("{}/devices/$count?api-version=v1.0", server.root);
    let token = |kid: &str, file: &str, sub: &str| {
        let mut c = claims("dir-a");
        c["aud"] = json!(format!("{}/", server.base));
        c["sub"] = json!(sub);
        sign(Algorithm::RS256, kid, file, &c)
    };
    let call = move |t: &str| {
        send(
            "GET",
            &url,
            &[("Authorization", &format!("Bearer {t}"))],
            None,
        )
        .status
    };
    // the first token waits for the first fetch
    assert_eq!(call(&token("rsa-a", "rsa-a.pem", "first")), 200);
    // a token signed with a key the issuer does not publish starts another slow fetch ...
    let unknown = token("not-published", "rsa-b.pem", "someone");
    let call2 = call.clone();
    let waiting = std::thread::spawn(move || call2(&unknown));
    std::thread::sleep(std::time::Duration::from_millis(500));
    // ... which a token signed with a known key does not wait for
    let started = std::time::Instant::now();
    assert_eq!(call(&token("rsa-a", "rsa-a.pem", "second")), 200);
    let took = started.elapsed();
    assert!(
        took < SLOW_ISSUER / 2,
        "a known key waited {took:?} for a fetch of {SLOW_ISSUER:?}"
    );
    assert_eq!(waiting.join().unwrap(), 401);
}
