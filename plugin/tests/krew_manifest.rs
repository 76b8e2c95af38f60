//! krew-manifest.yaml (written by scripts/release-plugin) against krew's rules for a plugin
//! manifest, and every rule against a manifest that breaks it, so no check passes by accident.
//! Also: scripts/release-plugin refuses bad arguments before it installs or builds anything.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
const PLUGIN_NAME: &str = "hooks";
const MAX_SHORT_DESCRIPTION: usize = 50;
/// Every os/arch pair a release ships; each must be matched by exactly one platform.
const REQUIRED_PLATFORMS: [(&str, &str); 5] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load_manifest() -> Value {
    let path = repo_root().join("krew-manifest.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected_version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// `vMAJOR.MINOR.PATCH[-PRE][+BUILD]` as semver 2.0 and krew want it: the leading `v`, numeric
/// parts without leading zeros, dot-separated non-empty `[0-9A-Za-z-]` identifiers after.
fn is_semver_with_v(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let identifiers_ok = |s: &str, numeric_leading_zero_ok: bool| {
        s.split('.').all(|id| {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && (numeric_leading_zero_ok
                    || !(id.len() > 1
                        && id.starts_with('0')
                        && id.chars().all(|c| c.is_ascii_digit())))
        })
    };
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && !(p.len() > 1 && p.starts_with('0'))
        })
        && pre.is_none_or(|p| identifiers_ok(p, false))
        && build.is_none_or(|b| identifiers_ok(b, true))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// Where krew puts a `files` entry: `to` (relative to the install dir) joined with the file
/// name of `from`, without a leading `./`.
fn extracted_path(from: &str, to: &str) -> String {
    let name = from.rsplit('/').next().unwrap_or(from);
    let dir = to.trim_start_matches("./").trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The `matchLabels` of a platform's selector, or a problem: krew allows `matchExpressions`
/// too, but this project writes plain `os`/`arch` labels so that overlap can be decided here.
fn match_labels(index: usize, platform: &Value) -> Result<Vec<(String, String)>, String> {
    let field = format!("spec.platforms[{index}].selector");
    let selector = platform
        .get("selector")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{field}: missing; give it matchLabels {{os, arch}}"))?;
    if selector.contains_key("matchExpressions") {
        return Err(format!(
            "{field}.matchExpressions: not supported by this check; use matchLabels {{os, arch}}"
        ));
    }
    let labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{field}.matchLabels: missing; set os and arch"))?;
    let mut out = Vec::new();
    for (key, value) in labels {
        let value = value
            .as_str()
            .ok_or_else(|| format!("{field}.matchLabels.{key}: must be a string"))?;
        out.push((key.clone(), value.to_string()));
    }
    if out.is_empty() {
        return Err(format!(
            "{field}.matchLabels: specified but empty (matches every platform); set os and arch"
        ));
    }
    Ok(out)
}

/// Two `matchLabels` selectors can match the same platform unless some key has different
/// values in both; a selector without labels matches every platform.
fn selectors_overlap(a: &[(String, String)], b: &[(String, String)]) -> bool {
    a.iter()
        .all(|(ka, va)| b.iter().all(|(kb, vb)| ka != kb || va == vb))
}

fn selector_matches(labels: &[(String, String)], os: &str, arch: &str) -> bool {
    labels.iter().all(|(k, v)| match k.as_str() {
        "os" => v == os,
        "arch" => v == arch,
        _ => false,
    })
}

/// Every rule krew (and this project) has for the manifest; one line per problem, naming the
/// field and the fix. Empty when the manifest is fine.
fn check_manifest(manifest: &Value, expected_version: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let str_at = |pointer: &str| manifest.pointer(pointer).and_then(Value::as_str);

    if str_at("/apiVersion") != Some(API_VERSION) {
        problems.push(format!("apiVersion: must be {API_VERSION}"));
    }
    if str_at("/kind") != Some("Plugin") {
        problems.push("kind: must be Plugin".to_string());
    }
    if str_at("/metadata/name") != Some(PLUGIN_NAME) {
        problems.push(format!(
            "metadata.name: must be {PLUGIN_NAME} (the binary is kubectl-{PLUGIN_NAME})"
        ));
    }

    let version = str_at("/spec/version").unwrap_or("");
    if !is_semver_with_v(version) {
        problems.push(format!(
            "spec.version: {version:?} is not semver with a leading v (like v1.2.3)"
        ));
    }
    if version != expected_version {
        problems.push(format!(
            "spec.version: {version:?} differs from the workspace version {expected_version:?}; \
             run scripts/release-plugin {expected_version}"
        ));
    }

    match str_at("/spec/shortDescription") {
        None | Some("") => problems.push("spec.shortDescription: missing".to_string()),
        Some(short) => {
            let chars = short.chars().count();
            if chars > MAX_SHORT_DESCRIPTION {
                problems.push(format!(
                    "spec.shortDescription: {chars} characters, krew allows at most \
                     {MAX_SHORT_DESCRIPTION}; shorten it"
                ));
            }
            if short.contains('\n') || short.contains('\r') {
                problems.push("spec.shortDescription: must be a single line".to_string());
            }
        }
    }
    if str_at("/spec/description").is_none_or(|d| d.trim().is_empty()) {
        problems.push("spec.description: missing".to_string());
    }
    if !str_at("/spec/homepage").is_some_and(|h| h.starts_with("https://")) {
        problems.push("spec.homepage: missing or not an https URL".to_string());
    }

    let Some(platforms) = manifest
        .pointer("/spec/platforms")
        .and_then(Value::as_array)
    else {
        problems.push("spec.platforms: missing; list one entry per os/arch".to_string());
        return problems;
    };

    let mut selectors: Vec<(usize, Vec<(String, String)>)> = Vec::new();
    for (i, platform) in platforms.iter().enumerate() {
        let field = format!("spec.platforms[{i}]");
        let labels = match match_labels(i, platform) {
            Ok(labels) => labels,
            Err(problem) => {
                problems.push(problem);
                Vec::new()
            }
        };
        let label = |key: &str| {
            labels
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        for key in ["os", "arch"] {
            if label(key).is_none_or(str::is_empty) {
                problems.push(format!(
                    "{field}.selector.matchLabels.{key}: missing; every platform names its os and arch"
                ));
            }
        }
        for (key, _) in &labels {
            if key != "os" && key != "arch" {
                problems.push(format!(
                    "{field}.selector.matchLabels.{key}: krew sets only os and arch; remove it"
                ));
            }
        }
        let os = label("os").unwrap_or("");

        let field_str = |name: &str| platform.get(name).and_then(Value::as_str);
        match field_str("uri") {
            None => problems.push(format!("{field}.uri: missing")),
            Some(uri) => {
                if !uri.starts_with("https://") {
                    problems.push(format!("{field}.uri: {uri} must be https"));
                }
                if !(uri.ends_with(".tar.gz") || uri.ends_with(".zip")) {
                    problems.push(format!("{field}.uri: {uri} must end with .tar.gz or .zip"));
                }
                if version.is_empty() || !uri.contains(version) {
                    problems.push(format!(
                        "{field}.uri: {uri} does not contain the version {version:?}; \
                         run scripts/release-plugin"
                    ));
                }
            }
        }
        match field_str("sha256") {
            Some(sha) if is_sha256_hex(sha) => {}
            other => problems.push(format!(
                "{field}.sha256: {other:?} is not 64 lowercase hex digits; \
                 run scripts/release-plugin to fill it from the archive"
            )),
        }

        let files: Vec<(String, String)> = platform
            .get("files")
            .and_then(Value::as_array)
            .map(|files| {
                files
                    .iter()
                    .map(|f| {
                        let get = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("");
                        (get("from").to_string(), get("to").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        if files.is_empty() {
            problems.push(format!(
                "{field}.files: missing; list the binary and LICENSE with to: \".\""
            ));
        }
        for (j, (from, to)) in files.iter().enumerate() {
            if from.is_empty() || to.is_empty() {
                problems.push(format!("{field}.files[{j}]: needs both from and to"));
            }
            if from.starts_with('/') || to.starts_with('/') || to.split('/').any(|p| p == "..") {
                problems.push(format!(
                    "{field}.files[{j}]: from/to must stay inside the archive and install dir"
                ));
            }
        }
        let extracted: Vec<String> = files
            .iter()
            .map(|(from, to)| extracted_path(from, to))
            .collect();
        if !extracted.iter().any(|p| p == "LICENSE") {
            problems.push(format!(
                "{field}.files: LICENSE is not among the extracted files; add {{from: LICENSE, to: .}}"
            ));
        }

        match field_str("bin") {
            None | Some("") => problems.push(format!("{field}.bin: missing")),
            Some(bin) => {
                let bin_path = bin.trim_start_matches("./");
                if !extracted.iter().any(|p| p == bin_path) {
                    problems.push(format!(
                        "{field}.bin: {bin} is not among the extracted files {extracted:?}; \
                         add it to files"
                    ));
                }
                if os == "windows" && !bin.ends_with(".exe") {
                    problems.push(format!("{field}.bin: {bin} must end with .exe on windows"));
                }
                if os != "windows" && bin.ends_with(".exe") {
                    problems.push(format!("{field}.bin: {bin} ends with .exe outside windows"));
                }
            }
        }
        selectors.push((i, labels));
    }

    for (a, (i, la)) in selectors.iter().enumerate() {
        for (j, lb) in &selectors[a + 1..] {
            if selectors_overlap(la, lb) {
                problems.push(format!(
                    "spec.platforms[{i}] and spec.platforms[{j}]: selectors can match the same \
                     os/arch; give each a distinct os and arch"
                ));
            }
        }
    }
    for (os, arch) in REQUIRED_PLATFORMS {
        let matching = selectors
            .iter()
            .filter(|(_, labels)| selector_matches(labels, os, arch))
            .count();
        if matching != 1 {
            problems.push(format!(
                "spec.platforms: {os}/{arch} is matched by {matching} platforms, needs exactly 1"
            ));
        }
    }
    problems
}

#[test]
fn committed_manifest_follows_krews_rules() {
    let problems = check_manifest(&load_manifest(), &expected_version());
    assert!(
        problems.is_empty(),
        "krew-manifest.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn committed_manifest_points_at_this_repositorys_releases() {
    let manifest = load_manifest();
    let version = expected_version();
    let repository = env!("CARGO_PKG_REPOSITORY");
    assert_eq!(manifest["spec"]["homepage"], json!(repository));
    for platform in manifest["spec"]["platforms"].as_array().unwrap() {
        let os = platform["selector"]["matchLabels"]["os"].as_str().unwrap();
        let arch = platform["selector"]["matchLabels"]["arch"]
            .as_str()
            .unwrap();
        let ext = if os == "windows" { "zip" } else { "tar.gz" };
        assert_eq!(
            platform["uri"],
            json!(format!(
                "{repository}/releases/download/{version}/kubectl-hooks_{version}_{os}_{arch}.{ext}"
            )),
            "spec.platforms {os}/{arch}: uri"
        );
    }
}

/// The committed manifest with one change made by `edit`; its problems.
fn problems_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut manifest = load_manifest();
    edit(&mut manifest);
    check_manifest(&manifest, &expected_version())
}

fn assert_flags(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem containing {needle:?}, got {problems:#?}"
    );
}

fn platform_index(manifest: &Value, os: &str, arch: &str) -> usize {
    manifest["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["selector"]["matchLabels"] == json!({"os": os, "arch": arch}))
        .unwrap_or_else(|| panic!("no {os}/{arch} platform"))
}

#[test]
fn uppercase_sha256_is_a_problem() {
    let problems = problems_after(|m| {
        let sha = m["spec"]["platforms"][0]["sha256"]
            .as_str()
            .unwrap()
            .to_uppercase();
        m["spec"]["platforms"][0]["sha256"] = json!(sha);
    });
    assert_flags(&problems, "spec.platforms[0].sha256");
}

#[test]
fn short_or_missing_sha256_is_a_problem() {
    let problems = problems_after(|m| {
        let sha = m["spec"]["platforms"][1]["sha256"].as_str().unwrap()[..63].to_string();
        m["spec"]["platforms"][1]["sha256"] = json!(sha);
        m["spec"]["platforms"][2]
            .as_object_mut()
            .unwrap()
            .remove("sha256");
    });
    assert_flags(&problems, "spec.platforms[1].sha256");
    assert_flags(&problems, "spec.platforms[2].sha256");
}

#[test]
fn long_or_multiline_short_description_is_a_problem() {
    let fifty = "x".repeat(50);
    assert!(problems_after(|m| m["spec"]["shortDescription"] = json!(fifty)).is_empty());
    let problems = problems_after(|m| m["spec"]["shortDescription"] = json!("x".repeat(51)));
    assert_flags(&problems, "spec.shortDescription: 51 characters");
    let problems = problems_after(|m| m["spec"]["shortDescription"] = json!("two\nlines"));
    assert_flags(&problems, "spec.shortDescription: must be a single line");
}

#[test]
fn missing_platform_is_a_problem() {
    let problems = problems_after(|m| {
        let i = platform_index(m, "darwin", "arm64");
        m["spec"]["platforms"].as_array_mut().unwrap().remove(i);
    });
    assert_flags(&problems, "darwin/arm64 is matched by 0 platforms");
}

#[test]
fn overlapping_selectors_are_a_problem() {
    // The same os/arch twice.
    let problems = problems_after(|m| {
        let copy = m["spec"]["platforms"][0].clone();
        m["spec"]["platforms"].as_array_mut().unwrap().push(copy);
    });
    assert_flags(&problems, "selectors can match the same os/arch");
    assert_flags(&problems, "is matched by 2 platforms");

    // A selector with only `os` matches both of that os's arches.
    let problems = problems_after(|m| {
        let i = platform_index(m, "linux", "arm64");
        m["spec"]["platforms"][i]["selector"]["matchLabels"] = json!({"os": "linux"});
    });
    assert_flags(&problems, "selectors can match the same os/arch");
    assert_flags(&problems, "matchLabels.arch: missing");

    // A selector without labels matches everything.
    let problems = problems_after(|m| {
        m["spec"]["platforms"][3]["selector"] = json!({});
    });
    assert_flags(&problems, "spec.platforms[3].selector.matchLabels: missing");
    let problems = problems_after(|m| {
        m["spec"]["platforms"][3]["selector"] = json!({"matchLabels": {}});
    });
    assert_flags(
        &problems,
        "spec.platforms[3].selector.matchLabels: specified but empty",
    );
    assert_flags(&problems, "selectors can match the same os/arch");
}

#[test]
fn missing_license_is_a_problem() {
    let problems = problems_after(|m| {
        m["spec"]["platforms"][0]["files"]
            .as_array_mut()
            .unwrap()
            .retain(|f| f["from"] != json!("LICENSE"));
    });
    assert_flags(&problems, "spec.platforms[0].files: LICENSE is not among");
}

#[test]
fn bin_must_be_extracted_and_end_with_exe_on_windows() {
    let problems = problems_after(|m| {
        m["spec"]["platforms"][0]["bin"] = json!("kubectl-hook");
    });
    assert_flags(
        &problems,
        "spec.platforms[0].bin: kubectl-hook is not among",
    );

    let problems = problems_after(|m| {
        let i = platform_index(m, "windows", "amd64");
        m["spec"]["platforms"][i]["bin"] = json!("kubectl-hooks");
        m["spec"]["platforms"][i]["files"][0]["from"] = json!("kubectl-hooks");
    });
    assert_flags(&problems, "must end with .exe on windows");
}

#[test]
fn version_without_v_or_not_the_workspace_version_is_a_problem() {
    let bare = env!("CARGO_PKG_VERSION");
    let problems = problems_after(|m| m["spec"]["version"] = json!(bare));
    assert_flags(&problems, "is not semver with a leading v");

    let problems = problems_after(|m| m["spec"]["version"] = json!("v999.0.0"));
    assert_flags(&problems, "differs from the workspace version");
    // Every uri still names the old version.
    assert_flags(&problems, "does not contain the version \"v999.0.0\"");
}

#[test]
fn semver_parsing() {
    for good in [
        "v0.1.0",
        "v1.22.333",
        "v1.0.0-rc.1",
        "v1.0.0-alpha-2+build.007",
        "v0.0.0+x",
    ] {
        assert!(is_semver_with_v(good), "{good}");
    }
    for bad in [
        "0.1.0",
        "v0.1",
        "v0.1.0.0",
        "v01.1.0",
        "v1.0.0-",
        "v1.0.0-01",
        "v1.0.0+",
        "v1.0.0-a..b",
        "v1.x.0",
        "V1.0.0",
        "v1.0.0 ",
    ] {
        assert!(!is_semver_with_v(bad), "{bad}");
    }
}

#[test]
fn wrong_api_version_kind_and_name_are_problems() {
    let problems = problems_after(|m| {
        m["apiVersion"] = json!("krew.googlecontainertools.github.com/v1alpha1");
        m["kind"] = json!("Plugins");
        m["metadata"]["name"] = json!("kubectl-hooks");
    });
    assert_flags(&problems, "apiVersion: must be");
    assert_flags(&problems, "kind: must be Plugin");
    assert_flags(&problems, "metadata.name: must be hooks");
}

#[test]
fn plain_http_or_wrong_archive_uri_is_a_problem() {
    let problems = problems_after(|m| {
        let uri = m["spec"]["platforms"][0]["uri"]
            .as_str()
            .unwrap()
            .replacen("https://", "http://", 1);
        m["spec"]["platforms"][0]["uri"] = json!(uri);
        let uri = m["spec"]["platforms"][1]["uri"]
            .as_str()
            .unwrap()
            .replace(".tar.gz", ".tar.xz");
        m["spec"]["platforms"][1]["uri"] = json!(uri);
    });
    assert_flags(&problems, "must be https");
    assert_flags(&problems, "must end with .tar.gz or .zip");
}

// ---- scripts/release-plugin refuses bad arguments before installing or building anything ----

/// Runs the release script with `args` and an empty cache dir; its exit code, stderr, and
/// whether it put anything into the cache.
fn run_release_script(args: &[&str]) -> (Option<i32>, String, bool) {
    let cache = std::env::temp_dir().join(format!(
        "helm-hooks-release-test-{}-{}",
        std::process::id(),
        args.join("_").replace('/', "_")
    ));
    let _ = std::fs::remove_dir_all(&cache);
    let output = Command::new(repo_root().join("scripts/release-plugin"))
        .args(args)
        .env("HELM_HOOKS_CACHE", &cache)
        .current_dir(Path::new("/"))
        .output()
        .expect("run scripts/release-plugin");
    let touched = cache.exists();
    let _ = std::fs::remove_dir_all(&cache);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        touched,
    )
}

#[test]
fn release_script_rejects_bad_arguments_without_building() {
    let version = expected_version();
    let other = format!("{version}-not.this");
    let bare = version.trim_start_matches('v').to_string();
    let cases: [(&[&str], &str); 5] = [
        (&[], "usage: scripts/release-plugin VERSION"),
        (
            &[&version, "extra"],
            "usage: scripts/release-plugin VERSION",
        ),
        (&[&bare], "is not a semver version with a leading v"),
        (&["vbanana"], "is not a semver version with a leading v"),
        (&[&other], "differs from the workspace version"),
    ];
    for (args, expected) in cases {
        let (code, stderr, touched) = run_release_script(args);
        assert_eq!(code, Some(2), "{args:?}: exit code; stderr:\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: stderr should contain {expected:?}:\n{stderr}"
        );
        assert!(!touched, "{args:?}: the script wrote to its cache dir");
    }
}
