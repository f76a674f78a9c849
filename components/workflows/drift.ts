/**
 * drift.yml: daily and on demand, `pulumi preview --refresh --expect-no-changes` of each stack (with
 * the policy pack) and, for staging, scripts/drift.sh (every host's `bluegreen status` against the
 * stack's outputs); one issue per stack on drift, updated while the drift lasts, closed by the first
 * run that finds none.
 *
 * Least privilege, stack by stack:
 * - staging: the job is bound to the drift environment, which the staging stack declares with
 *   staging's Pulumi token and passphrase only (the same credentials the pull-request preview
 *   holds) and which admits only runs of the main branch (schedule and workflow_dispatch run there).
 *   No production credential, no push credential, no deploy key secret: drift.sh reads staging's key
 *   from staging's config, which that passphrase already opens, and uses it for `status` only.
 * - production: every production credential, its passphrase included (it decrypts production's
 *   deploy key in the stack's config), is readable only by jobs bound to the production environment,
 *   after approval, from a release tag. So production is checked only on demand (Run workflow from a
 *   release tag), after approval, with production's Pulumi token and passphrase and the read-only
 *   GitHub App token, and without DEPLOY_SSH_KEY or the push credentials. Its hosts are checked by
 *   hand: scripts/drift.sh production.
 * - the issues job holds no secret and is the only one with issues: write.
 */
import { deployStacks, driftEnvironment } from "../credentials";
import { checkout, pulumiAction } from "./actions";
import { backendPermissions, previewAppToken, pulumiEnv, pulumiLogin, pulumiProgramSetup } from "./common";
import { bashDefaults, expr, Job, runner, Step, Workflow } from "./model";
import { policyPackDir } from "./names";
import { scriptText } from "./scripts";
import { WorkflowRenderSettings } from "./settings";

/** Runs of drift.yml that check production: by hand, from a release tag (production admits only those). */
const productionCondition =
    "github.event_name == 'workflow_dispatch' && startsWith(github.ref, 'refs/tags/')";

const runUrl = expr(
    "format('{0}/{1}/actions/runs/{2}', github.server_url, github.repository, github.run_id)",
);

/** The checks of one stack, with the outputs the issues job reads. */
function driftJob(s: WorkflowRenderSettings, stack: string): Job {
    const production = stack === deployStacks.production;
    const steps: Step[] = [checkout(), ...pulumiProgramSetup(s, { cache: false })];
    if (production) {
        steps.push(previewAppToken(s));
    }
    steps.push(
        pulumiAction({
            name: "pulumi preview --refresh --expect-no-changes",
            id: "preview",
            "continue-on-error": true,
            env: {
                ...pulumiEnv(s),
                GITHUB_TOKEN: production ? expr("steps.app-token.outputs.token") : expr("github.token"),
            },
            with: {
                command: "preview",
                "stack-name": stack,
                "work-dir": s.pulumiDir,
                ...pulumiLogin(s),
                refresh: true,
                "expect-no-changes": true,
                diff: true,
                policyPacks: policyPackDir,
            },
        }),
    );
    steps.push(
        production
            ? {
                  name: "The hosts are checked by hand",
                  id: "hosts",
                  env: { STACK: stack },
                  run: 'echo "${STACK}: the hosts need the deploy key, which this job does not get; run scripts/drift.sh ${STACK} where the key is" > drift-hosts.txt\n',
              }
            : {
                  name: "Compare every host with the stack's outputs",
                  id: "hosts",
                  "continue-on-error": true,
                  "working-directory": s.pulumiDir,
                  env: { ...pulumiEnv(s), STACK: stack },
                  run: 'set -o pipefail\nscripts/drift.sh "${STACK}" 2>&1 | tee "${GITHUB_WORKSPACE}/drift-hosts.txt"\n',
              },
        {
            name: "Report",
            id: "report",
            env: {
                STACK: stack,
                PREVIEW_OUTCOME: expr("steps.preview.outcome"),
                PREVIEW_OUTPUT: expr("steps.preview.outputs.output"),
                HOSTS_OUTCOME: expr("steps.hosts.outcome"),
                HOSTS_FILE: "drift-hosts.txt",
                RUN_URL: runUrl,
            },
            run: scriptText("drift-report.sh"),
        },
    );
    return {
        name: `Drift (${stack})`,
        ...(production ? { if: expr(productionCondition) } : {}),
        "runs-on": runner,
        "timeout-minutes": 30,
        permissions: { contents: "read", ...backendPermissions(s).permissions },
        permissionReasons: backendPermissions(s).permissionReasons,
        environment: { name: production ? deployStacks.production : driftEnvironment.name },
        // A run waiting for production's approval holds no group (see the accepted finding above).
        ...(production ? {} : { concurrency: { group: `drift-${stack}`, "cancel-in-progress": false } }),
        outputs: {
            drifted: expr("steps.report.outputs.drifted"),
            report: expr("steps.report.outputs.report"),
        },
        steps,
    };
}

export function driftWorkflow(s: WorkflowRenderSettings): Workflow {
    const stacks = [deployStacks.staging, deployStacks.production];
    return {
        name: "Drift",
        description: [
            " Compares each stack with what it declares: pulumi preview --refresh --expect-no-changes,",
            ` and for ${deployStacks.staging} every host's bluegreen status against the stack's outputs.`,
            ` ${deployStacks.production} is checked on demand from a release tag, after approval.`,
            " One issue per stack while it drifts.",
        ].join("\n"),
        accepts: [
            {
                rule: "concurrency-limits",
                reason: "production's check waits for approval and a group would hold other runs behind it; the staging check and the issues job have their own groups",
            },
        ],
        on: { schedule: [{ cron: "41 4 * * *" }], workflow_dispatch: null },
        permissions: {},
        defaults: bashDefaults,
        jobs: {
            ...Object.fromEntries(stacks.map((stack) => [stack, driftJob(s, stack)])),
            issues: {
                name: "Open, update or close the drift issues",
                needs: stacks,
                if: expr("!cancelled()"),
                // Two runs never open the same issue twice; no job of this group waits for approval.
                concurrency: { group: "drift-issues", "cancel-in-progress": false },
                "runs-on": runner,
                "timeout-minutes": 5,
                permissions: { issues: "write" },
                permissionReasons: { issues: "open, update and close one drift issue per stack" },
                steps: stacks.map((stack) => ({
                    name: `Issue of stack ${stack}`,
                    env: {
                        STACK: stack,
                        DRIFTED: expr(`needs.${stack}.outputs.drifted`),
                        REPORT: expr(`needs.${stack}.outputs.report`),
                        REPO: expr("github.repository"),
                        RUN_URL: runUrl,
                        GH_TOKEN: expr("github.token"),
                    },
                    run: scriptText("drift-issue.sh"),
                })),
            },
        },
    };
}
