//! The registry of a snapshot's sources: devices, users and categories, then every part
//! ([`crate::merge::parts::Part`]) in the order it is parsed, downloaded, listed and merged.
//! Adding a source is a file of its own (its [`Source`] descriptors, its parse and its merge: a
//! [`PartEntry`]), its `mod` line here and its line in [`PARTS`].

mod apps;
mod devices_daily;
mod enrollment;
mod mam;
mod policies;
mod terms;

use crate::map::core;
use crate::merge::parts::{ParsedParts, PartEntry};
use crate::read::sources::{Source, Sources};
use crate::{IngestError, IngestSummary};

/// The parts, in order. A part merged after another may use what that one leaves in
/// [`crate::merge::parts::Merged`] (app protection names its apps by the apps'
/// names).
pub(crate) const PARTS: &[PartEntry] = &[
    policies::PART,
    apps::PART,
    terms::PART,
    enrollment::PART,
    mam::PART,
    devices_daily::PART,
];

/// Every Graph source of a snapshot, in the order they are downloaded and listed.
pub(crate) fn all_sources() -> impl Iterator<Item = &'static Source> + Clone {
    core::SOURCES
        .iter()
        .chain(PARTS.iter().flat_map(|p| p.sources))
}

/// The parts of the snapshot of `day` in `sources`, parsed in registry order: the first bad
/// source stops the run.
pub(crate) fn parse_parts(
    sources: &Sources,
    day: time::Date,
    summary: &mut IngestSummary,
) -> Result<ParsedParts, IngestError> {
    PARTS
        .iter()
        .map(|entry| Ok((entry, (entry.parse)(sources, day, summary)?)))
        .collect()
}
