//! Graph snapshot folders of a synthetic tenant, as `dw ingest --from DIR` reads them: what
//! `dw bench --ingest` measures and the crash tests kill. Day 0 is a tenant's first day; day 1
//! changes some of it, as a real second day does.

/// Writes a Graph snapshot folder (NDJSON) of `devices` devices, 1.25 as many users and every
/// other source for day `day` (0 or 1); day 1 changes the compliance of 3% of devices, retires 1%,
/// enrolls 1% new ones, and removes the license of 2% of users. Returns how many devices it holds.
pub fn write_snapshot(dir: &std::path::Path, devices: u32, day: u32) -> Result<u32, String> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(dir.join("managedDevices.ndjson")).map_err(|e| e.to_string())?,
    );
    let extra = if day == 1 { devices / 100 } else { 0 };
    let mut written = 0;
    for i in 0..devices + extra {
        if day == 1 && i % 100 == 7 {
            continue; // retired
        }
        let os = ["Windows", "iOS", "Android", "macOS"][(i % 4) as usize];
        let category = ["Laptops", "Phones", "Kiosks"][(i % 3) as usize];
        let compliance = if day == 1 && i % 33 == 0 {
            "noncompliant"
        } else {
            [
                "compliant",
                "compliant",
                "compliant",
                "inGracePeriod",
                "noncompliant",
            ][(i % 5) as usize]
        };
        let record = serde_json::json!({
            "id": format!("00000000-0000-4000-8000-{i:012}"), "deviceName": format!("DEVICE-{i:06}"),
            "operatingSystem": os, "osVersion": "10.0.22631.5335", "complianceState": compliance,
            "managedDeviceOwnerType": if i % 3 == 0 { "personal" } else { "company" }, "managementAgent": "mdm",
            "deviceEnrollmentType": "windowsAzureADJoin", "deviceRegistrationState": "registered",
            "enrolledDateTime": "2026-03-02T08:15:00Z", "lastSyncDateTime": if day == 0 { "2026-10-31T22:01:12Z" } else { "2026-11-01T22:01:12Z" },
            "azureADRegistered": true, "azureADDeviceId": format!("aad-{i}"), "deviceCategoryDisplayName": category,
            "manufacturer": "LENOVO", "model": "ThinkPad T14", "serialNumber": format!("SN{i:08}"), "userId": format!("u-{}", i % (devices * 5 / 4)),
            "totalStorageSpaceInBytes": 511_013_322_752u64, "freeStorageSpaceInBytes": 201_013_322_752u64, "physicalMemoryInBytes": 17_179_869_184u64,
            "isEncrypted": true, "jailBroken": "Unknown"
        });
        writeln!(out, "{record}").map_err(|e| e.to_string())?;
        written += 1;
    }
    let mut users = std::io::BufWriter::new(
        std::fs::File::create(dir.join("users.ndjson")).map_err(|e| e.to_string())?,
    );
    for i in 0..devices * 5 / 4 {
        let licensed = !(day == 1 && i % 50 == 3);
        let licenses = if licensed {
            serde_json::json!([{"skuId": "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"}])
        } else {
            serde_json::json!([])
        };
        let record = serde_json::json!({"id": format!("u-{i}"), "displayName": format!("User {i}"), "userPrincipalName": format!("user{i}@contoso.com"), "mail": format!("user{i}@contoso.com"), "assignedLicenses": licenses});
        writeln!(users, "{record}").map_err(|e| e.to_string())?;
    }
    write_other_sources(dir, devices, day)?;
    Ok(written)
}

/// Writes `records` as NDJSON to `dir/name.ndjson`, creating folders.
fn write_ndjson(
    dir: &std::path::Path,
    name: &str,
    records: impl Iterator<Item = serde_json::Value>,
) -> Result<(), String> {
    use std::io::Write;
    let path = dir.join(format!("{name}.ndjson"));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| e.to_string())?);
    for r in records {
        writeln!(out, "{r}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

/// The other Graph sources of a bench snapshot, sized like a real tenant of `devices` devices:
/// 10 policies with a status per device of their platform (and per user for profiles), 6 apps
/// with install statuses, terms acceptances by every user, app protection on half the devices, the
/// management extension on Windows devices, 5 detected apps on each Windows device, and a few
/// hundred enrollment failures.
fn write_other_sources(dir: &std::path::Path, devices: u32, day: u32) -> Result<(), String> {
    let t = Tenant { devices, day };
    write_policies(dir, &t)?;
    write_apps(dir, &t)?;
    write_terms(dir, &t)?;
    write_device_sources(dir, &t)
}

/// The synthetic tenant of a snapshot: its size and which day it is (0 or 1).
struct Tenant {
    devices: u32,
    day: u32,
}

impl Tenant {
    /// The devices of the day: day 1 retires 1% and enrolls 1% new ones.
    fn all(&self) -> impl Iterator<Item = u32> + Clone + '_ {
        let extra = if self.day == 1 { self.devices / 100 } else { 0 };
        (0..self.devices + extra).filter(move |i| !(self.day == 1 && i % 100 == 7))
    }

    /// Device `i`'s Graph id.
    fn device_id(&self, i: u32) -> String {
        format!("00000000-0000-4000-8000-{i:012}")
    }

    /// The user of device `i`.
    fn user_of(&self, i: u32) -> u32 {
        i % (self.devices * 5 / 4)
    }

    /// The operating system of troubleshooting event `n`.
    fn os_of(&self, n: u32) -> &'static str {
        ["Windows", "iOS", "Android", "macOS"][(n % 4) as usize]
    }
}

/// Compliance policies (one per platform) and configuration profiles (six), with each
/// device's status and, for profiles, each user's.
fn write_policies(dir: &std::path::Path, t: &Tenant) -> Result<(), String> {
    use serde_json::json;
    let platform_types = [
        ("windows10", 0u32),
        ("ios", 1),
        ("android", 2),
        ("macOS", 3),
    ];
    let mut policies = Vec::new();
    let mut profiles = Vec::new();
    for (n, (prefix, platform)) in platform_types.iter().enumerate() {
        policies.push((
            format!("c0a10000-0000-4000-8000-{n:012}"),
            format!("{prefix}CompliancePolicy"),
            *platform,
        ));
    }
    for (n, (prefix, platform)) in [
        platform_types[0],
        platform_types[0],
        platform_types[0],
        platform_types[1],
        platform_types[2],
        platform_types[3],
    ]
    .iter()
    .enumerate()
    {
        profiles.push((
            format!("c0f10000-0000-4000-8000-{n:012}"),
            format!("{prefix}GeneralConfiguration"),
            *platform,
        ));
    }
    let states = [
        "compliant",
        "compliant",
        "compliant",
        "compliant",
        "nonCompliant",
        "error",
        "unknown",
    ];
    for (collection, list) in [
        ("deviceCompliancePolicies", &policies),
        ("deviceConfigurations", &profiles),
    ] {
        write_ndjson(
            dir,
            collection,
            list.iter().map(|(id, ty, _)| {
                json!({"@odata.type": format!("#microsoft.graph.{ty}"), "id": id, "displayName": ty, "version": 1 + t.day, "createdDateTime": "2026-01-01T00:00:00Z"})
            }),
        )?;
        for (id, _, platform) in list.iter() {
            let platform = *platform;
            write_ndjson(
                dir,
                &format!("{collection}/{id}/deviceStatuses"),
                t.all().filter(move |i| i % 4 == platform).map(|i| {
                    json!({"id": format!("{}_{id}", t.device_id(i)), "deviceId": t.device_id(i), "deviceDisplayName": format!("DEVICE-{i:06}"), "status": states[((i / 4 + t.day) % 7) as usize], "userPrincipalName": format!("user{}@contoso.com", t.user_of(i)), "complianceGracePeriodExpirationDateTime": "0001-01-01T00:00:00Z"})
                }),
            )?;
            if collection == "deviceConfigurations" {
                write_ndjson(
                    dir,
                    &format!("{collection}/{id}/userStatuses"),
                    t.all().filter(move |i| i % 4 == platform).map(|i| {
                        json!({"id": format!("u-{}_{id}", t.user_of(i)), "userDisplayName": format!("User {}", t.user_of(i)), "devicesCount": 1, "status": states[((i / 4) % 7) as usize], "userPrincipalName": format!("user{}@contoso.com", t.user_of(i))})
                    }),
                )?;
            }
        }
    }
    Ok(())
}

/// Six apps and each device's install status of the apps of its platform.
fn write_apps(dir: &std::path::Path, t: &Tenant) -> Result<(), String> {
    use serde_json::json;
    let apps = [
        ("win32LobApp", 0u32),
        ("officeSuiteApp", 0),
        ("iosStoreApp", 1),
        ("managedIOSStoreApp", 1),
        ("androidStoreApp", 2),
        ("managedAndroidStoreApp", 2),
    ];
    write_ndjson(
        dir,
        "mobileApps",
        apps.iter().enumerate().map(|(n, (ty, _))| {
            json!({"@odata.type": format!("#microsoft.graph.{ty}"), "id": format!("a0000000-0000-4000-8000-{n:012}"), "displayName": format!("App {n}"), "publisher": "Contoso", "createdDateTime": "2026-01-01T00:00:00Z", "lastModifiedDateTime": if t.day == 1 && n == 0 { "2026-11-02T09:00:00Z" } else { "2026-01-01T00:00:00Z" }, "uploadState": 1, "bundleId": format!("com.contoso.app{n}")})
        }),
    )?;
    let install = [
        "installed",
        "installed",
        "installed",
        "installed",
        "failed",
        "pendingInstall",
        "notInstalled",
    ];
    for (n, (_, platform)) in apps.iter().enumerate() {
        let platform = *platform;
        write_ndjson(
            dir,
            &format!("mobileApps/a0000000-0000-4000-8000-{n:012}/deviceStatuses"),
            t.all().filter(move |i| i % 4 == platform).map(|i| {
                let state = install[((i / 4 + n as u32) % 7) as usize];
                json!({"id": format!("s-{i}"), "deviceId": t.device_id(i), "deviceName": format!("DEVICE-{i:06}"), "installState": state, "errorCode": if state == "failed" { -2016345060 } else { 0 }})
            }),
        )?;
    }
    Ok(())
}

/// One terms and conditions document, accepted by every user.
fn write_terms(dir: &std::path::Path, t: &Tenant) -> Result<(), String> {
    use serde_json::json;
    let terms = "7e000000-0000-4000-8000-000000000001";
    write_ndjson(
        dir,
        "termsAndConditions",
        std::iter::once(
            json!({"id": terms, "displayName": "Acceptable use", "version": 1, "createdDateTime": "2026-01-01T00:00:00Z"}),
        ),
    )?;
    write_ndjson(
        dir,
        &format!("termsAndConditions/{terms}/acceptanceStatuses"),
        (0..t.devices * 5 / 4).map(|u| {
            json!({"id": format!("{terms}_u-{u}"), "acceptedVersion": 1, "acceptedDateTime": format!("2026-10-{:02}T10:00:00Z", 1 + u % 30), "userPrincipalName": format!("user{u}@contoso.com")})
        }),
    )?;
    Ok(())
}

/// Enrollment failures, app protection registrations, the management extension's health and
/// detected apps.
fn write_device_sources(dir: &std::path::Path, t: &Tenant) -> Result<(), String> {
    use serde_json::json;
    write_ndjson(
        dir,
        "troubleshootingEvents",
        (0..t.devices / 200).map(|n| {
            json!({"@odata.type": "#microsoft.graph.enrollmentTroubleshootingEvent", "id": format!("e-{}-{n}", t.day), "eventDateTime": format!("2026-11-0{}T{:02}:00:00Z", t.day + 1, n % 24), "operatingSystem": t.os_of(n), "osVersion": "10.0", "enrollmentType": "userEnrollment", "failureCategory": "authorization", "failureReason": "UserNotLicensed"})
        }),
    )?;
    write_ndjson(
        dir,
        "managedAppRegistrations",
        t.all().filter(|i| i % 4 == 1 || i % 4 == 2).map(|i| {
            let ios = i % 4 == 1;
            json!({"@odata.type": if ios { "#microsoft.graph.iosManagedAppRegistration" } else { "#microsoft.graph.androidManagedAppRegistration" }, "id": format!("r-{i}"), "createdDateTime": "2026-03-02T08:15:00Z", "lastSyncDateTime": format!("2026-11-0{}T12:00:00Z", t.day + 1), "applicationVersion": "4.2440.0", "managementSdkVersion": "19.8.0", "platformVersion": "18.1", "deviceType": "phone", "deviceTag": format!("tag-{i}"), "deviceName": format!("DEVICE-{i:06}"), "flaggedReasons": [], "userId": format!("u-{}", t.user_of(i)), "appIdentifier": if ios { json!({"bundleId": "com.microsoft.Office.Outlook"}) } else { json!({"packageId": "com.microsoft.office.outlook"}) }})
        }),
    )?;
    write_ndjson(
        dir,
        "windowsManagementAppHealthStates",
        t.all().filter(|i| i % 4 == 0).map(|i| {
            json!({"id": t.device_id(i), "healthState": if i % 20 == 0 { "unhealthy" } else { "healthy" }, "installedVersion": "1.83.107.0", "deviceName": format!("DEVICE-{i:06}")})
        }),
    )?;
    write_ndjson(
        dir,
        "detectedApps",
        ["7-Zip", "Google Chrome", "Zoom Workplace", "Notepad++", "Microsoft Edge"]
            .iter()
            .map(|name| {
                let on: Vec<serde_json::Value> = t.all().filter(|i| i % 4 == 0).map(|i| json!({"id": t.device_id(i)})).collect();
                json!({"id": name, "displayName": name, "version": "1.0", "sizeInByte": 5_600_000, "managedDevices": on})
            }),
    )
}
