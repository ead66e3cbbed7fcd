//! Publish: a day's run in order. Devices and users are parsed first (on both cores), the other
//! sources' parts beside the merge of devices and users (which uses one core); then everything is
//! merged inside one publication of the store, which commits whole or not at all.

use crate::map::core::Snapshot;
use crate::merge;
use crate::sources::parse_parts;
use crate::stopwatch::Stopwatch;
use crate::{check_day, IngestError, IngestOptions, IngestSummary, Sources};
use warehouse::store::Store;

/// Validates the sources and publishes them as the day's snapshot.
pub(crate) fn publish(
    store: &dyn Store,
    sources: Sources,
    opts: &IngestOptions,
    mut summary: IngestSummary,
) -> Result<IngestSummary, IngestError> {
    if !opts.any_day {
        check_day(opts.date, opts.now_micros)?;
    }
    let date_key = warehouse::calendar::date_key(opts.date);
    // devices and users first, on both cores; the other sources are parsed beside the merge of
    // devices and users, which uses one
    let mut watch = Stopwatch::start();
    let snapshot = Snapshot::parse(&sources, &mut summary)?;
    watch.lap("parsing devices and users");
    let sources = std::sync::Arc::new(sources);
    let date = opts.date;
    let mut parsing = Some({
        let sources = sources.clone();
        std::thread::spawn(move || {
            let mut own = IngestSummary::default();
            parse_parts(&sources, date, &mut own).map(|parts| (parts, own))
        })
    });
    // CSV records are held by the sources: the parsing thread drops the last reference
    drop(sources);
    let mut parts = || {
        parsing
            .take()
            .expect("the parts are asked for once")
            .join()
            .expect("the parsing thread panicked")
    };
    let result = store.update_tenant_with(&opts.tenant, |tx, tenant| {
        if let Some(newest) = tenant.snapshot_date_key.filter(|n| *n > date_key && !opts.backfill) {
            return Err(IngestError::run(format!(
                "{date_key} is older than the newest published day {newest}; use --backfill to ingest it anyway"
            )));
        }
        watch.lap("opening the publication");
        merge::apply(tx, store.dialect(), tenant, &snapshot, &mut parts, opts, &mut summary)?;
        watch.lap("merging");
        // a backfilled day keeps the newest day as the snapshot maxhistorydays counts from
        Ok(tenant.snapshot_date_key.map_or(date_key, |n| n.max(date_key)))
    });
    watch.lap("committing");
    // freeing the snapshot's million small allocations is a noticeable part of a run at a
    // large tenant's size: another thread does it while the summary goes back
    merge::free_elsewhere(snapshot);
    summary.tenant = Some(result?);
    Ok(summary)
}
