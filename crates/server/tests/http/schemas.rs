//! `$metadata` validated against the OASIS CSDL schemas with xmllint and jsonschema.

use super::*;

fn tool(name: &str) -> std::path::PathBuf {
    which(name).unwrap_or_else(|| {
        panic!("{name} is required by this test; run ./scripts/test, which installs it")
    })
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn spec_dir() -> std::path::PathBuf {
    std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../spec/odata")
}

#[test]
fn metadata_xml_validates_against_the_edmx_schema() {
    let dir = testkit::TempDir::new("metadata_xml");
    for version in ApiVersion::ALL {
        let r = get(&format!("/$metadata?api-version={}", version.as_str()));
        assert_eq!(r.status, 200);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/xml"));
        let file = dir.join(format!("{}.xml", version.as_str()));
        std::fs::write(&file, &r.body).unwrap();
        let out = std::process::Command::new(tool("xmllint"))
            .arg("--noout")
            .arg("--schema")
            .arg(spec_dir().join("edmx.xsd"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xmllint: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = r.text();
        assert!(text.contains("<NavigationProperty Name=\"deviceType\""));
        assert!(text.contains("<ReferentialConstraint Property=\"deviceTypeKey\" ReferencedProperty=\"deviceTypeKey\"/>"));
        assert_eq!(text.contains("currentUsers"), version == ApiVersion::Beta);
    }
}

#[test]
fn metadata_json_validates_against_the_csdl_json_schema() {
    let r = request(
        "GET",
        "/$metadata?api-version=beta",
        &[("Accept", "application/json")],
    );
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(
        doc["$EntityContainer"],
        "Microsoft.Intune.DataWarehouse.DataWarehouseFEService"
    );
    assert_eq!(
        doc["Microsoft.Intune.DataWarehouse"]["device"]["$Key"],
        serde_json::json!(["deviceKey"])
    );
    let dir = testkit::TempDir::new("metadata_json");
    let file = dir.join("metadata.json");
    std::fs::write(&file, &r.body).unwrap();
    // The OASIS schema uses \p{L} patterns, which need the `regex` package instead of `re`.
    let script = "import re, regex; re.search = regex.search; re.match = regex.match; re.compile = regex.compile\nimport json, sys, jsonschema\ns = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))\njsonschema.Draft7Validator.check_schema(s); jsonschema.validate(d, s, cls=jsonschema.Draft7Validator)";
    let out = std::process::Command::new(tool("python3"))
        .args(["-c", script])
        .arg(spec_dir().join("csdl.schema.json"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "CSDL JSON invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_openapi_description_is_valid_and_covers_every_collection() {
    for version in ["v1.0", "beta"] {
        let r = get(&format!("/openapi.json?api-version={version}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let doc = r.json();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], version);
        assert!(doc["servers"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with(server::BASE_PATH));
        let paths = doc["paths"].as_object().unwrap();
        let model = Warehouse::get().edm(ApiVersion::parse(version).unwrap());
        for set in &model.entity_sets {
            for path in [format!("/{}", set.name), format!("/{}/$count", set.name)] {
                assert!(paths.contains_key(&path), "{version}: {path}");
            }
            assert!(
                paths
                    .keys()
                    .any(|p| p.starts_with(&format!("/{}(", set.name))),
                "{version}: {}(key)",
                set.name
            );
            let ty = &model.type_of(set).name;
            assert!(
                doc["components"]["schemas"][ty]["properties"].is_object(),
                "{ty}"
            );
        }
        assert!(
            doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
                ["tokenUrl"]
                .as_str()
                .unwrap()
                .ends_with("/oauth2/token")
        );
        // a real validator (installed by ./scripts/test)
        let dir = testkit::TempDir::new("openapi");
        let file = dir.join("openapi.json");
        std::fs::write(&file, &r.body).unwrap();
        let out = std::process::Command::new(tool("python3"))
            .args([
                "-c",
                "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "OpenAPI invalid: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // what it describes answers as described: a page of a collection, and an error
    let page = get_ok("/devices?api-version=v1.0&$top=1&$select=deviceKey");
    assert!(page["value"].is_array());
}
