//! An OpenAPI 3.1 description of a model's service, generated from the same EDM model as
//! `$metadata`: each entity set's collection, entity by key and count, with the query options,
//! the entity types as schemas, the OAuth 2.0 and bearer security schemes, and the OData error.

use crate::edm::{EntityType, Model, PrimitiveType, Property};
use serde_json::{json, Map, Value};

/// What the description says about the service beyond its model.
pub struct Service<'a> {
    /// Its title.
    pub title: &'a str,
    /// The version of the model described (`v1.0`), sent as `api-version`.
    pub version: &'a str,
    /// The service root URL.
    pub root: &'a str,
    /// The OAuth 2.0 token endpoint.
    pub token_url: &'a str,
    /// The OAuth 2.0 authorization endpoint.
    pub authorization_url: &'a str,
    /// Collections with a `dateKey` (which take `maxhistorydays`).
    pub dated: &'a dyn Fn(&str) -> bool,
}

/// The OpenAPI 3.1 document of `model` served as `service` says.
pub fn to_openapi(model: &Model, service: &Service<'_>) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "/$metadata".into(),
        json!({"get": {
            "operationId": "metadata",
            "summary": "The service's CSDL description",
            "parameters": [{"$ref": "#/components/parameters/api-version"}],
            "responses": {
                "200": {"description": "CSDL XML", "content": {"application/xml": {"schema": {"type": "string"}}}},
                "default": error_response()
            }
        }}),
    );
    for set in &model.entity_sets {
        let ty = model.type_of(set);
        let dated = (service.dated)(&set.name);
        let temporal = set.temporal.is_some();
        let mut collection = collection_path(&set.name, &ty.name, dated);
        let mut count = count_path(&set.name, dated);
        let (template, key_parameters) = key_template(ty);
        let mut entity = entity_path(&set.name, &ty.name, key_parameters);
        if temporal {
            for path in [&mut collection, &mut count, &mut entity] {
                if let Some(Value::Array(parameters)) = path.pointer_mut("/get/parameters") {
                    parameters.extend(
                        TEMPORAL_PARAMETERS
                            .iter()
                            .map(|p| json!({"$ref": format!("#/components/parameters/{p}")})),
                    );
                }
            }
        }
        paths.insert(format!("/{}", set.name), collection);
        paths.insert(format!("/{}/$count", set.name), count);
        paths.insert(format!("/{}({template})", set.name), entity);
    }
    let mut schemas = Map::new();
    for ty in &model.entity_types {
        schemas.insert(ty.name.clone(), entity_schema(ty));
    }
    schemas.insert("ODataError".into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": service.title,
            "version": service.version,
            "description": "Read-only OData v4 service. Every request takes api-version; collections page with @odata.nextLink."
        },
        "servers": [{"url": service.root}],
        "security": [{"oauth2": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": parameters(service.version),
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {"tokenUrl": service.token_url, "scopes": {}},
                        "authorizationCode": {
                            "authorizationUrl": service.authorization_url,
                            "tokenUrl": service.token_url,
                            "scopes": {}
                        }
                    }
                },
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        }
    })
}

/// `GET /{set}`: a page of entities.
fn collection_path(set: &str, ty: &str, dated: bool) -> Value {
    let mut parameters: Vec<Value> = [
        "api-version",
        "filter",
        "select",
        "orderby",
        "top",
        "skip",
        "count",
        "expand",
        "search",
        "compute",
        "apply",
        "skiptoken",
    ]
    .iter()
    .map(|p| json!({"$ref": format!("#/components/parameters/{p}")}))
    .collect();
    if dated {
        parameters.push(json!({"$ref": "#/components/parameters/maxhistorydays"}));
    }
    json!({"get": {
        "operationId": format!("list_{set}"),
        "summary": format!("A page of {set}"),
        "parameters": parameters,
        "responses": {
            "200": {"description": "A page of entities", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "@odata.context": {"type": "string"},
                    "@odata.count": {"type": "integer"},
                    "@odata.nextLink": {"type": "string"},
                    "value": {"type": "array", "items": {"$ref": format!("#/components/schemas/{ty}")}}
                },
                "required": ["value"]
            }}}},
            "default": error_response()
        }
    }})
}

/// `GET /{set}/$count`: the number of matching entities, as text.
fn count_path(set: &str, dated: bool) -> Value {
    let mut parameters = vec![
        json!({"$ref": "#/components/parameters/api-version"}),
        json!({"$ref": "#/components/parameters/filter"}),
        json!({"$ref": "#/components/parameters/search"}),
    ];
    if dated {
        parameters.push(json!({"$ref": "#/components/parameters/maxhistorydays"}));
    }
    json!({"get": {
        "operationId": format!("count_{set}"),
        "summary": format!("The number of {set}"),
        "parameters": parameters,
        "responses": {
            "200": {"description": "The count", "content": {"text/plain": {"schema": {"type": "integer", "minimum": 0}}}},
            "default": error_response()
        }
    }})
}

/// `GET /{set}({key})`: one entity.
fn entity_path(set: &str, ty: &str, key_parameters: Vec<Value>) -> Value {
    let mut parameters = key_parameters;
    parameters.push(json!({"$ref": "#/components/parameters/api-version"}));
    parameters.push(json!({"$ref": "#/components/parameters/select"}));
    parameters.push(json!({"$ref": "#/components/parameters/expand"}));
    json!({"get": {
        "operationId": format!("get_{set}"),
        "summary": format!("One of {set} by its key"),
        "parameters": parameters,
        "responses": {
            "200": {"description": "The entity", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{ty}")}}}},
            "default": error_response()
        }
    }})
}

/// The key predicate of a path (`{deviceKey}`, or `dateKey={dateKey},deviceKey={deviceKey}`)
/// and its path parameters.
fn key_template(ty: &EntityType) -> (String, Vec<Value>) {
    let keys: Vec<&Property> = ty
        .key_indices()
        .iter()
        .map(|&i| &ty.properties[i])
        .collect();
    let template = match keys.as_slice() {
        [one] => format!("{{{}}}", one.name),
        many => many
            .iter()
            .map(|p| format!("{0}={{{0}}}", p.name))
            .collect::<Vec<_>>()
            .join(","),
    };
    let parameters = keys
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "in": "path",
                "required": true,
                "description": "A key value as OData writes it in a URL (strings in single quotes)",
                "schema": {"type": "string"}
            })
        })
        .collect();
    (template, parameters)
}

/// An entity type's JSON schema: each property by its type, null where the property may be.
fn entity_schema(ty: &EntityType) -> Value {
    let mut properties = Map::new();
    for p in &ty.properties {
        let mut schema = primitive_schema(p.ty);
        if p.nullable {
            let base = schema["type"].clone();
            schema["type"] = match base {
                Value::Array(mut types) => {
                    types.push(json!("null"));
                    Value::Array(types)
                }
                other => json!([other, "null"]),
            };
        }
        properties.insert(p.name.clone(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": ty.key
    })
}

/// The JSON schema of an EDM primitive type as the service writes it (64-bit integers and
/// decimals are strings with `IEEE754Compatible=true`).
fn primitive_schema(ty: PrimitiveType) -> Value {
    use PrimitiveType as P;
    match ty {
        P::Boolean => json!({"type": "boolean"}),
        P::Int16 | P::Int32 | P::Byte | P::SByte => json!({"type": "integer", "format": "int32"}),
        P::Int64 => json!({"type": ["integer", "string"], "format": "int64"}),
        P::Decimal => json!({"type": ["number", "string"], "format": "decimal"}),
        P::Double | P::Single => json!({"type": ["number", "string"], "format": "double"}),
        P::DateTimeOffset => json!({"type": "string", "format": "date-time"}),
        P::Date => json!({"type": "string", "format": "date"}),
        P::TimeOfDay => json!({"type": "string", "format": "time"}),
        P::Duration => json!({"type": "string", "format": "duration"}),
        P::Guid => json!({"type": "string", "format": "uuid"}),
        _ => json!({"type": "string"}),
    }
}

/// The temporal query options (OData Temporal) of the sets that keep their history.
const TEMPORAL_PARAMETERS: [&str; 4] = ["at", "from", "to", "toInclusive"];

/// The query options, shared by the paths.
fn parameters(version: &str) -> Value {
    let option = |name: &str, description: &str, schema: Value| {
        json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "schema": schema
        })
    };
    let text = || json!({"type": "string"});
    let count = || json!({"type": "integer", "minimum": 0});
    json!({
        "api-version": {
            "name": "api-version",
            "in": "query",
            "required": true,
            "description": "The model's version",
            "schema": {"type": "string", "enum": ["v1.0", "beta"], "default": version}
        },
        "filter": option("$filter", "Rows to return: an OData expression (`deviceTypeID eq 8 and isDeleted eq false`)", text()),
        "select": option("$select", "Properties to return, separated by commas", text()),
        "orderby": option("$orderby", "Sort order: expressions with asc or desc, separated by commas", text()),
        "top": option("$top", "Most rows to return", count()),
        "skip": option("$skip", "Rows to skip", count()),
        "count": option("$count", "Whether to return @odata.count", json!({"type": "boolean"})),
        "expand": option("$expand", "Related entities to return inline, with nested options", text()),
        "search": option("$search", "Words and phrases the string properties contain (AND, OR, NOT)", text()),
        "compute": option("$compute", "Computed properties: `expression as name`, separated by commas", text()),
        "apply": option("$apply", "Aggregation (OData Data Aggregation Extension 4.0)", text()),
        "skiptoken": option("$skiptoken", "Where a page continues; copied from @odata.nextLink", text()),
        "maxhistorydays": option("maxhistorydays", "The last days of history only (a filter on dateKey wins)", count()),
        "at": option("$at", "As of a point in time (OData Temporal): a date (the state that day ended with; a daily fact's rows of that day), a date-time, or max (the latest day published)", text()),
        "from": option("$from", "Every state within a period (OData Temporal) from this date or date-time; with $to or $toInclusive, or up to the latest day", text()),
        "to": option("$to", "The end of the period $from starts: its first instant (or day) outside it", text()),
        "toInclusive": option("$toInclusive", "The end of the period $from starts: its last instant (or day) inside it", text())
    })
}

/// Any status but 200: an OData error.
fn error_response() -> Value {
    json!({"description": "An OData error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ODataError"}}}})
}

/// The OData JSON error.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "target": {"type": ["string", "null"]},
                "details": {"type": "array", "items": {"type": "object", "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "target": {"type": ["string", "null"]},
                    "position": {"type": "integer"}
                }}}
            },
            "required": ["code", "message"]
        }},
        "required": ["error"]
    })
}
