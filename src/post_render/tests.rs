use super::*;

const STREAM: &str = "---
# Source: demo/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo-config   # a comment the post-renderer keeps
data:
  message: \"hello\"
---
# Source: demo/templates/job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: demo-migrate
  annotations:
    helm.sh/hook: pre-upgrade
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: tool:1.0.0
";

fn documents(text: &str) -> Vec<Value> {
    crate::manifest::parse_manifests(text)
        .unwrap()
        .into_iter()
        .map(|o| o.value)
        .collect()
}

#[test]
fn hooks_get_the_webhooks_patch_and_other_documents_pass_byte_for_byte() {
    let policy = Policy::builtin();
    let out = post_render(&policy, STREAM, Some("team")).unwrap();
    assert!(out.denials.is_empty(), "{:?}", out.denials);
    assert_eq!(out.patched, 1);
    // The ConfigMap, comment included, is unchanged.
    assert!(out.manifests.starts_with(
        "---\n# Source: demo/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\n\
         metadata:\n  name: demo-config   # a comment the post-renderer keeps\n"
    ));
    // The Job is what the webhook's patch makes of it.
    let job = &documents(STREAM)[1];
    let verdict = evaluate(&policy, job, Some("team"));
    let mut expected = job.clone();
    json_patch::patch(&mut expected, &verdict.json_patch()).unwrap();
    assert_eq!(documents(&out.manifests)[1], expected);
    assert_eq!(
        expected["metadata"]["annotations"]["helm.sh/hook-delete-policy"],
        "before-hook-creation,hook-succeeded"
    );
    assert!(
        out.manifests
            .contains("# Source: demo/templates/job.yaml\n")
    );
}

#[test]
fn post_rendering_twice_changes_nothing_more() {
    let policy = Policy::builtin();
    let once = post_render(&policy, STREAM, None).unwrap();
    let twice = post_render(&policy, &once.manifests, None).unwrap();
    assert_eq!(twice.manifests, once.manifests);
    assert_eq!(twice.patched, 0);
}

#[test]
fn an_enforce_violation_is_reported_with_the_webhooks_message() {
    let stream = STREAM.replace(
        "        image: tool:1.0.0\n",
        "        image: tool:1.0.0\n        securityContext:\n          privileged: true\n",
    );
    let out = post_render(&Policy::builtin(), &stream, None).unwrap();
    assert_eq!(out.denials.len(), 1, "{out:?}");
    assert!(
        out.denials[0]
            .starts_with("helm-hooks policy denied this hook: privileged: Job/demo-migrate: "),
        "{}",
        out.denials[0]
    );
}

#[test]
fn invalid_yaml_names_the_line_and_non_objects_pass_through() {
    let e = post_render(&Policy::builtin(), "---\na: 1\n---\nkey: [unclosed\n", None).unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    let out = post_render(&Policy::builtin(), "# only a comment\n", None).unwrap();
    assert_eq!(out.manifests, "---\n# only a comment\n");
}
