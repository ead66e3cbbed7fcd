//! ETags and `If-None-Match`: every entity and every successful response carries a validator
//! naming the tenant's publication; a client holding it gets `304 Not Modified` until the next
//! publication.

use super::*;

/// A GET of `url` with `headers`, with the fixture's token.
fn get_with(url: &str, headers: &[(&str, &str)]) -> Resp {
    request("GET", url, headers)
}

#[test]
fn entities_and_responses_carry_etags_and_if_none_match_answers_304() {
    let url = "/devices?api-version=v1.0&$top=3&$select=deviceKey,deviceName";
    let first = get(url);
    assert_eq!(first.status, 200, "{}", first.text());
    let tag = first.header("etag").expect("an ETag").to_string();
    assert!(tag.starts_with("W/\""), "{tag}");
    assert_eq!(first.header("cache-control"), Some("private, no-cache"));
    let body = first.json();
    let entity_tags: BTreeSet<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["@odata.etag"].as_str().expect("an entity ETag"))
        .collect();
    assert_eq!(entity_tags.len(), 1, "one publication: {entity_tags:?}");
    let entity_tag = entity_tags.into_iter().next().unwrap().to_string();

    // the same request with the validator: 304, no body, the same ETag
    let again = get_with(url, &[("If-None-Match", &tag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    // a list naming it, and its strong form, are taken too (weak comparison)
    let listed = format!("\"other\", {}", tag.trim_start_matches("W/"));
    assert_eq!(get_with(url, &[("If-None-Match", &listed)]).status, 304);
    // another request has another validator
    let other = "/devices?api-version=v1.0&$top=4&$select=deviceKey,deviceName";
    let r = get_with(other, &[("If-None-Match", &tag)]);
    assert_eq!(r.status, 200);
    assert_ne!(r.header("etag"), Some(tag.as_str()));
    // a stale or foreign validator, and `*`, read the rows
    for stale in ["W/\"0-0\"", "*", "garbage"] {
        assert_eq!(get_with(url, &[("If-None-Match", stale)]).status, 200);
    }

    // one entity: its ETag header is its @odata.etag, and If-None-Match with it is a 304
    let key = body["value"][0]["deviceKey"].as_u64().unwrap();
    let one = get(&format!("/devices({key})?api-version=v1.0"));
    assert_eq!(one.status, 200);
    assert_eq!(one.header("etag"), Some(entity_tag.as_str()));
    assert_eq!(one.json()["@odata.etag"], entity_tag.as_str());
    let r = get_with(
        &format!("/devices({key})?api-version=v1.0"),
        &[("If-None-Match", &entity_tag)],
    );
    assert_eq!(r.status, 304);
    // `*` does not hide that an entity is missing
    assert_eq!(
        get_with(
            "/devices(999999)?api-version=v1.0",
            &[("If-None-Match", "*")]
        )
        .status,
        404
    );
}

#[test]
fn etags_follow_the_metadata_level_expansions_and_aggregation() {
    // expanded entities carry it too; references and aggregated rows do not
    let v =
        get("/devicePropertyHistories?api-version=v1.0&$top=2&$expand=device($select=deviceName)")
            .json();
    let row = &v["value"][0];
    assert!(row["@odata.etag"].is_string(), "{row}");
    assert_eq!(row["device"]["@odata.etag"], row["@odata.etag"]);
    let v = get(&format!(
        "/devices?api-version=v1.0&$apply={}",
        enc("groupby((deviceTypeKey),aggregate($count as n))")
    ))
    .json();
    assert!(v["value"][0].get("@odata.etag").is_none(), "{v}");
    let key = row["deviceKey"].as_u64().unwrap();
    let v = get(&format!(
        "/devices({key})/userDeviceAssociations/$ref?api-version=v1.0"
    ))
    .json();
    for r in v["value"].as_array().unwrap() {
        assert!(r.get("@odata.etag").is_none(), "{r}");
    }
    // odata.metadata=none leaves control information out, the header stays
    let r = get_with(
        "/devices?api-version=v1.0&$top=1",
        &[("Accept", "application/json;odata.metadata=none")],
    );
    assert!(r.json()["value"][0].get("@odata.etag").is_none());
    assert!(r.header("etag").is_some());
    // full metadata writes it after the entity's id
    let text =
        get("/devices?api-version=v1.0&$top=1&$format=application/json;odata.metadata=full").text();
    let (id, etag) = (text.find("\"@odata.id\""), text.find("\"@odata.etag\""));
    assert!(id.is_some() && id < etag, "{text}");
    assert!(
        etag < text.find("\"deviceKey\""),
        "before the properties: {text}"
    );
}

#[test]
fn documents_and_counts_are_validated_and_the_clock_has_no_etag() {
    for url in [
        "/?api-version=v1.0",
        "/$metadata?api-version=v1.0",
        "/openapi.json?api-version=v1.0",
        "/devices/$count?api-version=v1.0",
    ] {
        let r = get(url);
        assert_eq!(r.status, 200, "{url}");
        let tag = r.header("etag").unwrap_or_else(|| panic!("{url}: an ETag"));
        let again = get_with(url, &[("If-None-Match", tag)]);
        assert_eq!(again.status, 304, "{url}");
        assert!(again.body.is_empty());
    }
    // the answer of a request reading now() changes without a publication: no validator
    let url = format!(
        "/devices?api-version=v1.0&$top=1&$filter={}",
        enc("lastSyncDateTime lt now()")
    );
    let r = get(&url);
    assert_eq!(r.status, 200);
    assert!(r.header("etag").is_none());
    // errors have none
    let r = get("/devices?api-version=v1.0&$top=x");
    assert_eq!(r.status, 400);
    assert!(r.header("etag").is_none());
}

#[test]
fn a_publication_changes_every_etag() {
    let store = testkit::fresh_store("etags");
    let publish = || {
        generate(
            store.as_ref(),
            &small_tenant(3),
            &warehouse::progress::NoProgress,
        )
        .unwrap()
    };
    publish();
    let server = support::start(
        store.clone(),
        10,
        auth::AuthSettings::default(),
        test_registry(),
    );
    let token = support::client_token(&server.base, "test-client", "test-secret");
    let bearer = format!("Bearer {token}");
    let root = server.root;
    let url = format!("{root}/devices?api-version=v1.0&$top=2");
    let first = request("GET", &url, &[("Authorization", bearer.as_str())]);
    let tag = first.header("etag").unwrap().to_string();
    let entity_tag = first.json()["value"][0]["@odata.etag"]
        .as_str()
        .unwrap()
        .to_string();
    let held = [("Authorization", bearer.as_str()), ("If-None-Match", &tag)];
    assert_eq!(request("GET", &url, &held).status, 304);
    publish();
    let after = request("GET", &url, &held);
    assert_eq!(after.status, 200, "a publication since: the rows are read");
    assert_ne!(after.header("etag"), Some(tag.as_str()));
    assert_ne!(
        after.json()["value"][0]["@odata.etag"].as_str(),
        Some(entity_tag.as_str())
    );
}
