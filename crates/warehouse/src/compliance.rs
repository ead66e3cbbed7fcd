//! The compliance vocabulary shared by the generator, ingestion and the tests: the six count
//! columns of the compliance activity facts, and how a compliance state falls into them.

/// The count columns of the compliance activity facts
/// (`compliancePolicyStatusDeviceActivities`, `...PerPolicyActivities`), in the model's order.
pub const BUCKETS: [&str; 6] = [
    "unknown",
    "notApplicable",
    "compliant",
    "inGracePeriod",
    "nonCompliant",
    "error",
];

/// The bucket of a `complianceStates` row, by its `complianceStatus` (`Compliant`,
/// `InGracePeriod`, ...): what a device in that state counts as.
pub fn bucket_of_state(status: &str) -> &'static str {
    match status {
        "Compliant" => "compliant",
        "Noncompliant" => "nonCompliant",
        "InGracePeriod" => "inGracePeriod",
        "Conflict" | "Error" => "error",
        "ConfigManager" => "notApplicable",
        _ => "unknown",
    }
}

/// The bucket of a Microsoft Graph per-policy status (`compliant`, `nonCompliant`, ...); a
/// non-compliant device still in its grace period counts as `inGracePeriod`. `None` when the
/// policy is not assigned to the device.
pub fn bucket_of_graph_status(status: &str, in_grace: bool) -> Option<&'static str> {
    Some(match status {
        "unknown" => "unknown",
        "notApplicable" => "notApplicable",
        "compliant" | "remediated" => "compliant",
        "inGracePeriod" => "inGracePeriod",
        "nonCompliant" if in_grace => "inGracePeriod",
        "nonCompliant" => "nonCompliant",
        "error" | "conflict" => "error",
        "notAssigned" => return None,
        _ => "unknown",
    })
}

/// The position of `bucket` in [`BUCKETS`].
pub fn bucket_index(bucket: &str) -> Option<usize> {
    BUCKETS.iter().position(|b| *b == bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_is_a_column() {
        for s in [
            "Compliant",
            "Noncompliant",
            "InGracePeriod",
            "Error",
            "ConfigManager",
            "?",
        ] {
            assert!(bucket_index(bucket_of_state(s)).is_some(), "{s}");
        }
        for s in [
            "compliant",
            "nonCompliant",
            "conflict",
            "notApplicable",
            "?",
        ] {
            assert!(
                bucket_of_graph_status(s, false)
                    .and_then(bucket_index)
                    .is_some(),
                "{s}"
            );
        }
        assert_eq!(
            bucket_of_graph_status("nonCompliant", true),
            Some("inGracePeriod")
        );
        assert_eq!(bucket_of_graph_status("notAssigned", false), None);
    }
}
