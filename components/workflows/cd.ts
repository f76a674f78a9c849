/**
 * cd-staging.yml and cd-production.yml: build and push the image (or find the one already published
 * as the version), then `pulumi up` of the stack's deployment with that version and digest, smoke
 * tests, and (production) rollback and a GitHub release.
 *
 * Every job that holds a credential is bound to the environment that holds it. Production's image
 * is built inside the approval-gated deploy job, so nothing is pushed, and no tag moves, before a
 * reviewer approves, and the job approves once per release.
 */
import { hostPatterns } from "../deploy/patterns";
import { variableNames, deployHostVariableName } from "../credentials";
import { buildPush, checkout, metadata, pulumiAction, setupBuildx } from "./actions";
import {
    backendPermissions,
    deployEnv,
    pulumiLogin,
    installPulumi,
    notifyJob,
    previewAppToken,
    pulumiEnv,
    pulumiProgramSetup,
    pulumiUp,
    registryLogin,
    releaseConfigMap,
    smokeTest,
} from "./common";
import { bashDefaults, expr, Expression, Job, runner, Step, Workflow } from "./model";
import { policyPackDir, workflowFileNames } from "./names";
import { scriptText } from "./scripts";
import { deployStacks, WorkflowRenderSettings } from "./settings";

/** Job ids, shared by the jobs that refer to each other. */
const ids = { build: "build", deploy: "deploy", release: "release", notify: "notify" } as const;

/** Names in cd-production.yml that pipeline-metrics.yml reads back from the Actions API. */
export const productionDeploy = {
    job: "Deploy to production",
    up: "pulumi up",
    rollback: "Roll back to the previous version",
} as const;

/** A full semantic version without build metadata, as docker/metadata-action's {{version}} gives it. */
const semverPattern = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z][0-9A-Za-z.-]*)?$";
/** A full commit SHA: the staging image tag. */
const commitPattern = "^[0-9a-f]{40}$";
/** Bash's =~ reads these as JavaScript does: plain anchors, classes and counts. */
const digestPattern = hostPatterns.digest.source;
const versionPattern = hostPatterns.version.source;

/**
 * The line of a GitHub release's body that names the image a version was released as, for people
 * reading the release. (Redeploys take the digest from the production stack's history instead,
 * which only production's credentials write.)
 */
export function releaseImageLine(image: string, digest: string): string {
    return `Image: \`${image}@${digest}\``;
}

interface ImageJobOptions {
    /** docker/metadata-action tag rules; the first is the version. */
    readonly tags: string;
    /** Bash regular expression every version must match before it is used. */
    readonly versionPattern: string;
    /** Whether a workflow_dispatch `version` input names a published version to deploy instead. */
    readonly dispatch: boolean;
    /** Whether the build may read and write GitHub's layer cache (never for a release). */
    readonly cache: boolean;
}

/**
 * jq over `pulumi stack history --json`: the digest of the stack's newest update (by its update
 * number, `version`) that released version $v (succeeded only, or any result), or "". The JSON is
 * pulumi's updateInfoJSON (pkg/cmd/pulumi/stack/stack_history.go, v3.274.1): kind, result, version
 * and each config value as {"value", "secret"}. The history is the stack's own
 * record: only a job holding the stack's Pulumi credentials writes it, unlike a GitHub release or a
 * registry tag, which any writer of the repository (or holder of a push credential) can change.
 */
function historyDigest(succeededOnly: boolean): string {
    const result = succeededOnly ? ' and .result == "succeeded"' : "";
    return (
        `[.[] | select(.kind == "update"${result} and ((.config["cicd-pipeline:version"].value // "") == $v))]` +
        ' | sort_by(.version) | last | .config["cicd-pipeline:digest"].value // ""'
    );
}

/**
 * Looks up the image published as the version (scripts/find-image-*.sh, registry-lookup.sh). Only
 * the registry's "not found" lets a build go ahead; any other lookup error fails the job.
 *
 * Staging (commit tags): a published tag is deployed as it is (a re-run).
 *
 * Production (`record`): the production stack's history is the record of what was released.
 * - A tag push whose version is published already is deployed only when production recorded that
 *   very digest for the version (a re-run); otherwise the tag was pushed by someone else (any
 *   holder of a push credential, staging's included) and the job refuses it.
 * - A manual run (dispatch) redeploys a version released before: the digest of production's newest
 *   successful update of that version, not whatever the tag points to today.
 */
function findImageScript(o: ImageJobOptions): string {
    const lookup = scriptText("registry-lookup.sh", { DIGEST_PATTERN: digestPattern }).trimEnd();
    return o.dispatch
        ? scriptText("find-image-release.sh", {
              VERSION_PATTERN: o.versionPattern,
              REGISTRY_LOOKUP: lookup,
              HISTORY_RELEASED: historyDigest(true),
              HISTORY_ATTEMPTED: historyDigest(false),
              DIGEST_PATTERN: digestPattern,
          })
        : scriptText("find-image-commit.sh", { VERSION_PATTERN: o.versionPattern, REGISTRY_LOOKUP: lookup });
}

/** Text for inside bash double quotes where `$` is meant to expand: only the backticks escaped. */
function bashQuoted(text: string): string {
    return text.replace(/`/g, "\\`");
}

/** The steps that find the image published as the version, or build and push it. */
function imageSteps(s: WorkflowRenderSettings, o: ImageJobOptions): Step[] {
    const onPush = o.dispatch ? { if: expr("github.event_name == 'push'") } : {};
    return [
        setupBuildx({ name: "Set up Docker Buildx" }),
        registryLogin(s),
        metadata({
            name: "Compute tags and labels",
            id: "meta",
            ...onPush,
            with: {
                images: s.image,
                tags: o.tags,
                // latest would move without a deploy of the version.
                flavor: "latest=false",
            },
        }),
        {
            name: "Find the image published as this version",
            id: "image",
            env: {
                IMAGE: s.image,
                TAG_VERSION: expr("steps.meta.outputs.version"),
                ...(o.dispatch
                    ? {
                          REQUESTED_VERSION: expr("inputs.version"),
                          ...pulumiEnv(s),
                          STACK: deployStacks.production,
                      }
                    : {}),
            },
            run: findImageScript(o),
        },
        buildPush({
            name: "Build and push the image",
            id: "push",
            if: expr("steps.image.outputs.digest == ''"),
            with: {
                context: ".",
                file: s.dockerfile,
                push: true,
                tags: expr("steps.meta.outputs.tags"),
                labels: expr("steps.meta.outputs.labels"),
                "build-args": `APP_VERSION=${expr("steps.image.outputs.version")}`,
                // A release is built from its own sources only: no cache another ref could have written.
                ...(o.cache ? { "cache-from": "type=gha", "cache-to": "type=gha,mode=max" } : {}),
            },
        }),
        {
            name: "Check that the version's tag holds the pushed image",
            if: expr("steps.push.outcome == 'success'"),
            env: {
                IMAGE: s.image,
                VERSION: expr("steps.image.outputs.version"),
                PUSHED: expr("steps.push.outputs.digest"),
            },
            // Another push of the version in between (no "create only" in a registry) fails the job.
            run: scriptText("check-pushed.sh"),
        },
    ];
}

/** The version and digest the image steps settled on. */
const imageVersion = expr("steps.image.outputs.version");
const imageDigest = expr("steps.image.outputs.digest || steps.push.outputs.digest");

/** Staging's image job: bound to staging, whose environment holds staging's push credentials. */
function stagingBuildJob(s: WorkflowRenderSettings): Job {
    return {
        name: "Build and push",
        "runs-on": runner,
        "timeout-minutes": 20,
        permissions: { contents: "read" },
        environment: { name: deployStacks.staging },
        outputs: { version: imageVersion, digest: imageDigest },
        steps: [
            checkout(),
            ...imageSteps(s, {
                tags: "type=sha,format=long,prefix=",
                versionPattern: commitPattern,
                dispatch: false,
                cache: true,
            }),
        ],
    };
}

/**
 * Deploys of one environment must not overlap where they change the hosts, yet a run waiting for
 * approval must not hold up another: GitHub keeps a job that waits at an environment's required
 * reviewers in its concurrency group (workflow- or job-level), so a rollback would queue behind an
 * unapproved release for up to 30 days, and a third run would cancel the second. The production
 * job therefore has no concurrency group; after its approval it waits here until no earlier-started
 * deploy job of the workflow is still running (ordered by start time, then run id), before it reads
 * what production serves. Pulumi's own stack lock and the hosts' release lock stay as backstops.
 */
const turnstileScript = () => scriptText("wait-for-earlier-deploy.sh");

/** Writes the target of the release (hosts, user, image) to the job summary, before any change. */
function releaseSummaryStep(
    s: WorkflowRenderSettings,
    environment: string,
    release: { version: Expression; digest: Expression } = { version: imageVersion, digest: imageDigest },
): Step {
    return {
        name: "Summarise the release",
        env: {
            ENVIRONMENT: environment,
            IMAGE: s.image,
            VERSION: release.version,
            DIGEST: release.digest,
            DEPLOY_USER: expr(`vars.${variableNames.deployUser}`),
            DEPLOY_HOSTS: expr(`vars.${deployHostVariableName(environment)}`),
        },
        run: scriptText("release-summary.sh"),
    };
}

/**
 * Records the version and digest the stack serves, so that a failed release can be rolled back.
 * A stack without a version output has never released (nothing to roll back to); a stack whose
 * outputs cannot be read fails the job before anything changes.
 */
function recordPreviousStep(s: WorkflowRenderSettings, stack: string): Step {
    return {
        name: "Record the version in production",
        id: "previous",
        "working-directory": s.pulumiDir,
        env: { ...pulumiEnv(s), STACK: stack },
        run: scriptText("record-previous.sh", {
            DIGEST_PATTERN: digestPattern,
            VERSION_PATTERN: versionPattern,
        }),
    };
}

/** `pulumi up` of the new release, then smoke tests against the stack's environmentUrl. */
function deployAndSmoke(
    s: WorkflowRenderSettings,
    stack: string,
    version: Expression,
    digest: Expression,
): Step[] {
    return [
        pulumiUp(s, { name: productionDeploy.up, id: "up", stack, version, digest }),
        smokeTest(s, {
            name: "Smoke tests",
            id: "smoke",
            url: expr("steps.up.outputs.environmentUrl"),
            version,
        }),
    ];
}

/** Staging's deploy job: `pulumi up` of the staging release with the build job's image. */
function stagingDeployJob(s: WorkflowRenderSettings): Job {
    return {
        name: "Deploy to staging",
        needs: [ids.build],
        "runs-on": runner,
        "timeout-minutes": 30,
        permissions: { contents: "read", ...backendPermissions(s).permissions },
        permissionReasons: backendPermissions(s).permissionReasons,
        environment: { name: deployStacks.staging, url: expr("steps.up.outputs.environmentUrl") },
        concurrency: deployConcurrency(deployStacks.staging),
        steps: [
            checkout(),
            releaseSummaryStep(s, deployStacks.staging, {
                version: expr(`needs.${ids.build}.outputs.version`),
                digest: expr(`needs.${ids.build}.outputs.digest`),
            }),
            ...pulumiProgramSetup(s, { cache: false }),
            ...deployAndSmoke(
                s,
                deployStacks.staging,
                expr(`needs.${ids.build}.outputs.version`),
                expr(`needs.${ids.build}.outputs.digest`),
            ),
        ],
    };
}

/**
 * Production's one approval-gated job: check that the tag is on the main branch, build and push (or
 * find) the image, preview the whole stack with a read-only GitHub App token, wait for any earlier
 * deploy, record what is served, release, smoke-test, and roll back on failure.
 */
function productionDeployJob(s: WorkflowRenderSettings): Job {
    const stack = deployStacks.production;
    const previousVersion = expr("steps.previous.outputs.version");
    return {
        name: productionDeploy.job,
        "runs-on": runner,
        "timeout-minutes": 60,
        permissions: { contents: "read", actions: "read", ...backendPermissions(s).permissions },
        permissionReasons: {
            actions: "read the workflow's runs, to wait for an earlier production deploy to finish",
            ...backendPermissions(s).permissionReasons,
        },
        environment: { name: stack, url: expr("steps.up.outputs.environmentUrl") },
        outputs: { version: imageVersion, digest: imageDigest },
        steps: [
            // The whole history, to tell whether the tag's commit is on the main branch.
            checkout("Check out", { "fetch-depth": 0 }),
            {
                name: "Check that the release tag is on the main branch",
                if: expr("github.event_name == 'push'"),
                env: { MAIN_BRANCH: s.mainBranch, TAG: expr("github.ref_name") },
                run: scriptText("tag-on-main.sh"),
            },
            // The Pulumi CLI first: the production stack's history is the record of released images.
            ...pulumiProgramSetup(s, { cache: false }),
            installPulumi(),
            ...imageSteps(s, {
                tags: "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}",
                versionPattern: semverPattern,
                dispatch: true,
                cache: false,
            }),
            releaseSummaryStep(s, stack),
            previewAppToken(s),
            pulumiAction({
                name: "pulumi preview (the whole stack)",
                env: { ...deployEnv(s), GITHUB_TOKEN: expr("steps.app-token.outputs.token") },
                with: {
                    command: "preview",
                    "stack-name": stack,
                    "work-dir": s.pulumiDir,
                    ...pulumiLogin(s),
                    "config-map": releaseConfigMap(imageVersion, imageDigest, false),
                    diff: true,
                    "comment-on-summary": true,
                    policyPacks: policyPackDir,
                },
            }),
            {
                name: "Wait for an earlier production deploy to finish",
                env: {
                    GH_TOKEN: expr("github.token"),
                    WORKFLOW: workflowFileNames.cdProduction,
                    DEPLOY_JOB: productionDeploy.job,
                    POLL_SECONDS: "15",
                },
                run: turnstileScript(),
            },
            recordPreviousStep(s, stack),
            ...deployAndSmoke(s, stack, imageVersion, imageDigest),
            pulumiUp(s, {
                name: productionDeploy.rollback,
                id: "rollback",
                if: expr(
                    "failure() && steps.previous.outputs.version != '' && " +
                        "(steps.up.outcome == 'failure' || steps.smoke.outcome == 'failure')",
                ),
                stack,
                version: previousVersion,
                digest: expr("steps.previous.outputs.digest"),
            }),
            smokeTest(s, {
                name: "Smoke tests after the rollback",
                id: "smoke-rollback",
                if: expr("failure() && steps.rollback.outcome == 'success'"),
                url: expr("steps.rollback.outputs.environmentUrl"),
                version: previousVersion,
            }),
        ],
    };
}

/** Staging deploys never overlap; a queued deploy waits rather than cancelling one. */
export function deployConcurrency(environment: string) {
    return { group: `deploy-${environment}`, "cancel-in-progress": false } as const;
}

export function cdStagingWorkflow(s: WorkflowRenderSettings): Workflow {
    return {
        name: "CD (staging)",
        on: { push: { branches: [s.developBranch] } },
        permissions: { contents: "read" },
        // Runs in push order, so an older commit can never be deployed after a newer one. Staging
        // has no required reviewers, so no run waits here for a person.
        concurrency: { group: "cd-staging", "cancel-in-progress": false },
        defaults: bashDefaults,
        jobs: {
            [ids.build]: stagingBuildJob(s),
            [ids.deploy]: stagingDeployJob(s),
            [ids.notify]: notifyJob(s, "Staging deploy", [ids.build, ids.deploy]),
        },
    };
}

const productionDescription = (s: WorkflowRenderSettings) =>
    [
        ` Releases to production: a push of a tag matching ${s.releaseTags.join(", ")}, or a manual run`,
        " that deploys a version released before.",
        "",
        " One job, bound to the production environment, does the release after a reviewer approves",
        " it: it checks that the tag's commit is on the main branch, builds and pushes the image (no",
        " build cache; nothing is pushed and no tag moves before the approval), previews the whole",
        " stack in the job summary, then releases and smoke-tests it, rolling back to what was served",
        " before when the release or its smoke tests fail. Production's credentials are secrets of",
        " the production environment, so no other job can read them.",
        "",
        " A published version is never pushed again: when the version's image exists, it is deployed",
        " only if production's stack history recorded that digest for the version (a re-run), and",
        " refused otherwise; a push that finds the tag taken by another digest fails.",
        "",
        " Manual rollback (or redeploy) to a version released before, such as 1.0.0:",
        "   Actions > CD (production) > Run workflow; under 'Use workflow from' pick a release tag",
        "   (the production environment deploys from release tags only) and enter the version.",
        " Nothing is built: the job deploys the digest production's stack history recorded for it,",
        " after the approval. The run waits for no other run's approval (no concurrency group); it",
        " waits only while another approved production deploy is running. `scripts/rollback.sh",
        " production 1.0.0` does the same from a checkout.",
        "",
        ` The deploy updates only the stack's deployment (pulumi up --target ... --target-dependents,`,
        " releaseOnly), with no GitHub credential; branch protection, environments and workflow files",
        " change with a full `pulumi up`.",
    ].join("\n");

export function cdProductionWorkflow(s: WorkflowRenderSettings): Workflow {
    const digest = expr(`needs.${ids.deploy}.outputs.digest`);
    return {
        name: "CD (production)",
        description: productionDescription(s),
        accepts: [
            {
                rule: "concurrency-limits",
                reason: "a concurrency group would hold a run waiting for approval and queue a rollback behind it; the deploy job waits for earlier deploys itself",
            },
        ],
        on: {
            push: { tags: s.releaseTags },
            workflow_dispatch: {
                inputs: {
                    version: {
                        description:
                            "Version released before to deploy again, such as 1.0.0 (its recorded image is deployed, not rebuilt)",
                        required: true,
                        type: "string",
                    },
                },
            },
        },
        permissions: { contents: "read" },
        defaults: bashDefaults,
        jobs: {
            [ids.deploy]: productionDeployJob(s),
            [ids.release]: {
                name: "GitHub release",
                needs: [ids.deploy],
                // A redeploy of an earlier version has its release already.
                if: expr("github.event_name == 'push'"),
                "runs-on": runner,
                "timeout-minutes": 5,
                permissions: { contents: "write" },
                permissionReasons: { contents: "create the GitHub release of the tag" },
                steps: [
                    {
                        name: "Create the release",
                        env: {
                            GH_TOKEN: expr("github.token"),
                            TAG: expr("github.ref_name"),
                            IMAGE: s.image,
                            DIGEST: digest,
                        },
                        // The notes name the image; a later redeploy reads its digest from the stack's history.
                        run: scriptText("create-release.sh", {
                            DIGEST_PATTERN: digestPattern,
                            RELEASE_NOTES: bashQuoted(releaseImageLine("${IMAGE}", "${DIGEST}")),
                        }),
                    },
                ],
            },
            [ids.notify]: notifyJob(s, "Production release", [ids.deploy, ids.release]),
        },
    };
}
