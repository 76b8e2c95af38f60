//! `kubectl hooks rerun RELEASE --event EVENT`: runs the hooks of one event again, exactly as
//! Helm would ([`plan`] decides, [`exec`] moves bytes). Asks for confirmation unless `--yes`,
//! refuses while the release has an operation in flight (`pending-*`), and never rewrites
//! Helm's release record.

pub(crate) mod access;
pub(crate) mod exec;
pub(crate) mod logs;
pub(crate) mod plan;
pub(crate) mod progress;

use crate::client::Cluster;
use crate::discovery;
use crate::error::{Error, Result};
use crate::options::{Connection, RerunOptions};
use crate::releases::Store;
use helm_hooks::ownership::ReleaseHooks;
use helm_hooks::release::Status;
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};

/// Runs `rerun`.
pub async fn run(kube: &Cluster, connection: &Connection, options: &RerunOptions) -> Result<u8> {
    let store = Store::new(kube.client.clone(), connection.driver);
    let namespace = kube.namespace.as_str();
    let records = store
        .records(Some(namespace), Some(&options.release))
        .await?;
    let latest = store
        .select_or_locate(&records, &options.release, None, Some(namespace))
        .await?;
    refuse_in_flight(&options.release, &latest.meta.status, latest.meta.revision)?;
    // Every stored revision: what rerun deletes must be a hook run of one of them.
    let all = store.fetch_all(&records).await?;
    let owner = ReleaseHooks::new(all.iter().map(|r| &r.release));
    let record = all
        .into_iter()
        .find(|r| r.reference == latest)
        .expect("the latest revision is among the records");
    refuse_in_flight(
        &options.release,
        record.release.status().as_str(),
        latest.meta.revision,
    )?;
    let plan = plan::plan(&record, options.event, &options.hooks)?;

    let mut stdout = std::io::stdout();
    plan.write(&mut stdout).map_err(Error::Io)?;
    let kinds: BTreeSet<_> = plan.steps.iter().map(|s| s.hook.type_key.clone()).collect();
    let resolution = discovery::resolve(&kube.client, &kinds).await?;
    // Every precondition the run checks, before anything is created; a dry run reports them
    // all and stops there.
    let mut problems = Vec::new();
    for step in &plan.steps {
        if resolution
            .get(&step.hook.type_key)
            .is_none_or(Option::is_none)
        {
            problems.push(discovery::unserved_error(
                &step.hook.type_key,
                &step.hook.name,
            ));
        }
    }
    if problems.is_empty() {
        match access::check(
            &kube.client,
            &access::needs(&plan, &resolution, options.logs),
        )
        .await
        {
            // Reading the existing objects needs those permissions too.
            Ok(()) => {
                problems.extend(exec::blocked_creates(kube, &plan, &resolution, &owner).await?)
            }
            Err(e) => problems.push(e),
        }
    }
    if options.dry_run {
        if problems.is_empty() {
            writeln!(
                stdout,
                "Every precondition holds (permissions, no object in the way).\n\
                 Dry run: nothing was changed."
            )
            .map_err(Error::Io)?;
            return Ok(crate::EXIT_OK);
        }
        for problem in &problems {
            eprintln!("error: {}", crate::error::render(problem));
        }
        eprintln!("Dry run: the rerun would fail as above; nothing was changed.");
        return Ok(crate::EXIT_FAILED);
    }
    if let Some(first) = problems.into_iter().next() {
        return Err(first);
    }
    if !options.yes && !confirm(&plan)? {
        eprintln!("Aborted: nothing was changed.");
        return Ok(crate::EXIT_FAILED);
    }
    let mut progress = progress::Progress::stdout();
    let mut ledger = exec::Ledger::default();
    let context = exec::Context {
        kube,
        owner: &owner,
        resolution: &resolution,
        timeout: options.timeout,
        stream_logs: options.logs,
    };
    let outcome = tokio::select! {
        outcome = exec::execute(&context, &plan, &mut progress, &mut ledger) => outcome,
        _ = tokio::signal::ctrl_c() => {
            progress.clear();
            return Err(Error::Interrupted(interrupted(&plan, &ledger)));
        }
    };
    if let Err(e) = outcome {
        if !ledger.deleted.is_empty() {
            eprintln!("Deleted before the failure: {}.", ledger.deleted.join(", "));
        }
        return Err(e);
    }
    progress.line(&format!(
        "Rerun of {} {} hook{} of release {} succeeded.",
        plan.steps.len(),
        plan.event,
        if plan.steps.len() == 1 { "" } else { "s" },
        plan.release
    ));
    Ok(crate::EXIT_OK)
}

/// What Ctrl-C left behind: the hook still running, and what had been deleted.
fn interrupted(plan: &plan::Plan, ledger: &exec::Ledger) -> String {
    let mut text = String::from("interrupted");
    match &ledger.running {
        Some(name) => text.push_str(&format!(
            ": {name} was left running (it goes on in the cluster; stop it with kubectl delete \
             {name} -n {})",
            plan.namespace
        )),
        None => text.push_str(": no hook was running"),
    }
    if !ledger.deleted.is_empty() {
        text.push_str(&format!("; deleted: {}", ledger.deleted.join(", ")));
    }
    text
}

/// Refuses while Helm has an operation in flight on the release.
fn refuse_in_flight(release: &str, status: &str, revision: i64) -> Result<()> {
    let status = Status::parse(status);
    if status.is_pending() || status == Status::Uninstalling {
        return Err(Error::Failed(format!(
            "release {release} is {status} (revision {revision}): Helm has an operation in \
             flight; wait for it to finish (or recover the stuck release with helm rollback) \
             before rerunning hooks"
        )));
    }
    Ok(())
}

/// Asks on the terminal; refuses (bad usage) when stdin is not a terminal.
fn confirm(plan: &plan::Plan) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Usage(
            "refusing to rerun hooks without confirmation: stdin is not a terminal; pass --yes \
             to confirm (or --dry-run to only see the plan)"
                .into(),
        ));
    }
    eprint!(
        "Rerun these {} hook{} in namespace {}? [y/N] ",
        plan.steps.len(),
        if plan.steps.len() == 1 { "" } else { "s" },
        plan.namespace
    );
    std::io::stderr().flush().map_err(Error::Io)?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(Error::Io)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_releases_are_refused() {
        for status in [
            "pending-install",
            "pending-upgrade",
            "pending-rollback",
            "uninstalling",
        ] {
            let e = refuse_in_flight("demo", status, 4).unwrap_err();
            assert!(e.to_string().contains(status), "{e}");
            assert_eq!(e.exit_code(), 1);
        }
        for status in ["deployed", "failed", "superseded"] {
            assert!(refuse_in_flight("demo", status, 4).is_ok());
        }
    }
}
