//! `$metadata` writers: CSDL XML (OData 4.0) and CSDL JSON (OData 4.01).

use crate::bind::APPLY_TRANSFORMATIONS;
use crate::edm::{Model, TemporalSupport};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use serde_json::{json, Map, Value};

/// Writes the model as a CSDL XML document (`application/xml`), with quick-xml's writer (which
/// escapes every attribute value and text).
pub fn to_xml(model: &Model) -> String {
    let mut w = Writer::new_with_indent(Vec::with_capacity(64 * 1024), b' ', 2);
    let ns = model.namespace.as_str();
    let written = (|| -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        w.create_element("edmx:Edmx")
            .with_attributes([
                ("Version", "4.0"),
                ("xmlns:edmx", "http://docs.oasis-open.org/odata/ns/edmx"),
            ])
            .write_inner_content(|w| {
                w.create_element("edmx:Reference")
                    .with_attribute(("Uri", AGGREGATION_VOCABULARY))
                    .write_inner_content(|w| {
                        w.create_element("edmx:Include")
                            .with_attributes([
                                ("Namespace", "Org.OData.Aggregation.V1"),
                                ("Alias", "Aggregation"),
                            ])
                            .write_empty()?;
                        Ok(())
                    })?;
                w.create_element("edmx:Reference")
                    .with_attribute(("Uri", CORE_VOCABULARY))
                    .write_inner_content(|w| {
                        w.create_element("edmx:Include")
                            .with_attributes([
                                ("Namespace", "Org.OData.Core.V1"),
                                ("Alias", "Core"),
                            ])
                            .write_empty()?;
                        Ok(())
                    })?;
                w.create_element("edmx:Reference")
                    .with_attribute(("Uri", TEMPORAL_VOCABULARY))
                    .write_inner_content(|w| {
                        w.create_element("edmx:Include")
                            .with_attributes([
                                ("Namespace", "Org.OData.Temporal.V1"),
                                ("Alias", "Temporal"),
                            ])
                            .write_empty()?;
                        Ok(())
                    })?;
                w.create_element("edmx:DataServices")
                    .write_inner_content(|w| {
                        w.create_element("Schema")
                            .with_attributes([
                                ("Namespace", ns),
                                ("xmlns", "http://docs.oasis-open.org/odata/ns/edm"),
                            ])
                            .write_inner_content(|w| {
                                for ty in &model.entity_types {
                                    write_entity_type(w, ns, ty)?;
                                }
                                write_container(w, model)
                            })?;
                        Ok(())
                    })?;
                Ok(())
            })?;
        Ok(())
    })();
    written.expect("writing into memory does not fail");
    let mut xml = String::from_utf8(w.into_inner()).expect("the writer writes UTF-8");
    xml.push('\n');
    xml
}

/// An `EntityType` element: its key, properties and navigation properties.
fn write_entity_type(
    w: &mut Writer<Vec<u8>>,
    ns: &str,
    ty: &crate::edm::EntityType,
) -> std::io::Result<()> {
    w.create_element("EntityType")
        .with_attribute(("Name", ty.name.as_str()))
        .write_inner_content(|w| {
            w.create_element("Key").write_inner_content(|w| {
                for k in &ty.key {
                    w.create_element("PropertyRef")
                        .with_attribute(("Name", k.as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
            for p in &ty.properties {
                let mut e = w
                    .create_element("Property")
                    .with_attributes([("Name", p.name.as_str()), ("Type", p.ty.name())]);
                if !p.nullable {
                    e = e.with_attribute(("Nullable", "false"));
                }
                if p.ty == crate::edm::PrimitiveType::DateTimeOffset {
                    e = e.with_attribute(("Precision", "6"));
                }
                e.write_empty()?;
            }
            for n in &ty.navigation {
                let ty_name = if n.collection {
                    format!("Collection({ns}.{})", n.target_type)
                } else {
                    format!("{ns}.{}", n.target_type)
                };
                let mut e = w
                    .create_element("NavigationProperty")
                    .with_attributes([("Name", n.name.as_str()), ("Type", ty_name.as_str())]);
                if !n.collection && !n.nullable {
                    e = e.with_attribute(("Nullable", "false"));
                }
                if let Some(p) = &n.partner {
                    e = e.with_attribute(("Partner", p.as_str()));
                }
                if n.collection {
                    e.write_empty()?;
                    continue;
                }
                e.write_inner_content(|w| {
                    w.create_element("ReferentialConstraint")
                        .with_attributes([
                            ("Property", n.property.as_str()),
                            ("ReferencedProperty", n.referenced_property.as_str()),
                        ])
                        .write_empty()?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The `EntityContainer`: the entity sets with their navigation bindings, and what `$apply`
/// supports.
fn write_container(w: &mut Writer<Vec<u8>>, model: &Model) -> std::io::Result<()> {
    let ns = model.namespace.as_str();
    w.create_element("EntityContainer")
        .with_attribute(("Name", model.container.as_str()))
        .write_inner_content(|w| {
            for set in &model.entity_sets {
                let ty = format!("{ns}.{}", model.entity_types[set.entity_type].name);
                let e = w
                    .create_element("EntitySet")
                    .with_attributes([("Name", set.name.as_str()), ("EntityType", ty.as_str())]);
                if set.navigation_bindings.is_empty() && set.temporal.is_none() {
                    e.write_empty()?;
                    continue;
                }
                e.write_inner_content(|w| {
                    for (path, target) in &set.navigation_bindings {
                        w.create_element("NavigationPropertyBinding")
                            .with_attributes([("Path", path.as_str()), ("Target", target.as_str())])
                            .write_empty()?;
                    }
                    if let Some(temporal) = &set.temporal {
                        write_temporal(w, temporal)?;
                    }
                    Ok(())
                })?;
            }
            w.create_element("Annotation")
                .with_attribute(("Term", "Aggregation.ApplySupported"))
                .write_inner_content(|w| {
                    w.create_element("Record").write_inner_content(|w| {
                        w.create_element("PropertyValue")
                            .with_attribute(("Property", "Transformations"))
                            .write_inner_content(|w| {
                                w.create_element("Collection").write_inner_content(|w| {
                                    for t in APPLY_TRANSFORMATIONS {
                                        w.create_element("String")
                                            .write_text_content(BytesText::new(t))?;
                                    }
                                    Ok(())
                                })?;
                                Ok(())
                            })?;
                        w.create_element("PropertyValue")
                            .with_attributes([
                                ("Property", "Rollup"),
                                ("EnumMember", "Aggregation.RollupType/None"),
                            ])
                            .write_empty()?;
                        Ok(())
                    })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

/// The `Temporal.ApplicationTimeSupport` annotation of a set that keeps its history: time slices
/// with visible periods (`TimelineVisible`), of instants or of days, or snapshots of days
/// (`TimelineSnapshot`, with a `Core.LongDescription` naming what is as of the day).
fn write_temporal(w: &mut Writer<Vec<u8>>, temporal: &TemporalSupport) -> std::io::Result<()> {
    w.create_element("Annotation")
        .with_attribute(("Term", "Temporal.ApplicationTimeSupport"))
        .write_inner_content(|w| {
            w.create_element("Record").write_inner_content(|w| {
                property_value(w, "UnitOfTime", |w| write_unit_of_time(w, temporal))?;
                property_value(w, "Timeline", |w| write_timeline(w, temporal))?;
                property_value(w, "SupportedActions", |w| {
                    w.create_element("Collection").write_empty()?;
                    Ok(())
                })
            })?;
            Ok(())
        })?;
    if let Some(description) = long_description(temporal) {
        w.create_element("Annotation")
            .with_attributes([
                ("Term", "Core.LongDescription"),
                ("String", description.as_str()),
            ])
            .write_empty()?;
    }
    Ok(())
}

/// `<PropertyValue Property="name">` holding what `inner` writes.
fn property_value(
    w: &mut Writer<Vec<u8>>,
    name: &str,
    inner: impl FnOnce(&mut Writer<Vec<u8>>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    w.create_element("PropertyValue")
        .with_attribute(("Property", name))
        .write_inner_content(inner)?;
    Ok(())
}

/// The record of a set's unit of time: instants (microseconds) or days.
fn write_unit_of_time(w: &mut Writer<Vec<u8>>, temporal: &TemporalSupport) -> std::io::Result<()> {
    let (ty, property, value) = match temporal {
        TemporalSupport::Periods { .. } | TemporalSupport::States { .. } => (
            "Temporal.UnitOfTimeDateTimeOffset",
            ("Property", "Precision"),
            ("Int", "6"),
        ),
        _ => (
            "Temporal.UnitOfTimeDate",
            ("Property", "ClosedClosedPeriods"),
            ("Bool", "true"),
        ),
    };
    w.create_element("Record")
        .with_attribute(("Type", ty))
        .write_inner_content(|w| {
            w.create_element("PropertyValue")
                .with_attributes([property, value])
                .write_empty()?;
            Ok(())
        })?;
    Ok(())
}

/// The record of a set's timeline: visible periods with their bounds and object key, or
/// snapshots.
fn write_timeline(w: &mut Writer<Vec<u8>>, temporal: &TemporalSupport) -> std::io::Result<()> {
    let Some((start, end, object_key)) = visible_period(temporal) else {
        w.create_element("Record")
            .with_attribute(("Type", "Temporal.TimelineSnapshot"))
            .write_empty()?;
        return Ok(());
    };
    w.create_element("Record")
        .with_attribute(("Type", "Temporal.TimelineVisible"))
        .write_inner_content(|w| {
            for (name, path) in [("PeriodStart", start), ("PeriodEnd", end)] {
                w.create_element("PropertyValue")
                    .with_attributes([("Property", name), ("PropertyPath", path)])
                    .write_empty()?;
            }
            property_value(w, "ObjectKey", |w| {
                w.create_element("Collection").write_inner_content(|w| {
                    for k in object_key {
                        w.create_element("PropertyPath")
                            .write_text_content(BytesText::new(k))?;
                    }
                    Ok(())
                })?;
                Ok(())
            })
        })?;
    Ok(())
}

/// The properties bounding a timeline's periods and identifying its objects; none for snapshots.
fn visible_period(temporal: &TemporalSupport) -> Option<(&str, &str, &[String])> {
    match temporal {
        TemporalSupport::Periods {
            period_start,
            period_end,
            object_key,
        } => Some((period_start, period_end, object_key)),
        TemporalSupport::Days { day, object_key } => Some((day, day, object_key)),
        TemporalSupport::DailySnapshots { .. } | TemporalSupport::States { .. } => None,
    }
}

/// What a snapshot set says of how it is read at a point in time: the properties read as of a
/// day, or the states whose periods its entities do not show.
fn long_description(temporal: &TemporalSupport) -> Option<String> {
    match temporal {
        TemporalSupport::DailySnapshots { as_of_day } => Some(format!(
            "Read as of a day ($at), these properties hold that day's values: {}. The others \
             hold their current values.",
            as_of_day.join(", ")
        )),
        TemporalSupport::States { object_key } => Some(format!(
            "Each entity is one state of the object {} names, from when the warehouse recorded \
             it until it was marked deleted (isDeleted, at rowLastModifiedDateTimeUTC). Read at \
             a point in time ($at) the set holds the states that held then; over a period \
             ($from, $to) every state that held during it.",
            object_key.join(", ")
        )),
        _ => None,
    }
}

/// The JSON form of [`write_temporal`]'s annotation.
fn temporal_json(temporal: &TemporalSupport) -> Value {
    let typed = |name: &str| format!("{TEMPORAL_VOCABULARY}#Temporal.{name}");
    let unit = match temporal {
        TemporalSupport::Periods { .. } | TemporalSupport::States { .. } => {
            json!({ "@type": typed("UnitOfTimeDateTimeOffset"), "Precision": 6 })
        }
        _ => json!({ "@type": typed("UnitOfTimeDate"), "ClosedClosedPeriods": true }),
    };
    let timeline = match visible_period(temporal) {
        Some((start, end, object_key)) => json!({
            "@type": typed("TimelineVisible"),
            "PeriodStart": start,
            "PeriodEnd": end,
            "ObjectKey": object_key,
        }),
        None => json!({ "@type": typed("TimelineSnapshot") }),
    };
    json!({ "UnitOfTime": unit, "Timeline": timeline, "SupportedActions": [] })
}

/// Where the Core vocabulary `$metadata` references is published.
const CORE_VOCABULARY: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml";

/// Where the Temporal vocabulary `$metadata` references is published.
const TEMPORAL_VOCABULARY: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Temporal.V1.xml";

/// Where the Aggregation vocabulary `$metadata` references is published.
const AGGREGATION_VOCABULARY: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Aggregation.V1.xml";

/// Writes the model as a CSDL JSON document (`application/json`).
pub fn to_json(model: &Model) -> Value {
    let ns = &model.namespace;
    let mut schema = Map::new();
    for ty in &model.entity_types {
        let mut t = Map::new();
        t.insert("$Kind".into(), json!("EntityType"));
        t.insert("$Key".into(), json!(ty.key));
        for p in &ty.properties {
            let mut prop = Map::new();
            if p.ty != crate::edm::PrimitiveType::String {
                prop.insert("$Type".into(), json!(p.ty.name()));
            }
            if p.nullable {
                prop.insert("$Nullable".into(), json!(true));
            }
            if p.ty == crate::edm::PrimitiveType::DateTimeOffset {
                prop.insert("$Precision".into(), json!(6));
            }
            t.insert(p.name.clone(), Value::Object(prop));
        }
        for n in &ty.navigation {
            let mut nav = Map::new();
            nav.insert("$Kind".into(), json!("NavigationProperty"));
            nav.insert("$Type".into(), json!(format!("{ns}.{}", n.target_type)));
            if let Some(p) = &n.partner {
                nav.insert("$Partner".into(), json!(p));
            }
            if n.collection {
                nav.insert("$Collection".into(), json!(true));
                t.insert(n.name.clone(), Value::Object(nav));
                continue;
            }
            if n.nullable {
                nav.insert("$Nullable".into(), json!(true));
            }
            nav.insert(
                "$ReferentialConstraint".into(),
                json!({ n.property.clone(): n.referenced_property.clone() }),
            );
            t.insert(n.name.clone(), Value::Object(nav));
        }
        schema.insert(ty.name.clone(), Value::Object(t));
    }
    let mut container = Map::new();
    container.insert("$Kind".into(), json!("EntityContainer"));
    for set in &model.entity_sets {
        let mut s = Map::new();
        s.insert("$Collection".into(), json!(true));
        s.insert(
            "$Type".into(),
            json!(format!("{ns}.{}", model.entity_types[set.entity_type].name)),
        );
        if !set.navigation_bindings.is_empty() {
            let b: Map<String, Value> = set
                .navigation_bindings
                .iter()
                .map(|(p, t)| (p.clone(), json!(t)))
                .collect();
            s.insert("$NavigationPropertyBinding".into(), Value::Object(b));
        }
        if let Some(temporal) = &set.temporal {
            s.insert(
                "@Temporal.ApplicationTimeSupport".into(),
                temporal_json(temporal),
            );
            if let Some(description) = long_description(temporal) {
                s.insert("@Core.LongDescription".into(), json!(description));
            }
        }
        container.insert(set.name.clone(), Value::Object(s));
    }
    container.insert(
        "@Aggregation.ApplySupported".into(),
        json!({ "Transformations": APPLY_TRANSFORMATIONS, "Rollup": "None" }),
    );
    schema.insert(model.container.clone(), Value::Object(container));
    let mut doc = Map::new();
    doc.insert("$Version".into(), json!("4.01"));
    doc.insert(
        "$Reference".into(),
        json!({
            AGGREGATION_VOCABULARY: { "$Include": [
                { "$Namespace": "Org.OData.Aggregation.V1", "$Alias": "Aggregation" }
            ] },
            CORE_VOCABULARY: { "$Include": [
                { "$Namespace": "Org.OData.Core.V1", "$Alias": "Core" }
            ] },
            TEMPORAL_VOCABULARY: { "$Include": [
                { "$Namespace": "Org.OData.Temporal.V1", "$Alias": "Temporal" }
            ] },
        }),
    );
    doc.insert(
        "$EntityContainer".into(),
        json!(format!("{ns}.{}", model.container)),
    );
    doc.insert(ns.clone(), Value::Object(schema));
    Value::Object(doc)
}
