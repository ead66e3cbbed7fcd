//! `$select` lists and key predicates bound to property indices.

use super::expr::literal_value;
use super::names::{bad, navigation, property, unsupported};
use super::scope::Computed;
use crate::edm::{EntityType, PrimitiveType};
use crate::syntax::{SelectItem, Span};
use crate::value::Value;
use crate::ODataError;

/// Binds `$select` items to property indices in declaration order, without duplicates. A
/// navigation property may be selected (clients such as Power Query name the ones they expand);
/// it adds no structural property.
pub fn bind_select(items: &[SelectItem], ty: &EntityType) -> Result<Vec<usize>, ODataError> {
    let mut chosen = vec![false; ty.properties.len()];
    for item in items {
        match item {
            SelectItem::Star => chosen.iter_mut().for_each(|c| *c = true),
            SelectItem::Path(segments, span) => {
                let navigation = navigation(ty, &segments[0], *span)?.is_some();
                if navigation && segments.len() == 1 {
                    continue;
                }
                if segments.len() > 1 || navigation {
                    return Err(unsupported(
                        *span,
                        "selecting through navigation properties is not supported yet; expand them with $select inside $expand",
                    ));
                }
                let index = property(ty, &segments[0], *span)?;
                chosen[index] = true;
            }
        }
    }
    Ok(chosen
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.then_some(i))
        .collect())
}

/// Binds a parsed key predicate to `(key property index, value)` pairs in key order.
pub fn bind_key(
    values: &[crate::syntax::KeyValue],
    ty: &EntityType,
) -> Result<Vec<(usize, Value)>, ODataError> {
    let keys = ty.key_indices();
    let at = |offset| Span {
        start: offset,
        end: offset,
    };
    if values.len() != keys.len() {
        return Err(bad(
            at(0),
            format!(
                "{} has a key of {} part(s) ({}), {} given",
                ty.name,
                keys.len(),
                ty.key.join(", "),
                values.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(keys.len());
    for kv in values {
        let index = match (&kv.name, keys.len()) {
            (None, 1) => keys[0],
            (None, _) => {
                return Err(bad(
                    at(kv.offset),
                    "a key with several parts needs names: (a=1,b=2)",
                ))
            }
            (Some(n), _) => {
                let p = property(ty, n, at(kv.offset))?;
                if !keys.contains(&p) {
                    return Err(bad(
                        at(kv.offset),
                        format!("'{n}' is not part of the key of {}", ty.name),
                    ));
                }
                if out.iter().any(|(q, _)| *q == p) {
                    return Err(bad(at(kv.offset), format!("'{n}' is given twice")));
                }
                p
            }
        };
        let (value, vt) = literal_value(&kv.value, at(kv.offset))?;
        let want = ty.properties[index].ty;
        let ok = match vt {
            Some(t) if t == want => true,
            Some(t) if t.is_integer() && want.is_integer() => true,
            Some(PrimitiveType::Guid) if want == PrimitiveType::String => true,
            _ => false,
        };
        if !ok {
            return Err(bad(
                at(kv.offset),
                format!(
                    "key '{}' needs a value of type {want}",
                    ty.properties[index].name
                ),
            ));
        }
        let value = match value {
            Value::Guid(g) => Value::String(g),
            v => v,
        };
        out.push((index, value));
    }
    out.sort_by_key(|(p, _)| keys.iter().position(|k| k == p));
    Ok(out)
}

/// `$select` of properties and computed properties: the properties' indices (in declaration
/// order), and the computed properties selected by name or by `*`.
pub fn bind_select_with_computed(
    items: &[SelectItem],
    entity: &EntityType,
    computed: Vec<Computed>,
) -> Result<(Vec<usize>, Vec<Computed>), ODataError> {
    let names = |item: &SelectItem, name: &str| matches!(item, SelectItem::Path(path, _) if path.len() == 1 && path[0] == name);
    let properties: Vec<SelectItem> = items
        .iter()
        .filter(|i| !computed.iter().any(|c| names(i, &c.name)))
        .cloned()
        .collect();
    let star = items.contains(&SelectItem::Star);
    let select = if properties.is_empty() {
        Vec::new()
    } else {
        bind_select(&properties, entity)?
    };
    let computed = computed
        .into_iter()
        .filter(|c| star || items.iter().any(|i| names(i, &c.name)))
        .collect();
    Ok((select, computed))
}
