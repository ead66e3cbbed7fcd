//! `$metadata` writers: CSDL XML (OData 4.0) and CSDL JSON (OData 4.01).

use crate::bind::APPLY_TRANSFORMATIONS;
use crate::edm::Model;
use quick_xml::escape::escape;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// Writes the model as a CSDL XML document (`application/xml`).
pub fn to_xml(model: &Model) -> String {
    let ns = escape(&model.namespace);
    let mut x = String::with_capacity(64 * 1024);
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str(
        "<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n",
    );
    let _ = writeln!(x, "  <edmx:Reference Uri=\"{AGGREGATION_VOCABULARY}\">");
    x.push_str(
        "    <edmx:Include Namespace=\"Org.OData.Aggregation.V1\" Alias=\"Aggregation\"/>\n",
    );
    x.push_str("  </edmx:Reference>\n");
    x.push_str("  <edmx:DataServices>\n");
    let _ = writeln!(
        x,
        "    <Schema Namespace=\"{ns}\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">"
    );
    for ty in &model.entity_types {
        let _ = writeln!(x, "      <EntityType Name=\"{}\">", escape(&ty.name));
        x.push_str("        <Key>\n");
        for k in &ty.key {
            let _ = writeln!(x, "          <PropertyRef Name=\"{}\"/>", escape(k));
        }
        x.push_str("        </Key>\n");
        for p in &ty.properties {
            let nullable = if p.nullable {
                ""
            } else {
                " Nullable=\"false\""
            };
            let precision = if p.ty == crate::edm::PrimitiveType::DateTimeOffset {
                " Precision=\"6\""
            } else {
                ""
            };
            let _ = writeln!(
                x,
                "        <Property Name=\"{}\" Type=\"{}\"{nullable}{precision}/>",
                escape(&p.name),
                p.ty.name()
            );
        }
        for n in &ty.navigation {
            let partner = n
                .partner
                .as_ref()
                .map(|p| format!(" Partner=\"{}\"", escape(p)))
                .unwrap_or_default();
            if n.collection {
                let _ = writeln!(
                    x,
                    "        <NavigationProperty Name=\"{}\" Type=\"Collection({ns}.{})\"{partner}/>",
                    escape(&n.name),
                    escape(&n.target_type)
                );
                continue;
            }
            let nullable = if n.nullable {
                ""
            } else {
                " Nullable=\"false\""
            };
            let _ = writeln!(
                x,
                "        <NavigationProperty Name=\"{}\" Type=\"{ns}.{}\"{nullable}{partner}>",
                escape(&n.name),
                escape(&n.target_type)
            );
            let _ = writeln!(
                x,
                "          <ReferentialConstraint Property=\"{}\" ReferencedProperty=\"{}\"/>",
                escape(&n.property),
                escape(&n.referenced_property)
            );
            x.push_str("        </NavigationProperty>\n");
        }
        x.push_str("      </EntityType>\n");
    }
    let _ = writeln!(
        x,
        "      <EntityContainer Name=\"{}\">",
        escape(&model.container)
    );
    for set in &model.entity_sets {
        let ty = &model.entity_types[set.entity_type];
        let _ = write!(
            x,
            "        <EntitySet Name=\"{}\" EntityType=\"{ns}.{}\"",
            escape(&set.name),
            escape(&ty.name)
        );
        if set.navigation_bindings.is_empty() {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n");
        for (path, target) in &set.navigation_bindings {
            let _ = writeln!(
                x,
                "          <NavigationPropertyBinding Path=\"{}\" Target=\"{}\"/>",
                escape(path),
                escape(target)
            );
        }
        x.push_str("        </EntitySet>\n");
    }
    x.push_str("        <Annotation Term=\"Aggregation.ApplySupported\">\n          <Record>\n");
    x.push_str(
        "            <PropertyValue Property=\"Transformations\">\n              <Collection>\n",
    );
    for t in APPLY_TRANSFORMATIONS {
        let _ = writeln!(x, "                <String>{t}</String>");
    }
    x.push_str("              </Collection>\n            </PropertyValue>\n");
    x.push_str("            <PropertyValue Property=\"Rollup\" EnumMember=\"Aggregation.RollupType/None\"/>\n");
    x.push_str("          </Record>\n        </Annotation>\n");
    x.push_str("      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n");
    x
}

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
        json!({ AGGREGATION_VOCABULARY: { "$Include": [
            { "$Namespace": "Org.OData.Aggregation.V1", "$Alias": "Aggregation" }
        ] } }),
    );
    doc.insert(
        "$EntityContainer".into(),
        json!(format!("{ns}.{}", model.container)),
    );
    doc.insert(ns.clone(), Value::Object(schema));
    Value::Object(doc)
}
