//! `$expand` and navigation: binding the expansions of a request, what the planner joins for them,
//! their writers, and their part of the context URL.

use super::Ctx;
use odata::bind::{bind_expand, BoundExpand};
use odata::edm::EntityType;
use odata::json::{EntityWriter, MetadataLevel};
use odata::syntax;
use odata::ODataError;
use warehouse::sql::{self, Expansion};
use warehouse::Warehouse;

/// The bound `$expand` of a request (none without one).
pub(super) fn bind_expansions(
    ctx: &Ctx,
    entity: &EntityType,
) -> Result<Vec<BoundExpand>, ODataError> {
    let Some(text) = ctx.options.get("$expand") else {
        return Ok(Vec::new());
    };
    let items = syntax::parse_expand(text).map_err(|e| e.into_odata("$expand"))?;
    let model = ctx.model();
    bind_expand(&items, entity, &|name| {
        model.entity_types.iter().find(|t| t.name == name)
    })
    .map_err(|e| e.with_target("$expand"))
}

/// The entity set a navigation property of `entity` leads to.
pub(super) fn navigation_target(ctx: &Ctx, entity: &EntityType, navigation: usize) -> &'static str {
    let model = ctx.model();
    let target = &entity.navigation[navigation].target_type;
    model
        .entity_sets
        .iter()
        .find(|s| &model.type_of(s).name == target)
        .map(|s| s.name.as_str())
        .expect("navigation targets are entity sets of the model")
}

/// What the planner joins for `expand` (nested expansions too).
pub(super) fn expansions(
    ctx: &Ctx,
    entity: &EntityType,
    expand: &[BoundExpand],
) -> Vec<Expansion<'static>> {
    expand
        .iter()
        .map(|b| {
            let set = navigation_target(ctx, entity, b.navigation);
            Expansion {
                navigation: b.navigation,
                reference: entity.navigation[b.navigation].property.clone(),
                target: Warehouse::get()
                    .collection(set)
                    .expect("entity sets are collections"),
                select: b.select.clone(),
                expand: expansions(ctx, target_type(ctx, set), &b.expand),
            }
        })
        .collect()
}

/// The entity type of entity set `set`.
fn target_type(ctx: &Ctx, set: &str) -> &'static EntityType {
    let model = ctx.model();
    model.type_of(model.entity_set(set).expect("a set of the model"))
}

/// The writer of entities of set `name`: their `select`ed properties, then each expanded
/// navigation property with its own (columns as `cursor` lays them out), at metadata `level`,
/// with Int64 and Decimal as strings when `ieee754`.
pub(super) fn entity_writer(
    ctx: &Ctx,
    name: &str,
    entity: &EntityType,
    select: &[usize],
    expand: &[BoundExpand],
    cursor: &sql::Cursor,
    format: (MetadataLevel, bool),
) -> EntityWriter {
    let writer = EntityWriter::new(
        entity,
        &Warehouse::get().namespace,
        select,
        &cursor.key_columns,
        format.0,
        format.1,
        &format!("{}/{name}", ctx.service_root),
    );
    let mut starts = cursor.expanded.iter().copied();
    with_expansions(ctx, writer, entity, expand, &mut starts, format)
}

/// `writer` with the writers of `expand`'s related entities (and theirs), reading the columns
/// that start at `starts`, depth first.
fn with_expansions(
    ctx: &Ctx,
    mut writer: EntityWriter,
    entity: &EntityType,
    expand: &[BoundExpand],
    starts: &mut impl Iterator<Item = usize>,
    (level, ieee754): (MetadataLevel, bool),
) -> EntityWriter {
    for b in expand {
        let start = starts.next().expect("a start per expansion");
        let set = navigation_target(ctx, entity, b.navigation);
        let target = target_type(ctx, set);
        let nested = EntityWriter::new(
            target,
            &Warehouse::get().namespace,
            &b.select,
            &[start],
            level,
            ieee754,
            &format!("{}/{set}", ctx.service_root),
        )
        .from_column(start + 1);
        let nested = with_expansions(ctx, nested, target, &b.expand, starts, (level, ieee754));
        writer = writer.expand(&entity.navigation[b.navigation].name, start, nested);
    }
    writer
}

/// The context URL's selection: the selected properties (when `$select` was given) and each
/// expanded navigation property with its own.
pub(super) fn context_selection(
    ctx: &Ctx,
    entity: &EntityType,
    q_select: &[usize],
    expand: &[BoundExpand],
) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if ctx.options.get("$select").is_some() {
        parts.extend(q_select.iter().map(|&i| entity.properties[i].name.clone()));
    }
    parts.extend(expanded_selection(ctx, entity, expand));
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Each expanded navigation property with its selected properties (none when all) and its own
/// expansions: `device(deviceName,deviceType())`.
fn expanded_selection(ctx: &Ctx, entity: &EntityType, expand: &[BoundExpand]) -> Vec<String> {
    expand
        .iter()
        .map(|b| {
            let target = target_type(ctx, navigation_target(ctx, entity, b.navigation));
            let mut inner: Vec<String> = if b.select.len() == target.properties.len() {
                Vec::new()
            } else {
                b.select
                    .iter()
                    .map(|&i| target.properties[i].name.clone())
                    .collect()
            };
            inner.extend(expanded_selection(ctx, target, &b.expand));
            format!(
                "{}({})",
                entity.navigation[b.navigation].name,
                inner.join(",")
            )
        })
        .collect()
}
