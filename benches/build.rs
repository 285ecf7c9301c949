//! Records the build profile of the codec bench (from the workspace `Cargo.toml`) so the
//! bench prints it: cargo applies one profile to every crate of a binary, so bgp-proto and
//! the competitor codecs are compiled alike unless `[profile.bench.package.*]` overrides
//! exist, which this reports too.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=../Cargo.toml");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = PathBuf::from(manifest_dir).join("../Cargo.toml");
    let table: toml::Table = std::fs::read_to_string(&root)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let profile = |name: &str| {
        table
            .get("profile")
            .and_then(|p| p.get(name))
            .and_then(|p| p.as_table())
            .cloned()
            .unwrap_or_default()
    };
    let (bench, release) = (profile("bench"), profile("release"));
    let key = |k: &str| {
        bench
            .get(k)
            .or_else(|| release.get(k))
            .map(|v| v.to_string())
    };
    let overrides: Vec<String> = bench
        .get("package")
        .and_then(|p| p.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let line = format!(
        "opt-level {}, lto {}, codegen-units {}, per-crate overrides: {}",
        std::env::var("OPT_LEVEL").unwrap_or_else(|_| "?".into()),
        key("lto").unwrap_or_else(|| "false (default)".into()),
        key("codegen-units").unwrap_or_else(|| "16 (default)".into()),
        if overrides.is_empty() {
            "none".to_string()
        } else {
            overrides.join(", ")
        }
    );
    println!("cargo:rustc-env=CODEC_BENCH_PROFILE={line}");
}
