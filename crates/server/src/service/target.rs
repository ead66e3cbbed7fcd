//! What a request asks for, resolved against the model and bound before any handler runs: the
//! collection its path names (in the model's spelling), the navigation it follows, its key, and
//! its query options bound into a [`ReadQuery`] with the response format negotiated. Handlers
//! receive a [`Target`] and only choose a writer and run it. Each kind of target checks in the
//! order clients have always seen its errors in (which option is reported when several are
//! wrong).

use super::context::{header_str, history_days, resolve, RequestContext};
use super::expand::navigation_target;
use crate::negotiate::{self, JsonFormat};
use crate::request::Resource;
use odata::bind::bind_key;
use odata::edm::{EntityType, Lookup};
use odata::read::{PropertyValues, ReadQuery};
use odata::syntax;
use odata::ODataError;

/// A request resolved against the model, ready for its handler.
pub(crate) enum Target {
    /// A document that describes the service, the same whatever the tenant's data.
    Document(Document),
    /// A page of a collection, or of the entities a collection-valued navigation property
    /// leads to; of `references` to them for `/$ref`.
    Page {
        /// What the page reads, with its paging options.
        read: ReadQuery<'static>,
        /// The response's JSON format.
        format: JsonFormat,
        /// Whether the page lists references (ids) rather than entities.
        references: bool,
    },
    /// `$count` of what `read` reads.
    Count(ReadQuery<'static>),
    /// One entity, one of its properties, or a property's raw value.
    Entity(EntityTarget),
    /// The entity a single-valued navigation property of another leads to: `read` reads the
    /// reference (one column), and the entity is then read as [`entity`] reads it.
    Related {
        /// The reference of the entity that holds the navigation property.
        read: ReadQuery<'static>,
        /// That entity's key, as written, for the 404 when it does not exist.
        key_text: String,
        /// The set the navigation property leads to.
        target: &'static str,
    },
}

/// The documents describing the service.
pub(crate) enum Document {
    /// The service document.
    Service,
    /// `$metadata`.
    Metadata,
    /// `openapi.json`.
    OpenApi,
}

/// One entity by key, or one of its properties, or that property's raw value (`$value`).
pub(crate) struct EntityTarget {
    /// The entity's read: its key as the scope, its selection and expansions.
    pub read: ReadQuery<'static>,
    /// The key as the client wrote it, for the 404 when there is no such entity.
    pub key_text: String,
    /// The property read (its index and the name the client wrote), if one is.
    pub property: Option<(usize, String)>,
    /// The JSON format; none for a raw value.
    pub format: Option<JsonFormat>,
}

/// The target of `resource`, or the error to answer.
pub(super) fn target(ctx: &RequestContext, resource: Resource) -> Result<Target, ODataError> {
    match resource {
        Resource::ServiceDocument => Ok(Target::Document(Document::Service)),
        Resource::Metadata => Ok(Target::Document(Document::Metadata)),
        Resource::OpenApi => Ok(Target::Document(Document::OpenApi)),
        Resource::Collection(name) => page(ctx, &canonical_set(ctx, &name)?, Vec::new(), false),
        Resource::Count(name) => count(ctx, &canonical_set(ctx, &name)?, Vec::new()),
        Resource::Deeper { set, key, segments } => {
            deeper(ctx, &canonical_set(ctx, &set)?, &key, &segments)
        }
        Resource::Entity {
            set,
            key,
            property,
            raw,
        } => {
            let set = canonical_set(ctx, &set)?;
            let navigation = match (&property, raw) {
                (Some(p), false) => navigation_of(ctx, &set, p),
                _ => None,
            };
            match navigation {
                Some((n, true)) => {
                    let (target, parent) = parent_scope(ctx, &set, &key, n)?;
                    page(ctx, target, parent, false)
                }
                Some((n, false)) => related(ctx, &set, &key, n),
                None => Ok(Target::Entity(entity(
                    ctx,
                    &set,
                    &key,
                    property.as_deref(),
                    raw,
                )?)),
            }
        }
    }
}

/// Entity `name(key_text)`, or its `property`, or that property's raw value (`raw`).
pub(super) fn entity(
    ctx: &RequestContext,
    name: &str,
    key_text: &str,
    property: Option<&str>,
    raw: bool,
) -> Result<EntityTarget, ODataError> {
    let (entity, _) = resolve(ctx, name)?;
    let key_values = syntax::parse_key(key_text).map_err(|e| e.into_odata("key"))?;
    let property = property
        .map(|p| property_index(entity, p).map(|i| (i, p.to_string())))
        .transpose()?;
    let format = if raw { None } else { Some(json_format(ctx)?) };
    let key = bind_key(&key_values, entity).map_err(|e| e.with_target("key"))?;
    let read = ReadQuery::entity(
        &ctx.options,
        (name, entity),
        ctx.model(),
        key,
        property.as_ref().map(|(i, _)| *i),
    )?
    .with_history_days(history_days(ctx)?);
    Ok(EntityTarget {
        read,
        key_text: key_text.to_string(),
        property,
        format,
    })
}

/// The request's options bound against collection `name` (whose entities are `entity`), and
/// `maxhistorydays`.
fn read_query(
    ctx: &RequestContext,
    name: &str,
    entity: &'static EntityType,
) -> Result<ReadQuery<'static>, ODataError> {
    let read = ReadQuery::bind(&ctx.options, name, entity, ctx.model())?;
    Ok(read.with_history_days(history_days(ctx)?))
}

/// The JSON format the request asks for (`$format`, else `Accept`).
fn json_format(ctx: &RequestContext) -> Result<JsonFormat, ODataError> {
    negotiate::json_format(
        ctx.options.get("$format"),
        header_str(&ctx.headers, "accept"),
    )
}

/// A page of collection `name`, of the entities whose properties hold the `parent` values only
/// (or references to them).
fn page(
    ctx: &RequestContext,
    name: &str,
    parent: PropertyValues,
    references: bool,
) -> Result<Target, ODataError> {
    let (entity, _) = resolve(ctx, name)?;
    let read = read_query(ctx, name, entity)?.within(parent);
    let format = json_format(ctx)?;
    let read = read.with_paging(&ctx.options)?;
    Ok(Target::Page {
        read,
        format,
        references,
    })
}

/// `$count` of collection `name`, of the entities whose properties hold the `parent` values.
fn count(ctx: &RequestContext, name: &str, parent: PropertyValues) -> Result<Target, ODataError> {
    let (entity, _) = resolve(ctx, name)?;
    Ok(Target::Count(read_query(ctx, name, entity)?.within(parent)))
}

/// `/{set}({key})/{navigation}` of a single-valued navigation property: the reference, then the
/// entity it names.
fn related(
    ctx: &RequestContext,
    name: &str,
    key_text: &str,
    navigation: usize,
) -> Result<Target, ODataError> {
    let (source, _) = resolve(ctx, name)?;
    let reference = source
        .property_index(&source.navigation[navigation].property)
        .expect("navigation properties name a property");
    let key_values = syntax::parse_key(key_text).map_err(|e| e.into_odata("key"))?;
    let key = bind_key(&key_values, source).map_err(|e| e.with_target("key"))?;
    Ok(Target::Related {
        read: ReadQuery {
            select: vec![reference],
            ..ReadQuery::all(name, source, ctx.model()).within(key)
        },
        key_text: key_text.to_string(),
        target: navigation_target(ctx, source, navigation),
    })
}

/// `/{set}({key})/{segments}` beyond one property: `$count` and `$ref` of a collection-valued
/// navigation property; anything else is not served (501 through a navigation, else 404).
fn deeper(
    ctx: &RequestContext,
    set: &str,
    key: &str,
    segments: &[String],
) -> Result<Target, ODataError> {
    let collection_valued = |nav: &str| match navigation_of(ctx, set, nav) {
        Some((n, true)) => Some(n),
        _ => None,
    };
    match segments {
        [nav, count_segment] if count_segment == "$count" => {
            if let Some(n) = collection_valued(nav) {
                let (target, parent) = parent_scope(ctx, set, key, n)?;
                return count(ctx, target, parent);
            }
        }
        [nav, reference] if reference == "$ref" => {
            if let Some(n) = collection_valued(nav) {
                let (target, parent) = parent_scope(ctx, set, key, n)?;
                return page(ctx, target, parent, true);
            }
        }
        _ => {}
    }
    Err(if navigation_of(ctx, set, &segments[0]).is_some() {
        ODataError::not_implemented(format!(
            "Paths that go on after the navigation property '{}' are not supported yet; \
             read /{}(key)/{} and then follow its own URL.",
            segments[0], set, segments[0]
        ))
        .with_target("path")
    } else {
        ODataError::not_found(format!("No resource at '{}'.", ctx.path)).with_target("path")
    })
}

/// The navigation property `name` of set `set`'s entity type (exactly, else case-insensitively
/// when unique), and whether it is collection-valued.
fn navigation_of(ctx: &RequestContext, set: &str, name: &str) -> Option<(usize, bool)> {
    let model = ctx.model();
    let ty = model.type_of(model.entity_set(set)?);
    match ty.find_navigation(name) {
        Lookup::Found(n) => Some((n, ty.navigation[n].collection)),
        _ => None,
    }
}

/// The collection a collection-valued navigation property of `set({key_text})` leads to, and the
/// value its reference must hold (`devices(42)/devicePropertyHistories` reads
/// `devicePropertyHistories` with `deviceKey` 42).
fn parent_scope(
    ctx: &RequestContext,
    set: &str,
    key_text: &str,
    navigation: usize,
) -> Result<(&'static str, PropertyValues), ODataError> {
    let (source, _) = resolve(ctx, set)?;
    let key_values = syntax::parse_key(key_text).map_err(|e| e.into_odata("key"))?;
    let key = bind_key(&key_values, source).map_err(|e| e.with_target("key"))?;
    let nav = &source.navigation[navigation];
    let target = navigation_target(ctx, source, navigation);
    let (target_type, _) = resolve(ctx, target)?;
    let reference = target_type
        .property_index(&nav.referenced_property)
        .expect("collection navigation properties name the target's reference");
    let parent = key
        .iter()
        .filter(|(p, _)| source.properties[*p].name == nav.property)
        .map(|(_, v)| (reference, v.clone()))
        .collect();
    Ok((target, parent))
}

/// The model's spelling of a collection name a client wrote (exact, else the one that differs
/// only in case); a name matching none is returned as written, for the 404 that follows.
fn canonical_set(ctx: &RequestContext, name: &str) -> Result<String, ODataError> {
    let model = ctx.model();
    match model.find_entity_set(name) {
        Lookup::Found(i) => Ok(model.entity_sets[i].name.clone()),
        Lookup::Missing => Ok(name.to_string()),
        Lookup::Ambiguous(candidates) => Err(ODataError::bad_request(format!(
            "'{name}' matches the collections {} when case is ignored; write one exactly.",
            candidates.join(", ")
        ))
        .with_target("path")),
    }
}

/// The index of property `p` of `entity` (exactly, else case-insensitively when unique).
fn property_index(entity: &EntityType, p: &str) -> Result<usize, ODataError> {
    match entity.find_property(p) {
        Lookup::Found(i) => Ok(i),
        Lookup::Missing => Err(ODataError::not_found(format!(
            "'{p}' is not a property of {}.",
            entity.name
        ))
        .with_target(p.to_string())),
        Lookup::Ambiguous(candidates) => Err(ODataError::bad_request(format!(
            "'{p}' matches the properties {} when case is ignored; write one exactly.",
            candidates.join(", ")
        ))
        .with_target(p.to_string())),
    }
}
