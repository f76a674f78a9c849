/**
 * cd-staging.yml and cd-production.yml: build and push the image, then `pulumi up` of the stack with
 * the pushed image's version and digest, smoke tests, and (production) rollback and a GitHub release.
 */
import { buildPush, checkout, ghRelease, metadata, setupBuildx } from "./actions";
import {
    installPulumi,
    notifyJob,
    pulumiEnv,
    pulumiProgramSetup,
    pulumiUp,
    registryLogin,
    smokeTest,
} from "./common";
import { bashDefaults, expr, Job, runner, Workflow } from "./model";
import { WorkflowSettings } from "./settings";

/** Job ids, shared by the jobs that refer to each other. */
const ids = { build: "build", deploy: "deploy", release: "release", notify: "notify" } as const;

/**
 * Builds the image and pushes it with the given metadata-action tag rules. Outputs the version (the
 * primary tag) and the digest the deploy pins.
 */
function buildAndPushJob(s: WorkflowSettings, name: string, tags: string): Job {
    return {
        name,
        "runs-on": runner,
        "timeout-minutes": 20,
        permissions: { contents: "read" },
        outputs: {
            version: expr("steps.meta.outputs.version"),
            digest: expr("steps.push.outputs.digest"),
        },
        steps: [
            checkout(),
            setupBuildx({ name: "Set up Docker Buildx" }),
            registryLogin(s),
            metadata({
                name: "Compute tags and labels",
                id: "meta",
                with: {
                    images: s.image,
                    tags,
                    // latest would move before the release is approved and deployed.
                    flavor: "latest=false",
                },
            }),
            buildPush({
                name: "Build and push the image",
                id: "push",
                with: {
                    context: ".",
                    file: s.dockerfile,
                    push: true,
                    tags: expr("steps.meta.outputs.tags"),
                    labels: expr("steps.meta.outputs.labels"),
                    "build-args": `APP_VERSION=${expr("steps.meta.outputs.version")}`,
                    "cache-from": "type=gha",
                    "cache-to": "type=gha,mode=max",
                },
            }),
        ],
    };
}

/** Deploys never overlap within one environment; a queued deploy waits rather than cancelling one. */
export function deployConcurrency(environment: string) {
    return { group: `deploy-${environment}`, "cancel-in-progress": false } as const;
}

const newVersion = expr(`needs.${ids.build}.outputs.version`);
const newDigest = expr(`needs.${ids.build}.outputs.digest`);

export function cdStagingWorkflow(s: WorkflowSettings): Workflow {
    const { stack, environment } = s.staging;
    return {
        name: "CD (staging)",
        on: { push: { branches: [s.developBranch] } },
        permissions: { contents: "read" },
        // Runs in push order, so an older commit can never be deployed after a newer one.
        concurrency: { group: "cd-staging", "cancel-in-progress": false },
        defaults: bashDefaults,
        jobs: {
            [ids.build]: buildAndPushJob(s, "Build and push", "type=sha,format=long,prefix="),
            [ids.deploy]: {
                name: "Deploy to staging",
                needs: [ids.build],
                "runs-on": runner,
                "timeout-minutes": 30,
                permissions: { contents: "read" },
                environment: { name: environment, url: expr("steps.up.outputs.environmentUrl") },
                concurrency: deployConcurrency(environment),
                steps: [
                    checkout(),
                    ...pulumiProgramSetup(s),
                    pulumiUp(s, {
                        name: "pulumi up",
                        id: "up",
                        stack,
                        version: newVersion,
                        digest: newDigest,
                    }),
                    smokeTest(s, {
                        name: "Smoke tests",
                        id: "smoke",
                        url: expr("steps.up.outputs.environmentUrl"),
                        version: newVersion,
                    }),
                ],
            },
            [ids.notify]: notifyJob(s, "Staging deploy", [ids.build, ids.deploy]),
        },
    };
}

export function cdProductionWorkflow(s: WorkflowSettings): Workflow {
    const { stack, environment } = s.production;
    const previousVersion = expr("steps.previous.outputs.version");
    const failedAfterDeployStarted = expr(
        "failure() && steps.previous.outputs.version != '' && " +
            "(steps.up.outcome == 'failure' || steps.smoke.outcome == 'failure')",
    );
    return {
        name: "CD (production)",
        on: { push: { tags: s.releaseTags } },
        permissions: { contents: "read" },
        concurrency: { group: "cd-production", "cancel-in-progress": false },
        defaults: bashDefaults,
        jobs: {
            [ids.build]: buildAndPushJob(
                s,
                "Build and push",
                "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}",
            ),
            // One job from approval to rollback: the environment's reviewers approve it once, and the
            // rollback runs without waiting for a second approval.
            [ids.deploy]: {
                name: "Deploy to production",
                needs: [ids.build],
                "runs-on": runner,
                "timeout-minutes": 45,
                permissions: { contents: "read" },
                environment: { name: environment, url: expr("steps.up.outputs.environmentUrl") },
                concurrency: deployConcurrency(environment),
                steps: [
                    checkout(),
                    ...pulumiProgramSetup(s),
                    installPulumi(),
                    {
                        name: "Record the version in production",
                        id: "previous",
                        "working-directory": s.pulumiDir,
                        env: { ...pulumiEnv(), STACK: stack },
                        run: [
                            // A first release has no previous version; anything else is a real error.
                            'version="$(pulumi stack output version --stack "${STACK}" || true)"',
                            'digest="$(pulumi stack output digest --stack "${STACK}" || true)"',
                            'echo "version=${version}" >> "${GITHUB_OUTPUT}"',
                            'echo "digest=${digest}" >> "${GITHUB_OUTPUT}"',
                            'echo "In production before this release: ${version:-nothing}"',
                            "",
                        ].join("\n"),
                    },
                    pulumiUp(s, {
                        name: "pulumi up",
                        id: "up",
                        stack,
                        version: newVersion,
                        digest: newDigest,
                    }),
                    smokeTest(s, {
                        name: "Smoke tests",
                        id: "smoke",
                        url: expr("steps.up.outputs.environmentUrl"),
                        version: newVersion,
                    }),
                    pulumiUp(s, {
                        name: "Roll back to the previous version",
                        id: "rollback",
                        if: failedAfterDeployStarted,
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
            },
            [ids.release]: {
                name: "GitHub release",
                needs: [ids.build, ids.deploy],
                "runs-on": runner,
                "timeout-minutes": 5,
                permissions: { contents: "write" },
                steps: [
                    ghRelease({
                        name: "Create the release",
                        with: {
                            tag_name: expr("github.ref_name"),
                            generate_release_notes: true,
                            body: `Image: \`${s.image}@${newDigest}\``,
                        },
                    }),
                ],
            },
            [ids.notify]: notifyJob(s, "Production release", [ids.build, ids.deploy, ids.release]),
        },
    };
}
