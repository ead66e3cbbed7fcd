//! Generated facts agree with the device histories.

use super::*;

#[test]
fn generated_facts_agree_with_device_histories() {
    let states: HashMap<u64, String> = get_ok("/complianceStates?api-version=v1.0")["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["complianceStateKey"].as_u64().unwrap(),
                s["complianceStatus"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let (histories, _) = all_rows(
        "/devicePropertyHistories?api-version=v1.0&$select=dateKey,complianceStateKey",
        &[],
    );
    let mut counted: HashMap<(u64, &str), i64> = HashMap::new();
    for h in &histories {
        let status = &states[&h["complianceStateKey"].as_u64().unwrap()];
        *counted
            .entry((
                h["dateKey"].as_u64().unwrap(),
                warehouse::compliance::bucket_of_state(status),
            ))
            .or_default() += 1;
    }
    let (facts, _) = all_rows(
        "/compliancePolicyStatusDeviceActivities?api-version=v1.0",
        &[],
    );
    assert_eq!(facts.len(), 30);
    for f in &facts {
        let day = f["dateKey"].as_u64().unwrap();
        for col in [
            "unknown",
            "notApplicable",
            "compliant",
            "inGracePeriod",
            "nonCompliant",
            "error",
        ] {
            assert_eq!(
                f[col].as_i64().unwrap(),
                *counted.get(&(day, col)).unwrap_or(&0),
                "{day} {col}"
            );
        }
    }
    // per-policy compliance counts add up to the device-level counts
    let (per_policy, _) = all_rows(
        "/compliancePolicyStatusDevicePerPolicyActivities?api-version=v1.0",
        &[],
    );
    for f in &facts {
        let day = f["dateKey"].as_u64().unwrap();
        let sum: i64 = per_policy
            .iter()
            .filter(|p| p["dateKey"].as_u64() == Some(day))
            .map(|p| p["compliant"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, f["compliant"].as_i64().unwrap());
    }
    // users keep history: every userId has exactly one live row at most
    let (users, _) = all_rows(
        "/users?api-version=v1.0&$filter=isDeleted%20eq%20false",
        &[],
    );
    let ids: BTreeSet<&str> = users
        .iter()
        .map(|u| u["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), users.len());
    let (all_users, _) = all_rows("/users?api-version=v1.0", &[]);
    assert!(
        all_users.len() > users.len(),
        "soft-deleted history rows exist"
    );
}
