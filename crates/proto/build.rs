//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and generates prost messages and
//! tonic clients and servers, plus the descriptor sets for gRPC reflection: Kokeilu's own, and
//! one of the vendored `google.rpc` error details (no code generated: tonic-types has it).

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "kokeilu/common/v1/envelope.proto",
        "kokeilu/referral/v1/referral.proto",
        "kokeilu/teoffice/v1/te_office.proto",
        "kokeilu/trialarea/v1/trial_area.proto",
        "kokeilu/supervision/v1/supervision.proto",
        "kokeilu/supervisor/v1/supervisor.proto",
    ];
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("kokeilu_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    let vendor = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vendor");
    let rpc = protox::compile(
        ["google/rpc/error_details.proto", "google/rpc/status.proto"],
        [&vendor],
    )?;
    std::fs::write(out.join("google_rpc_descriptor.bin"), rpc.encode_to_vec())?;
    println!("cargo:rerun-if-changed={}", root.display());
    println!("cargo:rerun-if-changed={}", vendor.display());
    Ok(())
}
