use super::*;
use crate::objects::LiveStatus;
use crate::rows::LastRun;

fn now() -> Timestamp {
    "2026-05-01T12:00:00Z".parse().unwrap()
}

fn row(name: &str, kind: &str, weight: i64) -> HookRow {
    HookRow {
        release: "demo".into(),
        namespace: "team".into(),
        revision: 4,
        release_status: "deployed".into(),
        name: name.into(),
        kind: kind.into(),
        api_version: if kind == "Job" { "batch/v1" } else { "v1" }.into(),
        path: format!("hooks-demo/templates/{name}.yaml"),
        events: vec!["pre-upgrade".into()],
        weight,
        delete_policies: vec![],
        effective_delete_policies: vec!["before-hook-creation".into()],
        output_log_policies: vec![],
        labels: Default::default(),
        last_run: LastRun {
            phase: HookPhase::Succeeded,
            started_at: Some("2026-05-01T11:55:00Z".parse().unwrap()),
            completed_at: Some("2026-05-01T11:55:03.5Z".parse().unwrap()),
        },
        status: LiveStatus::Complete,
        reason: None,
        object_namespace: Some("team".into()),
        uid: Some("0000-1111".into()),
        creation_timestamp: Some("2026-05-01T11:55:00Z".parse().unwrap()),
        kubectl_kind: if kind == "Job" {
            "job.batch"
        } else {
            "serviceaccount"
        }
        .into(),
        first_deployed: None,
    }
}

fn options(output: Output) -> PrintOptions {
    PrintOptions {
        output,
        no_headers: false,
        show_namespace: false,
        show_release: false,
        now: now(),
    }
}

fn render(rows: &[HookRow], options: &PrintOptions) -> String {
    let mut out = Vec::new();
    print_hooks(rows, options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn rows() -> Vec<HookRow> {
    let mut sa = row("demo-hooks", "ServiceAccount", -10);
    sa.status = LiveStatus::Present;
    sa.last_run = LastRun::default();
    sa.creation_timestamp = Some("2026-04-27T07:00:00Z".parse().unwrap());
    let mut absent = row("demo-db-migrate", "Job", -5);
    absent.status = LiveStatus::Absent;
    absent.creation_timestamp = None;
    absent.delete_policies = vec!["before-hook-creation".into(), "hook-succeeded".into()];
    absent.effective_delete_policies = absent.delete_policies.clone();
    vec![sa, absent, row("demo-backup", "Job", 0)]
}

#[test]
fn table_is_aligned_like_kubectl() {
    let text = render(&rows(), &options(Output::Table));
    let expected = "\
NAME                        EVENTS        WEIGHT   DELETE   LAST-RUN    STATUS     AGE
serviceaccount/demo-hooks   pre-upgrade   -10      bhc      <none>      Present    4d5h
job/demo-db-migrate         pre-upgrade   -5       bhc,hs   Succeeded   Absent     -
job/demo-backup             pre-upgrade   0        bhc      Succeeded   Complete   5m
";
    assert_eq!(text, expected);
}

#[test]
fn wide_adds_started_duration_revision_path() {
    let mut o = options(Output::Wide);
    o.no_headers = true;
    let text = render(&rows()[2..], &o);
    assert_eq!(
        text,
        "job/demo-backup   pre-upgrade   0     before-hook-creation   Succeeded   Complete   5m    \
             2026-05-01T11:55:00Z   3s    4     hooks-demo/templates/demo-backup.yaml   <none>\n"
    );
}

#[test]
fn events_share_their_pre_or_post_in_the_table() {
    let events =
        |list: &[&str]| compact_events(&list.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    assert_eq!(
        events(&["pre-install", "pre-upgrade"]),
        "pre-{install,upgrade}"
    );
    assert_eq!(
        events(&["post-install", "test", "post-upgrade", "post-rollback"]),
        "post-{install,upgrade,rollback},test"
    );
    assert_eq!(
        events(&["pre-install", "post-install"]),
        "pre-install,post-install"
    );
    assert_eq!(events(&["test"]), "test");
}

#[test]
fn failure_reason_is_the_last_wide_column() {
    let mut failed = rows()[2].clone();
    failed.status = LiveStatus::Failed;
    failed.reason =
        Some("BackoffLimitExceeded: Job has reached the specified backoff limit".into());
    let text = render(&[failed], &options(Output::Wide));
    let header = text.lines().next().unwrap();
    assert!(
        header.ends_with("PATH                                    REASON"),
        "{header}"
    );
    assert!(
        text.ends_with("   BackoffLimitExceeded: Job has reached the specified backoff limit\n"),
        "{text}"
    );
}

#[test]
fn namespace_and_release_columns_come_first() {
    let mut o = options(Output::Table);
    o.show_namespace = true;
    o.show_release = true;
    let text = render(&rows()[..1], &o);
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("NAMESPACE   RELEASE   NAME"), "{header}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("team        demo      serviceaccount/demo-hooks")
    );
}

/// Issue 14: `-o name` printed objects that no longer exist; only live hook objects now.
#[test]
fn name_output() {
    let mut all = rows();
    all[1].status = LiveStatus::Absent;
    assert_eq!(
        render(&all, &options(Output::Name)),
        "serviceaccount/demo-hooks\njob.batch/demo-backup\n"
    );
}

#[test]
fn json_output_is_a_hook_list() {
    let text = render(&rows()[2..], &options(Output::Json));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["kind"], "HookList");
    let item = &v["items"][0];
    assert_eq!(item["name"], "demo-backup");
    assert_eq!(item["apiVersion"], "batch/v1");
    assert_eq!(item["status"], "Complete");
    assert_eq!(item["lastRun"]["phase"], "Succeeded");
    assert_eq!(item["lastRun"]["startedAt"], "2026-05-01T11:55:00Z");
    assert_eq!(item["effectiveDeletePolicies"][0], "before-hook-creation");
    assert_eq!(item["revision"], 4);
    assert!(item.get("kubectlKind").is_none());
}

#[test]
fn yaml_output_parses_back() {
    let text = render(&rows(), &options(Output::Yaml));
    let v: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    assert_eq!(v["items"][0]["lastRun"]["phase"], "Unknown");
}

#[test]
fn short_cells_are_padded_to_the_minimum_width() {
    let mut out = Vec::new();
    write_table(
        &mut out,
        &["A", "B"],
        &[vec!["x".into(), "y".into()]],
        false,
    )
    .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "A     B\nx     y\n");
}

#[test]
fn age_uses_human_duration() {
    let n = now();
    let ago = |s: i64| n.checked_sub(jiff::SignedDuration::from_secs(s)).unwrap();
    assert_eq!(age(ago(45), n), "45s");
    assert_eq!(age(ago(300), n), "5m");
    assert_eq!(age(ago(3 * 3600), n), "3h");
    assert_eq!(age(ago(2 * 86400), n), "2d");
    assert_eq!(age(ago(4 * 86400 + 5 * 3600), n), "4d5h");
    assert_eq!(
        age(
            n.checked_add(jiff::SignedDuration::from_secs(5)).unwrap(),
            n
        ),
        "<invalid>"
    );
}

/// The printers on `list`'s rows of the real helm 3 and helm 4 release records.
mod real_records {
    use super::*;
    use crate::releases::Record;
    use crate::rows::{attach_live, rows_of};
    use crate::testdata::{HELMS, Helm, SECRET_VALUE, live, lookup};

    /// Two hours after the live objects were created.
    fn later() -> Timestamp {
        "2026-11-21T08:50:00Z".parse().unwrap()
    }

    /// `list`'s rows of `record`, with what stays live after `helm test` of v2: the
    /// ServiceAccount and demo-seed (before-hook-creation only) and the test Pod.
    fn hook_rows(helm: &Helm, record: &Record) -> Vec<HookRow> {
        let ns = helm.namespace;
        let lookup = lookup(vec![
            live("ServiceAccount", ns, "demo-hooks", LiveStatus::Present),
            live("Job", ns, "demo-seed", LiveStatus::Complete),
            live("Pod", ns, "demo-smoke-test", LiveStatus::Succeeded),
        ]);
        let mut rows = rows_of(record, None);
        attach_live(&mut rows, &lookup);
        rows.into_iter().map(|(_, row)| row).collect()
    }

    fn render_at(rows: &[HookRow], output: Output, no_headers: bool) -> String {
        let mut o = options(output);
        o.now = later();
        o.no_headers = no_headers;
        render(rows, &o)
    }

    /// The cells of each line (no cell holds a space).
    fn cells(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    }

    /// Column `i` of every line.
    fn column(text: &str, i: usize) -> Vec<String> {
        cells(text).into_iter().map(|c| c[i].clone()).collect()
    }

    #[test]
    fn v2_table_has_every_hook_in_helm_order_with_last_run_and_live_status() {
        // pre-install: demo-hooks (-20), demo-config-validate (-10); post-install: demo-seed
        // (5), demo-notify (10); pre-upgrade adds demo-db-migrate (-5), the backup (-1);
        // test: demo-smoke-test (no weight). AGE as kubectl prints 2h: 120m.
        let expected = "\
NAME                         EVENTS                   WEIGHT   DELETE   LAST-RUN    STATUS      AGE
serviceaccount/demo-hooks    pre-{install,upgrade}    -20      bhc      Succeeded   Present     120m
pod/demo-config-validate     pre-{install,upgrade}    -10      hs       Succeeded   Absent      -
job/demo-seed                post-{install,upgrade}   5        bhc      Succeeded   Complete    120m
job/demo-notify              post-{install,upgrade}   10       hs       Succeeded   Absent      -
job/demo-db-migrate          pre-upgrade              -5       bhc,hs   Succeeded   Absent      -
job/demo-backup-XXXXXXXXXX   pre-upgrade              -1       hs       Succeeded   Absent      -
pod/demo-smoke-test          test                     0        bhc      Succeeded   Succeeded   120m
";
        for helm in HELMS {
            // demo-backup-<unix time>: the same width in every record.
            let expected = expected.replace("demo-backup-XXXXXXXXXX", &helm.backup(2));
            let rows = hook_rows(helm, &helm.secret(2));
            let table = render_at(&rows, Output::Table, false);
            assert_eq!(table, expected, "{}", helm.prefix);
            // Issue 14: the default table was 147 columns wide on this release.
            let widest = table.lines().map(|l| l.chars().count()).max().unwrap();
            assert!(widest <= 100, "{widest} columns:\n{table}");
        }
    }

    #[test]
    fn wide_shows_started_duration_revision_and_path_from_the_record() {
        for helm in HELMS {
            let text = render_at(&hook_rows(helm, &helm.secret(2)), Output::Wide, true);
            assert_eq!(
                column(&text, 10),
                [
                    "hooks-demo/templates/hook-serviceaccount.yaml",
                    "hooks-demo/templates/hook-config-validate.yaml",
                    "hooks-demo/templates/hook-seed.yaml",
                    "hooks-demo/templates/hook-notify.yaml",
                    "hooks-demo/templates/hook-db-migrate.yaml",
                    "hooks-demo/templates/hook-backup.yaml",
                    "hooks-demo/templates/tests/smoke-test.yaml",
                ],
                "{}",
                helm.prefix
            );
            assert!(column(&text, 9).iter().all(|r| r == "2"), "{text}");
            // Each STARTED is the record's started_at to the second; DURATION is the time from
            // started_at to completed_at: milliseconds below a second, else whole seconds.
            let record = helm.secret(2);
            for line in cells(&text) {
                let hook = record
                    .release
                    .hooks
                    .iter()
                    .find(|h| line[0].ends_with(&format!("/{}", h.name)))
                    .unwrap();
                let started = hook.last_run.started().unwrap();
                let completed = hook.last_run.completed().unwrap();
                assert!(
                    started.starts_with("2026-") && started.ends_with('Z'),
                    "{started}"
                );
                assert_eq!(line[7], format!("{}Z", &started[..19]), "{}", helm.prefix);
                let at = |t: &str| t.parse::<Timestamp>().unwrap();
                let took = at(completed).duration_since(at(started));
                assert!((0..60_000).contains(&took.as_millis()), "{took:?}");
                let expected = if took.as_millis() < 1000 {
                    format!("{}ms", took.as_millis())
                } else {
                    format!("{}s", took.as_secs())
                };
                assert_eq!(line[8], expected, "{}", line[0]);
            }
        }
    }

    #[test]
    fn last_run_reads_failed_and_never_run_hooks_alike_from_helm_3_and_4() {
        for helm in HELMS {
            // v1 (install): the pre-upgrade and test hooks never ran.
            let v1 = render_at(&hook_rows(helm, &helm.secret(1)), Output::Wide, true);
            let backup_v1 = helm.backup(1);
            assert_eq!(
                column(&v1, 0),
                [
                    "serviceaccount/demo-hooks",
                    "pod/demo-config-validate",
                    "job/demo-seed",
                    "job/demo-notify",
                    "job/demo-db-migrate",
                    format!("job/{backup_v1}").as_str(),
                    "pod/demo-smoke-test"
                ]
            );
            assert_eq!(
                column(&v1, 4),
                [
                    "Succeeded",
                    "Succeeded",
                    "Succeeded",
                    "Succeeded",
                    "<none>",
                    "<none>",
                    "<none>"
                ],
                "{}",
                helm.prefix
            );
            // v3: demo-db-migrate failed; the backup after it and the post-upgrade hooks
            // never ran (helm 4 omits their zero times, helm 3 writes "").
            let v3 = render_at(&hook_rows(helm, &helm.secret(3)), Output::Wide, true);
            assert_eq!(column(&v3, 0)[5], format!("job/{}", helm.backup(3)));
            assert_eq!(
                column(&v3, 4),
                [
                    "Succeeded",
                    "Succeeded",
                    "<none>",
                    "<none>",
                    "Failed",
                    "<none>",
                    "<none>"
                ],
                "{}",
                helm.prefix
            );
            let backup = &cells(&v3)[5];
            assert_eq!(backup[7..10], ["<none>", "<none>", "3"], "{}", helm.prefix);
            // demo-seed has no recorded policy in v3 (Helm never ran it): the default shows.
            assert_eq!(cells(&v3)[2][3], "before-hook-creation");
        }
    }

    #[test]
    fn name_output_uses_kubectl_resource_names() {
        for helm in HELMS {
            // Only the live ones (the others are Absent after helm test of v2).
            let text = render_at(&hook_rows(helm, &helm.secret(2)), Output::Name, false);
            let expected = "serviceaccount/demo-hooks\njob.batch/demo-seed\npod/demo-smoke-test\n";
            assert_eq!(text, expected, "{}", helm.prefix);
        }
    }

    #[test]
    fn json_and_yaml_of_every_record_never_print_the_values() {
        for helm in HELMS {
            let mut records = helm.secrets();
            records.push(helm.configmap());
            for record in &records {
                let what = format!("{} {}", helm.prefix, record.reference.object_name);
                // The values do hold the secret: the printers must leave them out.
                let config = record.release.config.as_ref().expect("config");
                assert!(config.reveal().contains(SECRET_VALUE), "{what}");
                let rows = hook_rows(helm, record);
                let json = render_at(&rows, Output::Json, false);
                let yaml = render_at(&rows, Output::Yaml, false);
                for text in [&json, &yaml] {
                    assert!(!text.contains(SECRET_VALUE), "{what}: {text}");
                    assert!(!text.contains("dbPassword"), "{what}");
                }
                let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
                let from_yaml: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
                assert_eq!(from_json, from_yaml, "{what}");
                let items = from_json["items"].as_array().unwrap();
                assert_eq!(items.len(), 7, "{what}");
                assert!(
                    items
                        .iter()
                        .all(|i| i["namespace"] == record.reference.namespace
                            && i["revision"] == record.reference.meta.revision
                            && i["release"] == "demo"),
                    "{what}"
                );
            }
        }
    }

    #[test]
    fn json_last_run_of_the_failed_record() {
        for helm in HELMS {
            let rows = hook_rows(helm, &helm.secret(3));
            let v: serde_json::Value =
                serde_json::from_str(&render_at(&rows, Output::Json, false)).unwrap();
            let item = |name: &str| {
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["name"] == name)
                    .unwrap_or_else(|| panic!("{name}"))
                    .clone()
            };
            // The times as helm wrote them (RFC 3339, nanoseconds).
            let record = helm.secret(3);
            let recorded = &record
                .release
                .hooks
                .iter()
                .find(|h| h.name == "demo-db-migrate")
                .unwrap()
                .last_run;
            let started = recorded.started_at.as_deref().unwrap();
            let completed = recorded.completed_at.as_deref().unwrap();
            assert!(started.starts_with("2026-") && started < completed);
            let migrate = item("demo-db-migrate");
            assert_eq!(
                migrate["lastRun"],
                serde_json::json!({"phase": "Failed", "startedAt": started, "completedAt": completed}),
                "{}",
                helm.prefix
            );
            assert_eq!(migrate["apiVersion"], "batch/v1");
            assert_eq!(
                migrate["deletePolicies"],
                serde_json::json!(["before-hook-creation", "hook-succeeded"])
            );
            assert_eq!(
                migrate["outputLogPolicies"],
                serde_json::json!(["hook-failed"])
            );
            // Never run: the same document whether helm wrote "" (3) or nothing (4).
            let backup = item(&helm.backup(3));
            assert_eq!(
                backup["lastRun"],
                serde_json::json!({"phase": "Unknown"}),
                "{}",
                helm.prefix
            );
            let seed = item("demo-seed");
            assert_eq!(seed["deletePolicies"], serde_json::json!([]));
            assert_eq!(
                seed["effectiveDeletePolicies"],
                serde_json::json!(["before-hook-creation"])
            );
            assert_eq!(seed["status"], "Complete");
            assert_eq!(seed["uid"], format!("uid-{}-demo-seed", helm.namespace));
        }
    }
}

fn orphan_row(name: &str, status: LiveStatus) -> OrphanRow {
    OrphanRow {
        namespace: "team".into(),
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: name.into(),
        kubectl_name: format!("job.batch/{name}"),
        cluster_scoped: false,
        uid: "0000-2222".into(),
        release: "team/demo".into(),
        status,
        creation_timestamp: Some("2026-05-01T10:00:00Z".parse().unwrap()),
        evidence: "stamped by the janitor; the release has no records (uninstalled)".into(),
    }
}

#[test]
fn orphans_table_shows_release_status_age_and_evidence() {
    let rows = [orphan_row("demo-migrate", LiveStatus::Complete)];
    let mut options = options(Output::Table);
    options.show_namespace = true;
    let mut out = Vec::new();
    print_orphans(&rows, &options, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "NAMESPACE   NAME                     RELEASE     STATUS     AGE    EVIDENCE\n\
         team        job.batch/demo-migrate   team/demo   Complete   120m   stamped by the janitor; \
         the release has no records (uninstalled)\n"
    );
}

#[test]
fn orphans_name_and_json_output() {
    let rows = [orphan_row("demo-migrate", LiveStatus::Failed)];
    let mut out = Vec::new();
    print_orphans(&rows, &options(Output::Name), &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "job.batch/demo-migrate\n");
    let mut out = Vec::new();
    print_orphans(&rows, &options(Output::Json), &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["kind"], "OrphanList");
    assert_eq!(json["items"][0]["release"], "team/demo");
    assert_eq!(json["items"][0]["status"], "Failed");
    assert_eq!(json["items"][0]["uid"], "0000-2222");
}
