//! A corpus of requests that uses every query option and the combinations the tests use. Both
//! stores must answer it with identical bytes (`postgres.rs`), and the answers must not change
//! from one build to the next unless a commit says why (`answers.rs`, `fixtures/answers.txt`).

/// Percent-encodes a query option's value.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `body` with each entity's `@odata.etag` written as `W/"*"`: an ETag names the publication,
/// which holds the time it was published, so it differs between stores and runs.
pub fn without_etags(body: &str) -> String {
    const ETAG: &str = "\"@odata.etag\":\"W/\\\"";
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find(ETAG) {
        out.push_str(&rest[..at + ETAG.len()]);
        rest = &rest[at + ETAG.len()..];
        let end = rest.find("\\\"").unwrap_or(rest.len());
        out.push('*');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The request corpus: every collection, counts, keys, and filters with every operator and
/// function, orderings, selects and paging over several collections.
pub fn requests() -> Vec<String> {
    let mut out = Vec::new();
    // the documents that describe the service, in each version
    for version in ["v1.0", "beta"] {
        out.push(format!("?api-version={version}"));
        out.push(format!("/$metadata?api-version={version}"));
        out.push(format!("/$metadata?api-version={version}&$format=json"));
        out.push(format!("/openapi.json?api-version={version}"));
    }
    for c in warehouse::Warehouse::get().collections.iter() {
        out.push(format!("/{}?api-version=beta", c.name));
        out.push(format!("/{}/$count?api-version=beta", c.name));
    }
    let filters = [
        "deviceKey eq 5",
        "deviceKey ne 5 and deviceKey lt 20",
        "deviceKey gt 100 or deviceKey le 2",
        "not (deviceKey ge 3)",
        "deviceKey in (1, 7, 9999)",
        "isDeleted eq true",
        "isDeleted",
        "not isDeleted",
        "androidSecurityPatchLevel eq null",
        "androidSecurityPatchLevel ne null",
        "androidSecurityPatchLevel gt '2000'",
        "not (androidSecurityPatchLevel gt '2000')",
        "startswith(deviceName,'DESKTOP')",
        "endswith(deviceName,'A')",
        "contains(model,'Pro')",
        "tolower(manufacturer) eq 'apple'",
        "toupper(manufacturer) eq 'HP'",
        "length(deviceName) gt 13",
        "indexof(deviceName,'-') eq 3",
        "substring(deviceName, 0, 3) eq 'MAC'",
        "substring(deviceName, 8) eq 'A1'",
        "concat(manufacturer, model) eq 'AppleiPhone 15'",
        "trim(concat(' ', osVersion)) eq '18.5'",
        "enrolledDateTime ge 2026-10-15T00:00:00Z",
        "enrolledDateTime lt 2026-10-15T02:00:00+02:00",
        "enrolledDateTime ge 2026-10-01",
        "year(enrolledDateTime) eq 2026 and month(enrolledDateTime) eq 10",
        "day(enrolledDateTime) eq 1",
        "hour(enrolledDateTime) lt 6",
        "minute(enrolledDateTime) ge 30",
        "second(enrolledDateTime) lt 10",
        "date(enrolledDateTime) eq 2026-10-20",
        "time(enrolledDateTime) lt 06:00:00",
        "fractionalseconds(enrolledDateTime) lt 0.5",
        "totaloffsetminutes(enrolledDateTime) eq 0",
        "totalStorageSpaceInBytes div 1073741824 eq 128",
        "totalStorageSpaceInBytes mod 3 eq 1",
        "deviceKey mod 7 eq 0",
        "freeStorageSpaceInBytes mul 3 add 1 sub 1 eq totalStorageSpaceInBytes",
        "-deviceKey gt -3",
        "deviceKey divby 2 eq 2.5",
        "deviceKey div 0 eq 1",
        "cast(deviceKey, Edm.String) eq '42'",
        "cast(deviceName, Edm.Int32) eq null",
        "cast(isDeleted, Edm.String) eq 'true'",
        "isof(deviceName, Edm.String)",
        "isof(deviceKey, Edm.String)",
        "round(deviceKey divby 10) eq 3",
        "floor(deviceKey divby 10) eq 3",
        "ceiling(deviceKey divby 10) eq 4",
        "deviceName eq 'it''s not there'",
        "enrolledDateTime lt now()",
        "enrolledDateTime lt maxdatetime()",
        "deviceKey add 0.5 gt 10.25",
        "totalStorageSpaceInBytes gt 1e11",
        "lastSyncDateTime gt enrolledDateTime",
        "userId eq null or startswith(userId, 'a')",
        "deviceCategoryKey in (1, 2) and ownerTypeKey eq 2",
        "deviceKey lt 20 and true",
        "(isDeleted or false) and not (true and deviceKey ge 3)",
    ];
    for f in filters {
        out.push(format!(
            "/devices?api-version=v1.0&$filter={}&$select=deviceKey,deviceName,enrolledDateTime",
            enc(f)
        ));
        out.push(format!(
            "/devices/$count?api-version=v1.0&$filter={}",
            enc(f)
        ));
    }
    let orders = [
        "deviceName",
        "deviceName desc",
        "lastSyncDateTime desc,deviceKey",
        "androidSecurityPatchLevel,osVersion desc",
        "tolower(model),deviceKey desc",
        "totalStorageSpaceInBytes,enrolledDateTime desc",
    ];
    for o in orders {
        for top in ["", "&$top=7", "&$skip=13&$top=60"] {
            out.push(format!("/devices?api-version=v1.0&$orderby={}&$select=deviceKey,deviceName,model,lastSyncDateTime{top}&$count=true", enc(o)));
        }
    }
    for (c, f) in [
        (
            "devicePropertyHistories",
            "complianceStateKey eq 2 and dateKey ge 20261025",
        ),
        ("users", "isDeleted eq false and intuneLicensed"),
        ("appRevisions", "endDateExclusiveUTC eq null"),
        ("enrollmentActivities", "count gt 1 or osVersion eq '14'"),
        ("userDeviceAssociations", "endedDateTimeUTC ne null"),
        ("policies", "policyVersion gt 1"),
        ("mamCheckins", "lastCheckInDate ge 2026-10-30T12:00:00Z"),
    ] {
        out.push(format!("/{c}?api-version=v1.0&$filter={}", enc(f)));
        out.push(format!(
            "/{c}?api-version=v1.0&maxhistorydays=3&$count=true"
        ));
    }
    for key in [
        "devices(7)",
        "devices(7)/deviceName",
        "devices(7)/enrolledDateTime/$value",
        "devicePropertyHistories(dateKey=20261101,deviceKey=9)",
        "users(3)",
        "devices(99999)",
    ] {
        out.push(format!("/{key}?api-version=v1.0"));
    }
    out.push("/devices?api-version=v1.0&$format=application/json;odata.metadata=full;IEEE754Compatible=true&$top=5".into());
    out.push("/devices?api-version=v1.0&$filter=nope%20eq%201".into());
    // $expand: joined dimensions, with paging, filters on the main entity and full metadata
    for e in [
        "deviceType,deviceCategory($select=deviceCategoryName)",
        "*",
        "user($select=userEmail,intuneLicensed)",
    ] {
        out.push(format!(
            "/devices?api-version=v1.0&$select=deviceKey,deviceName&$expand={}&$filter={}&$top=40",
            enc(e),
            enc("deviceKey gt 5")
        ));
    }
    out.push(format!(
        "/devicePropertyHistories?api-version=v1.0&$expand={}&$orderby={}&$top=25&$format=application/json;odata.metadata=full",
        enc("device($select=deviceName),complianceState"),
        enc("dateKey desc,deviceKey")
    ));
    out.push("/devices(7)?api-version=v1.0&$expand=deviceType".into());
    // expanded collections: nested options, expansions inside them (date-times and Booleans
    // through each store's JSON), counts, the bound and its next link, multi-step paths
    for (set, e) in [
        ("users", "userDeviceAssociations($expand=device($select=deviceName,enrolledDateTime,azureADRegistered);$count=true)"),
        ("devices", "devicePropertyHistories($filter=complianceStateKey ne 2;$orderby=osVersion desc;$top=3;$skip=1;$count=true)"),
        ("deviceCategories", "devicePropertyHistories($select=dateKey,deviceKey,azureADRegistered,physicalMemoryInBytes)"),
        ("devices", "devicePropertyHistories/$count,userDeviceAssociations($select=userKey)"),
        ("userDeviceAssociations", "device/deviceType,user($select=userKey)"),
        ("devices", "deviceType($filter=deviceTypeName eq 'Windows'),devicePropertyHistories($search=\"10.0\" OR iPhone;$top=3)"),
        ("devices", "devicePropertyHistories($compute=totalStorageSpaceInBytes div 3.0 as third,physicalMemoryInBytes div 1073741824 as gb;$orderby=gb desc;$top=2),deviceType($compute=concat(deviceTypeName,'!') as loud)"),
    ] {
        out.push(format!(
            "/{set}?api-version=v1.0&$expand={}&$top=20&$format=application/json;odata.metadata=full;IEEE754Compatible=true",
            enc(e)
        ));
    }
    // navigation paths in $filter and $orderby
    for (f, o) in [
        ("deviceType/deviceTypeName eq 'Windows'", "deviceKey"),
        (
            "deviceCategory/deviceCategoryName ne null",
            "deviceCategory/deviceCategoryName desc,deviceKey",
        ),
        (
            "startswith(ownerType/ownerTypeName, 'C')",
            "managementState/managementStateName,deviceKey desc",
        ),
    ] {
        out.push(format!(
            "/devices?api-version=v1.0&$select=deviceKey,deviceName&$filter={}&$orderby={}&$top=30&$count=true",
            enc(f),
            enc(o)
        ));
    }
    // $apply: filters, groupings over navigation paths, aggregations and the options after them
    for (set, apply, more) in [
        ("devicePropertyHistories", "filter(dateKey ge 20261020)/groupby((dateKey,complianceStateKey),aggregate($count as n))", ""),
        ("devicePropertyHistories", "groupby((dateKey))", "&maxhistorydays=3"),
        ("devices", "groupby((deviceType/deviceTypeName),aggregate($count as devices,totalStorageSpaceInBytes with sum as storage,manufacturer with countdistinct as makers))", ""),
        ("devices", "groupby((manufacturer),aggregate($count as n))", "&$filter=n%20ge%202&$orderby=manufacturer%20desc&$count=true&$skip=1&$top=2"),
        ("devices", "filter(deviceKey lt 30)", "&$select=deviceKey"),
        ("devices", "aggregate(totalStorageSpaceInBytes with average as mean,freeStorageSpaceInBytes with min as least,freeStorageSpaceInBytes with max as most)", ""),
        ("devices", "groupby((deviceType/deviceTypeName,ownerType/ownerTypeName),aggregate($count as n))", "&$orderby=n%20desc&$format=application/json;odata.metadata=full"),
        ("devices", "compute(totalStorageSpaceInBytes div 1073741824 as gb)/groupby((gb),aggregate($count as n))", ""),
        ("devices", "filter(devicePropertyHistories/any(h: h/complianceStateKey eq 4))/aggregate($count as n)", ""),
    ] {
        out.push(format!("/{set}?api-version=v1.0&$apply={}{more}", enc(apply)));
    }
    out.push(format!(
        "/devicePropertyHistories?api-version=v1.0&$apply={}&@from=20261025&@least=3",
        enc("filter(dateKey ge @from)/groupby((deviceKey),aggregate($count as days))/filter(days ge @least)")
    ));
    // $search, $compute and lambda operators
    for search in [
        "iPhone",
        "\"10.0\" OR iPhone",
        "NOT Windows AND Apple",
        "DESKTOP*",
    ] {
        out.push(format!(
            "/devices?api-version=v1.0&$search={}&$select=deviceKey,deviceName&$count=true",
            enc(search)
        ));
    }
    out.push(format!(
        "/devices?api-version=v1.0&$compute={}&$filter={}&$orderby={}&$select=deviceKey,storageGB,freePercent,label",
        enc("totalStorageSpaceInBytes div 1073741824 as storageGB,freeStorageSpaceInBytes mul 100 divby totalStorageSpaceInBytes as freePercent,concat(manufacturer,concat(' ',model)) as label"),
        enc("storageGB ge 64"),
        enc("freePercent desc,storageGB")
    ));
    for f in [
        "devicePropertyHistories/any(h: h/complianceStateKey eq 4)",
        "devicePropertyHistories/all(h: h/complianceStateKey eq 2)",
        "devicePropertyHistories/any(h: h/osVersion ne osVersion)",
        "devicePropertyHistories/any()",
        "userDeviceAssociations/any(a: a/user/intuneLicensed)",
    ] {
        out.push(format!(
            "/devices?api-version=v1.0&$filter={}&$select=deviceKey&$count=true",
            enc(f)
        ));
    }
    // $at: history dimensions by the validity of their rows, facts by the day's rows
    for q in [
        "policies?api-version=v1.0&$at=2026-10-15&$count=true",
        "appRevisions?api-version=v1.0&$at=2026-10-20T08:00:00Z&$select=appKey,title&$orderby=title",
        "mamApplications/$count?api-version=v1.0&$at=max",
        "devicePropertyHistories?api-version=v1.0&$at=2026-10-28&$filter=deviceKey%20lt%2030&maxhistorydays=3",
        "compliancePolicyStatusDeviceActivities?api-version=v1.0&$at=2026-10-28&$count=true",
        "policyDeviceActivities?api-version=v1.0&$at=2026-10-28&$apply=aggregate(succeeded%20with%20sum%20as%20s)",
        "devices?api-version=v1.0&$at=2026-10-12",
        "policies?api-version=v1.0&$at=2026-10-32",
        "devicePropertyHistories?api-version=v1.0&$at=2026-09-30",
        // devices as of a day, from their daily history
        "devices?api-version=v1.0&$at=2026-10-25&$select=deviceKey,deviceName,osVersion,model&$top=30",
        "devices(5)?api-version=v1.0&$at=2026-10-25",
        "devices?api-version=v1.0&$at=2026-10-30&$filter=complianceStateKey%20eq%202&$count=true&$expand=deviceType&$top=10",
        "devices?api-version=v1.0&$at=2026-10-30&$apply=groupby((complianceStateKey),aggregate($count%20as%20n))",
        "devices/$count?api-version=v1.0&$at=2026-10-24",
        "devices?api-version=v1.0&$from=2026-10-24",
        // every state in a period
        "policies?api-version=v1.0&$from=2026-10-14&$to=2026-10-21&$select=policyKey,policyId,policyVersion",
        "userDeviceAssociations?api-version=v1.0&$from=2026-10-25&$toInclusive=2026-10-26",
        "devicePropertyHistories?api-version=v1.0&$from=2026-10-30&$toInclusive=2026-10-31&$filter=deviceKey%20lt%2010",
        "policies?api-version=v1.0&$from=2026-10-21&$at=2026-10-22",
        // temporal options in expansions
        "devices?api-version=v1.0&$at=2026-10-27&$top=5&$select=deviceKey&$expand=devicePropertyHistories($select=dateKey,osVersion)",
        "devices?api-version=v1.0&$top=5&$select=deviceKey&$expand=devicePropertyHistories($from=2026-10-25;$toInclusive=2026-10-27;$select=dateKey;$count=true)",
        "users?api-version=v1.0&$top=20&$select=userKey&$expand=userDeviceAssociations($at=2026-10-28;$select=deviceKey)",
        "devices?api-version=v1.0&$expand=deviceType($at=2026-10-15)",
    ] {
        out.push(format!("/{q}"));
    }
    out
}
