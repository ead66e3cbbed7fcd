//! The first and last day each tenant's publications hold of each daily fact, remembered per
//! publication: a temporal read checks the day it asks for against them, and they change only
//! when a publication does, so one read of the store per tenant, fact and publication serves
//! every request until the next.

use std::collections::HashMap;
use std::sync::Mutex;
use time::Date;

/// The days kept: first and last (none when the fact holds no day).
pub type KeptRange = Option<(Date, Date)>;

/// A publication of a tenant: its generation and when it was published (a tenant removed and
/// created again starts its generations over).
pub type Publication = (i64, Option<i64>);

/// A tenant's id and a fact's name.
type TenantFact = (i64, &'static str);

/// Kept days by tenant id and fact, with the publication they were read at. One entry per
/// tenant and fact (a later publication replaces it): bounded by the tenants served times the
/// model's facts.
#[derive(Default)]
pub struct KeptDays(Mutex<HashMap<TenantFact, (Publication, KeptRange)>>);

impl KeptDays {
    /// The days kept of `fact` by `tenant` as of `publication`, if read at it.
    pub fn get(
        &self,
        tenant: i64,
        fact: &'static str,
        publication: Publication,
    ) -> Option<KeptRange> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(tenant, fact))
            .filter(|(at, _)| *at == publication)
            .map(|(_, kept)| *kept)
    }

    /// Remembers the days kept of `fact` by `tenant` as read at `publication` (never replacing
    /// what a later generation's read put there).
    pub fn put(&self, tenant: i64, fact: &'static str, publication: Publication, kept: KeptRange) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry((tenant, fact)).or_insert((publication, kept));
        if entry.0 .0 <= publication.0 {
            *entry = (publication, kept);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_serves_its_publication_only() {
        let kept = KeptDays::default();
        let days = Some((
            time::macros::date!(2026 - 10 - 01),
            time::macros::date!(2026 - 10 - 30),
        ));
        let at = |generation| (generation, Some(1_796_000_000));
        assert_eq!(kept.get(1, "devicePropertyHistories", at(7)), None);
        kept.put(1, "devicePropertyHistories", at(7), days);
        assert_eq!(kept.get(1, "devicePropertyHistories", at(7)), Some(days));
        assert_eq!(kept.get(1, "devicePropertyHistories", at(8)), None);
        assert_eq!(kept.get(2, "devicePropertyHistories", at(7)), None);
        // the same generation of a tenant created again
        assert_eq!(kept.get(1, "devicePropertyHistories", (7, Some(1))), None);
        // a slow reader of an older publication does not replace a newer one's range
        kept.put(1, "devicePropertyHistories", at(9), None);
        kept.put(1, "devicePropertyHistories", at(8), days);
        assert_eq!(kept.get(1, "devicePropertyHistories", at(9)), Some(None));
    }
}
