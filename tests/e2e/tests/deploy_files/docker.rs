//! The Dockerfile builds and runs the `kokeilu` binary from paths that exist.

use super::*;

/// Dockerfile instructions with continuation lines joined: (INSTRUCTION, arguments).
pub(super) fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (inst, args) = current.split_once(' ').unwrap_or((current.as_str(), ""));
        out.push((inst.to_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

pub(super) fn docker_ignored() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect()
}

/// The `[[bin]]` targets of the package that builds `kokeilu`, and that package's name.
pub(super) fn cli_package() -> (String, Vec<String>) {
    let manifest: toml::Table = toml::from_str(&read("cli/Cargo.toml")).unwrap();
    let name = manifest["package"]["name"].as_str().unwrap().to_owned();
    let bins = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .map(|bins| {
            bins.iter()
                .map(|b| b["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (name, bins)
}

#[test]
fn dockerfile_copies_existing_paths_and_runs_the_kokeilu_binary() {
    let instructions = dockerfile();
    let ignored = docker_ignored();
    let (package, bins) = cli_package();
    assert!(
        bins.contains(&"kokeilu".to_owned()),
        "no kokeilu bin in {bins:?}"
    );

    let mut copied_from_builder = Vec::new();
    let mut built = Vec::new();
    let mut stages = Vec::new();
    for (inst, args) in &instructions {
        match inst.as_str() {
            "FROM" => {
                if let Some((_, name)) = args.split_once(" AS ") {
                    stages.push(name.trim().to_owned());
                }
            }
            "COPY" => {
                let words: Vec<&str> = args.split_whitespace().collect();
                let from = words.iter().find_map(|w| w.strip_prefix("--from="));
                let paths: Vec<&str> = words
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let (sources, _dest) = paths.split_at(paths.len() - 1);
                assert!(!sources.is_empty(), "COPY without source: {args}");
                for src in sources {
                    match from {
                        Some(stage) => {
                            assert!(stages.iter().any(|s| s == stage), "no stage {stage}");
                            copied_from_builder.push((*src).to_owned());
                        }
                        None => {
                            let path = root().join(src);
                            assert!(path.exists(), "COPY source {src} does not exist");
                            let rel = src.trim_start_matches("./").trim_end_matches('/');
                            assert!(
                                !ignored
                                    .iter()
                                    .any(|i| i == rel || rel.starts_with(&format!("{i}/"))),
                                "COPY source {src} is excluded by .dockerignore"
                            );
                        }
                    }
                }
            }
            "RUN" => built.push(args.clone()),
            _ => {}
        }
    }
    // Every workspace member is in the build context (cargo reads every member's manifest).
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let copied: Vec<String> = instructions
        .iter()
        .filter(|(i, a)| i == "COPY" && !a.contains("--from"))
        .flat_map(|(_, a)| {
            let w: Vec<String> = a.split_whitespace().map(str::to_owned).collect();
            w[..w.len() - 1].to_vec()
        })
        .collect();
    for member in manifest["workspace"]["members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let top = member.split('/').next().unwrap();
        assert!(
            copied
                .iter()
                .any(|c| c.trim_start_matches("./").trim_end_matches('/') == top
                    || c.trim_start_matches("./").trim_end_matches('/') == member),
            "workspace member {member} is not copied into the build"
        );
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        assert!(copied.iter().any(|c| c == file), "{file} is not copied");
    }

    // The build builds the kokeilu binary of the cli package, and the runtime stage takes it.
    let build = built
        .iter()
        .find(|r| r.contains("cargo build"))
        .expect("no cargo build in the Dockerfile");
    assert!(
        build.contains("--release") && build.contains("--locked"),
        "{build}"
    );
    assert!(
        build.contains(&format!("-p {package}")),
        "{build} does not build {package}"
    );
    assert!(build.contains("--bin kokeilu"), "{build}");
    assert!(
        build.contains("target/release/kokeilu"),
        "{build} does not take the binary"
    );
    for src in &copied_from_builder {
        assert!(
            built.iter().any(|r| r.contains(src.as_str())),
            "{src} is copied from the builder but no RUN produces it"
        );
    }

    // Non-root, the kokeilu entry point, the ports of the services.
    let user = instructions
        .iter()
        .rev()
        .find(|(i, _)| i == "USER")
        .map(|(_, a)| a.clone());
    let user = user.expect("no USER: the image would run as root");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "USER {user} must be a numeric non-root id"
    );
    let entrypoint = instructions
        .iter()
        .find(|(i, _)| i == "ENTRYPOINT")
        .unwrap();
    let entrypoint: Vec<String> = serde_json::from_str(&entrypoint.1).unwrap();
    assert!(
        bins.contains(&entrypoint[0]),
        "ENTRYPOINT {entrypoint:?} is no bin target"
    );
    let exposed: BTreeSet<u16> = instructions
        .iter()
        .filter(|(i, _)| i == "EXPOSE")
        .flat_map(|(_, a)| {
            a.split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(exposed, BTreeSet::from([GRPC_PORT, STATS_PORT, ADMIN_PORT]));

    // ENV settings exist and listen on the exposed ports.
    let all = all_settings();
    for (inst, args) in &instructions {
        if inst != "ENV" {
            continue;
        }
        for pair in args.split_whitespace() {
            let (name, value) = pair.split_once('=').unwrap();
            assert!(
                all.values().any(|s| s.contains_key(name)),
                "ENV {name} is no setting of any service"
            );
            if name.ends_with("_LISTEN") {
                assert!(
                    exposed.contains(&port_of(value)),
                    "{name}={value} is not exposed"
                );
            }
        }
    }
}
