//! Microsoft's MSAL for Python signs in to the built-in issuer through Entra ID's URL layout,
//! over TLS with a certificate from a throwaway CA, exactly as a user's script would: client
//! credentials with `authority` and with `oidc_authority`, the authorization code flow with
//! PKCE through a public client (the browser's part is played by the script), and
//! Azure.Identity's `ClientSecretCredential`. The script is `tests/clients/msal_flows.py`;
//! `scripts/test` installs `msal` and `azure-identity` from PyPI.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::{add_client, dw, dw_with_input, start, temp_dir};

mod support;

/// Writes a throwaway CA (`ca.pem`) and a server certificate for 127.0.0.1 and localhost signed
/// by it (`cert.pem`, `key.pem`).
fn write_ca_and_certificate(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Device Warehouse test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.use_authority_key_identifier_extension = true;
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

#[test]
fn msal_python_signs_in_through_the_entra_layout() {
    let dir = temp_dir("msal");
    let tenant = "contoso";
    let (ok, _, err) = dw(
        &dir,
        &[
            "generate",
            "--devices",
            "12",
            "--users",
            "12",
            "--days",
            "2",
            "--tenant",
            tenant,
        ],
    );
    assert!(ok, "{err}");
    let secret = add_client(&dir, "reporting-job", tenant);
    let (ok, out, err) = dw(
        &dir,
        &[
            "clients",
            "add",
            "powershell-cli",
            "--public",
            "--redirect-uri",
            "http://localhost",
            "--tenant",
            tenant,
        ],
    );
    assert!(ok && !out.contains("client_secret"), "{out}{err}");
    let (ok, _, err) = dw_with_input(
        &dir,
        &["users", "add", "megan", "--tenant", tenant],
        "correct horse battery staple\n",
    );
    assert!(ok, "{err}");
    write_ca_and_certificate(&dir);
    let server = start(
        &dir,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
        "msal",
    );
    let base = server.base.clone();
    assert!(base.starts_with("https://"), "{base}");

    let script = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("tests/clients/msal_flows.py");
    let out = Command::new("python3")
        .arg(&script)
        // requests lets these override the `verify=` MSAL is given (psf/requests#3829)
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .env("DW_BASE", &base)
        .env("DW_TENANT", tenant)
        .env("DW_CA", dir.join("ca.pem"))
        .env("DW_CONFIDENTIAL_ID", "reporting-job")
        .env("DW_CONFIDENTIAL_SECRET", &secret)
        .env("DW_PUBLIC_ID", "powershell-cli")
        .env("DW_USER", "megan")
        .env("DW_PASSWORD", "correct horse battery staple")
        .output()
        .expect("python3 runs (scripts/test installs it and msal)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the sign-ins failed (are msal and azure-identity installed? scripts/test installs them):\n{stderr}\n{}",
        server.stop()
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{report:#}");
    let issuer = format!("{base}/{tenant}/v2.0");
    let audience = format!("{base}/");
    for flow in [
        "authority",
        "oidc_authority",
        "authorization_code",
        "azure_identity",
    ] {
        let r = &report[flow];
        assert_eq!(r["iss"], issuer.as_str(), "{flow}: {r}");
        assert_eq!(r["aud"], audience.as_str(), "{flow}: {r}");
        assert_eq!(r["tid"], tenant, "{flow}: {r}");
        assert_eq!(
            (r["status"].as_u64(), r["count"].as_str()),
            (Some(200), Some("12")),
            "{flow}: the token reads the tenant's devices: {r}"
        );
    }
    for flow in ["authority", "oidc_authority"] {
        let r = &report[flow];
        assert_eq!(r["roles"], serde_json::json!(["get_data_warehouse"]), "{r}");
        assert_eq!(
            r["second_from_cache"], true,
            "MSAL caches the token it got: {r}"
        );
    }
    let user = &report["authorization_code"];
    assert_eq!(user["scp"], "get_data_warehouse", "{user}");
    assert_eq!(user["id_token_user"], "megan", "{user}");
    assert_eq!(
        user["accounts"],
        serde_json::json!(["megan"]),
        "MSAL made an account: {user}"
    );
    assert_eq!(user["silent_from_cache"], true, "{user}");
    server.stop();
}
