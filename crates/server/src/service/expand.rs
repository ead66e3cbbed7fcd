//! `$expand` and navigation: the writers of expanded entities and collections, and their part of
//! the context URL.

use super::context::RequestContext;
use odata::bind::{BoundExpand, MAX_EXPANDED_ENTITIES};
use odata::edm::EntityType;
use odata::json::{EntityWriter, ExpandedCollection, MetadataLevel, RelatedLink};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use warehouse::sql;
use warehouse::Warehouse;

/// A page whose entities expand collections holds at most this many of them, so that it holds
/// at most this many times [`MAX_EXPANDED_ENTITIES`] related entities.
pub(super) const PAGE_WITH_EXPANDED_COLLECTIONS: u64 = 100;

/// The entity set a navigation property of `entity` leads to.
pub(super) fn navigation_target(
    ctx: &RequestContext,
    entity: &EntityType,
    navigation: usize,
) -> &'static str {
    let model = ctx.model();
    let target = &entity.navigation[navigation].target_type;
    model
        .entity_sets
        .iter()
        .find(|s| &model.type_of(s).name == target)
        .map(|s| s.name.as_str())
        .expect("navigation targets are entity sets of the model")
}

/// The entity type of entity set `set`.
fn target_type(ctx: &RequestContext, set: &str) -> &'static EntityType {
    let model = ctx.model();
    model.type_of(model.entity_set(set).expect("a set of the model"))
}

/// The writer of entities of set `name`: their `select`ed properties, then each expanded
/// navigation property with its own (columns as `cursor` lays them out), at metadata `level`,
/// with Int64 and Decimal as strings when `ieee754`.
pub(super) fn entity_writer(
    ctx: &RequestContext,
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
    let layout = Layout {
        starts: &mut cursor.expanded.iter().copied(),
        related: &mut cursor.related.iter(),
    };
    let parent = Parent {
        entity,
        set: name,
        key_columns: &cursor.key_columns,
    };
    with_expansions(ctx, writer, parent, expand, layout, format)
}

/// Where the columns of expansions start and how expanded collections' rows are laid out, depth
/// first ([`sql::Cursor`]).
struct Layout<'l, S, R> {
    starts: &'l mut S,
    related: &'l mut R,
}

/// The entities whose expansions are written: their type, entity set and key columns.
#[derive(Clone, Copy)]
struct Parent<'p> {
    entity: &'p EntityType,
    set: &'p str,
    key_columns: &'p [usize],
}

/// `writer` with the writers of `expand`'s related entities (and theirs), reading the columns
/// `layout` gives, depth first.
fn with_expansions<'c>(
    ctx: &RequestContext,
    mut writer: EntityWriter,
    parent: Parent<'_>,
    expand: &[BoundExpand],
    layout: Layout<'_, impl Iterator<Item = usize>, impl Iterator<Item = &'c sql::Cursor>>,
    (level, ieee754): (MetadataLevel, bool),
) -> EntityWriter {
    let entity = parent.entity;
    for b in expand {
        let start = layout.starts.next().expect("a start per expansion");
        let set = navigation_target(ctx, entity, b.navigation);
        let target = target_type(ctx, set);
        let name = &entity.navigation[b.navigation].name;
        let set_url = format!("{}/{set}", ctx.service_root);
        let namespace = &Warehouse::get().namespace;
        if b.related.is_some() {
            let cursor = layout
                .related
                .next()
                .expect("a layout per expanded collection");
            let own = if b.reference {
                EntityWriter::reference(target, namespace, &cursor.key_columns, &set_url)
            } else {
                with_computed(
                    EntityWriter::new(
                        target,
                        namespace,
                        &b.select,
                        &cursor.key_columns,
                        level,
                        ieee754,
                        &set_url,
                    ),
                    b,
                    0,
                )
            };
            let own_layout = Layout {
                starts: &mut cursor.expanded.iter().copied(),
                related: &mut cursor.related.iter(),
            };
            let own_parent = Parent {
                entity: target,
                set,
                key_columns: &cursor.key_columns,
            };
            let own = with_expansions(
                ctx,
                own,
                own_parent,
                &b.expand,
                own_layout,
                (level, ieee754),
            );
            let collection = expanded_collection(ctx, parent, (name, b), start, own);
            writer = writer.expand_collection(name, collection);
            continue;
        }
        if b.reference {
            let reference = EntityWriter::reference(target, namespace, &[start], &set_url);
            writer = writer.expand(name, start, reference);
            continue;
        }
        let nested = with_computed(
            EntityWriter::new(
                target,
                namespace,
                &b.select,
                &[start],
                level,
                ieee754,
                &set_url,
            )
            .from_column(start + 1),
            b,
            start + 1,
        );
        let nested_parent = Parent {
            entity: target,
            set,
            key_columns: &[start],
        };
        let nested_layout = Layout {
            starts: &mut *layout.starts,
            related: &mut *layout.related,
        };
        let nested = with_expansions(
            ctx,
            nested,
            nested_parent,
            &b.expand,
            nested_layout,
            (level, ieee754),
        );
        writer = writer.expand(name, start, nested);
    }
    writer
}

/// `writer` with the computed properties of expansion `b`, read after its selected properties
/// (which start at row column `first`).
fn with_computed(writer: EntityWriter, b: &BoundExpand, first: usize) -> EntityWriter {
    b.computed.iter().enumerate().fold(writer, |w, (i, c)| {
        let ty = c.expr.ty.unwrap_or(odata::edm::PrimitiveType::String);
        w.extra(&c.name, ty, first + b.select.len() + i)
    })
}

/// The writer of the expanded collection `name` of `parent`'s entities (expansion `b`), whose
/// columns start at `start`, each entity written by `writer`.
fn expanded_collection(
    ctx: &RequestContext,
    parent: Parent<'_>,
    (name, b): (&str, &BoundExpand),
    start: usize,
    writer: EntityWriter,
) -> ExpandedCollection {
    let rows = b.related.as_ref().expect("an expanded collection");
    let shown = rows.top.unwrap_or(u64::MAX).min(MAX_EXPANDED_ENTITIES);
    let key_columns = parent
        .entity
        .key_indices()
        .iter()
        .zip(parent.key_columns)
        .map(|(&p, &c)| {
            let property = &parent.entity.properties[p];
            (c, property.name.clone(), property.ty)
        })
        .collect();
    ExpandedCollection {
        rows: (!rows.count_only).then_some(start),
        count: rows.count.then_some(start + usize::from(!rows.count_only)),
        shown: shown as usize,
        next_link: Some(RelatedLink {
            set_url: format!("{}/{}", ctx.service_root, parent.set),
            key_columns,
            rest: related_link_rest(ctx, name, b, shown),
        }),
        writer,
    }
}

/// Characters a query option's value keeps unencoded in a next link.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$')
    .remove(b'/')
    .remove(b'(')
    .remove(b')')
    .remove(b',')
    .remove(b'\'')
    .remove(b':');

/// What follows the parent's key in the next link of expanded collection `b` past the entities
/// a response holds: `/{name}` (`/{name}/$ref` for references), `?api-version=...`,
/// `maxhistorydays` when the request had it, the nested options that choose the entities, and
/// `$skip`/`$top` for the rest.
fn related_link_rest(ctx: &RequestContext, name: &str, b: &BoundExpand, shown: u64) -> String {
    let rows = b.related.as_ref().expect("an expanded collection");
    let mut parts = vec![format!("api-version={}", ctx.version.as_str())];
    if let Some(days) = ctx
        .options
        .custom
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case("maxhistorydays"))
    {
        parts.push(format!(
            "maxhistorydays={}",
            utf8_percent_encode(&days.value, QUERY_VALUE)
        ));
    }
    let text = ctx.options.get("$expand").unwrap_or_default();
    for (option, span) in &rows.link_options {
        let value = text.get(span.start..span.end).unwrap_or_default();
        let option = format!("${}", option.trim_start_matches('$'));
        parts.push(format!(
            "{option}={}",
            utf8_percent_encode(value, QUERY_VALUE)
        ));
    }
    parts.push(format!("$skip={}", rows.skip.saturating_add(shown)));
    if let Some(top) = rows.top {
        parts.push(format!("$top={}", top.saturating_sub(shown)));
    }
    let reference = if b.reference { "/$ref" } else { "" };
    format!("/{name}{reference}?{}", parts.join("&"))
}

/// The context URL's selection: the selected properties (when `$select` was given) and each
/// expanded navigation property with its own.
pub(super) fn context_selection(
    ctx: &RequestContext,
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
/// expansions: `device(deviceName,deviceType)`.
fn expanded_selection(
    ctx: &RequestContext,
    entity: &EntityType,
    expand: &[BoundExpand],
) -> Vec<String> {
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
            inner.extend(b.computed.iter().map(|c| c.name.clone()));
            inner.extend(expanded_selection(ctx, target, &b.expand));
            let name = &entity.navigation[b.navigation].name;
            // an expansion of every property is its name alone (Power Query refuses a context
            // URL with `name()`, which OData 4.01 writes)
            if inner.is_empty() {
                name.clone()
            } else {
                format!("{name}({})", inner.join(","))
            }
        })
        .collect()
}
