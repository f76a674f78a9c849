/**
 * cd-staging.yml and cd-production.yml: build and push the image (or find the one already published
 * as the version), then `pulumi up` of the stack's deployment with that version and digest, smoke
 * tests, and (production) rollback and a GitHub release.
 */
import { buildPush, checkout, ghRelease, metadata, setupBuildx } from "./actions";
import {
    installPulumi,
    notifyJob,
    pulumiEnv,
    pulumiProgramSetup,
    pulumiUp,
    readStackOutputs,
    registryLogin,
    smokeTest,
} from "./common";
import { bashDefaults, expr, Job, runner, Step, Workflow } from "./model";
import { deployStacks, WorkflowSettings } from "./settings";

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
const digestPattern = "^sha256:[a-f0-9]{64}$";

interface ImageJobOptions {
    readonly name: string;
    /** docker/metadata-action tag rules; the first is the version. */
    readonly tags: string;
    /** Bash regular expression every version must match before it is used. */
    readonly versionPattern: string;
    /** Whether a workflow_dispatch `version` input names a published version to deploy instead. */
    readonly dispatch: boolean;
}

/**
 * Looks up the image published as the version. An existing tag is never pushed again: a re-run, or
 * a dispatched redeploy, deploys the digest the tag already points to. Only the registry's
 * "not found" lets a build go ahead; any other lookup error fails the job.
 */
function findImageScript(o: ImageJobOptions): string {
    const lines = [
        `pattern='${o.versionPattern}'`,
        ...(o.dispatch
            ? [
                  'if [ "${GITHUB_EVENT_NAME}" = "workflow_dispatch" ]; then',
                  '  version="${REQUESTED_VERSION#v}"',
                  "else",
                  '  version="${TAG_VERSION}"',
                  "fi",
              ]
            : ['version="${TAG_VERSION}"']),
        'if ! [[ "${version}" =~ ${pattern} ]]; then',
        `  echo "::error::not a version to deploy: '\${version}' (must match \${pattern})"`,
        "  exit 1",
        "fi",
        'ref="${IMAGE}:${version}"',
        'errors="${RUNNER_TEMP}/imagetools-inspect.err"',
        'if manifest="$(docker buildx imagetools inspect "${ref}" --format \'{{json .Manifest}}\' 2>"${errors}")"; then',
        '  digest="$(jq -r \'.digest\' <<<"${manifest}")"',
        `  if ! [[ "\${digest}" =~ ${digestPattern} ]]; then`,
        '    echo "::error::the registry reports an invalid digest for ${ref}: ${digest}"',
        "    exit 1",
        "  fi",
        '  echo "::notice::${ref} is already published as ${digest}; deploying that image, not building it again"',
        // containerd's resolver says "<ref>: not found" only when the registry answered 404.
        'elif [[ "$(<"${errors}")" == *":${version}: not found" ]]; then',
        ...(o.dispatch
            ? [
                  '  if [ "${GITHUB_EVENT_NAME}" = "workflow_dispatch" ]; then',
                  '    echo "::error::no image ${ref}: only a version that was built and pushed by a release can be deployed"',
                  "    exit 1",
                  "  fi",
              ]
            : []),
        '  digest=""',
        '  echo "${ref} is not published yet; building it"',
        "else",
        '  echo "::error::cannot look up ${ref} in the registry: $(<"${errors}")"',
        "  exit 1",
        "fi",
        '{ echo "version=${version}"; echo "digest=${digest}"; } >> "${GITHUB_OUTPUT}"',
        "",
    ];
    return lines.join("\n");
}

/**
 * Finds the image published as the version, or builds and pushes it with the given tag rules.
 * Outputs the version and the digest the deploy pins.
 */
function imageJob(s: WorkflowSettings, o: ImageJobOptions): Job {
    const onPush = o.dispatch ? { if: expr("github.event_name == 'push'") } : {};
    return {
        name: o.name,
        "runs-on": runner,
        "timeout-minutes": 20,
        permissions: { contents: "read" },
        outputs: {
            version: expr("steps.image.outputs.version"),
            digest: expr("steps.image.outputs.digest || steps.push.outputs.digest"),
        },
        steps: [
            { ...checkout(), ...onPush },
            setupBuildx({ name: "Set up Docker Buildx" }),
            registryLogin(s),
            metadata({
                name: "Compute tags and labels",
                id: "meta",
                ...onPush,
                with: {
                    images: s.image,
                    tags: o.tags,
                    // latest would move before the release is approved and deployed.
                    flavor: "latest=false",
                },
            }),
            {
                name: "Find the image published as this version",
                id: "image",
                env: {
                    IMAGE: s.image,
                    TAG_VERSION: expr("steps.meta.outputs.version"),
                    ...(o.dispatch ? { REQUESTED_VERSION: expr("inputs.version") } : {}),
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

/**
 * Records the version and digest the stack serves, so that a failed release can be rolled back.
 * A stack without a version output has never released (nothing to roll back to); a stack whose
 * outputs cannot be read fails the job before anything changes.
 */
function recordPreviousStep(s: WorkflowSettings, stack: string): Step {
    return {
        name: "Record the version in production",
        id: "previous",
        "working-directory": s.pulumiDir,
        env: { ...pulumiEnv(), STACK: stack },
        run: [
            ...readStackOutputs("STACK", "without them a failed release could not be rolled back"),
            'version="$(jq -r \'.version // ""\' <<<"${outputs}")"',
            'digest="$(jq -r \'.digest // ""\' <<<"${outputs}")"',
            'if [ -z "${version}" ]; then',
            '  echo "::notice::stack ${STACK} has no version output: a first release, with nothing to roll back to"',
            'elif ! [[ "${version}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || ! [[ "${digest}" =~ ' +
                `${digestPattern} ]]; then`,
            '  echo "::error::stack ${STACK} reports an invalid version or digest: ${version} ${digest}"',
            "  exit 1",
            "fi",
            '{ echo "version=${version}"; echo "digest=${digest}"; } >> "${GITHUB_OUTPUT}"',
            'echo "In production before this release: ${version:-nothing}"',
            "",
        ].join("\n"),
    };
}

/**
 * The approval-bound job: `pulumi up` of the stack's deployment with the image job's version and
 * digest, then smoke tests; with `rollback`, it records what was served first and, when the
 * release or its smoke tests fail, releases that again and smoke-tests it. One job from approval to
 * rollback, so the environment's reviewers approve once and the rollback never waits.
 */
function deployJob(
    s: WorkflowSettings,
    o: { name: string; stack: string; timeoutMinutes: number; rollback: boolean },
): Job {
    const previousVersion = expr("steps.previous.outputs.version");
    const deployAndSmoke: Step[] = [
        pulumiUp(s, {
            name: productionDeploy.up,
            id: "up",
            stack: o.stack,
            version: newVersion,
            digest: newDigest,
        }),
        smokeTest(s, {
            name: "Smoke tests",
            id: "smoke",
            url: expr("steps.up.outputs.environmentUrl"),
            version: newVersion,
        }),
    ];
    const rollback: Step[] = [
        pulumiUp(s, {
            name: productionDeploy.rollback,
            id: "rollback",
            if: expr(
                "failure() && steps.previous.outputs.version != '' && " +
                    "(steps.up.outcome == 'failure' || steps.smoke.outcome == 'failure')",
            ),
            stack: o.stack,
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
    ];
    return {
        name: o.name,
        needs: [ids.build],
        "runs-on": runner,
        "timeout-minutes": o.timeoutMinutes,
        permissions: { contents: "read" },
        // Each stack deploys to the environment of its own name.
        environment: { name: o.stack, url: expr("steps.up.outputs.environmentUrl") },
        concurrency: deployConcurrency(o.stack),
        steps: [
            checkout(),
            ...pulumiProgramSetup(s),
            ...(o.rollback ? [installPulumi(), recordPreviousStep(s, o.stack)] : []),
            ...deployAndSmoke,
            ...(o.rollback ? rollback : []),
        ],
    };
}

export function cdStagingWorkflow(s: WorkflowSettings): Workflow {
    return {
        name: "CD (staging)",
        on: { push: { branches: [s.developBranch] } },
        permissions: { contents: "read" },
        // Runs in push order, so an older commit can never be deployed after a newer one.
        concurrency: { group: "cd-staging", "cancel-in-progress": false },
        defaults: bashDefaults,
        jobs: {
            [ids.build]: imageJob(s, {
                name: "Build and push",
                tags: "type=sha,format=long,prefix=",
                versionPattern: commitPattern,
                dispatch: false,
            }),
            [ids.deploy]: deployJob(s, {
                name: "Deploy to staging",
                stack: deployStacks.staging,
                timeoutMinutes: 30,
                rollback: false,
            }),
            [ids.notify]: notifyJob(s, "Staging deploy", [ids.build, ids.deploy]),
        },
    };
}

const productionDescription = (s: WorkflowSettings) =>
    [
        ` Releases to production: a push of a tag matching ${s.releaseTags.join(", ")}, or a manual run`,
        " that deploys a version released before.",
        "",
        " Order: the image is built and pushed (or found) before the approval gate, not after it. The",
        " approved job then deploys exactly the digest that was built, so reviewers approve that image;",
        " building after the approval would need a second approval-bound job (GitHub asks reviewers",
        " once per job) or would deploy by tag. The pushed image carries only its version tags, never",
        " latest, so an image that is never approved is never served.",
        "",
        " A version tag is never pushed twice: when the image for the version is already published (a",
        " re-run, or a tag pushed again), the build is skipped and the published digest is deployed.",
        "",
        " Manual rollback (or redeploy) to a version released before, such as 1.0.0:",
        "   Actions > CD (production) > Run workflow; under 'Use workflow from' pick a release tag",
        "   (the production environment deploys from release tags only) and enter the version.",
        " Nothing is built: the job resolves the digest published as that version, and after the",
        " approval the deploy job releases it. Blue-green keeps the previous colour's container, so",
        " switching back to the version just replaced is immediate. Re-running an old tag's run",
        " does the same, and so does `scripts/rollback.sh production 1.0.0` from a checkout.",
        "",
        ` The deploy updates only the stack's deployment (pulumi up --target ... --target-dependents);`,
        " branch protection, secrets and workflow files change with a full `pulumi up`.",
    ].join("\n");

export function cdProductionWorkflow(s: WorkflowSettings): Workflow {
    return {
        name: "CD (production)",
        description: productionDescription(s),
        on: {
            push: { tags: s.releaseTags },
            workflow_dispatch: {
                inputs: {
                    version: {
                        description:
                            "Version released before to deploy again, such as 1.0.0 (its image is deployed, not rebuilt)",
                        required: true,
                        type: "string",
                    },
                },
            },
        },
        permissions: { contents: "read" },
        concurrency: { group: "cd-production", "cancel-in-progress": false },
        defaults: bashDefaults,
        jobs: {
            [ids.build]: imageJob(s, {
                name: "Build and push",
                tags: "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}",
                versionPattern: semverPattern,
                dispatch: true,
            }),
            [ids.deploy]: deployJob(s, {
                name: productionDeploy.job,
                stack: deployStacks.production,
                timeoutMinutes: 45,
                rollback: true,
            }),
            [ids.release]: {
                name: "GitHub release",
                needs: [ids.build, ids.deploy],
                // A redeploy of an earlier version has its release already.
                if: expr("github.event_name == 'push'"),
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
