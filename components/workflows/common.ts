/** Steps and fragments shared by several workflows. */
import { notificationsEnvironment, secretNames, variableNames } from "../credentials";
import {
    configureAwsCredentials,
    createAppToken,
    dockerLogin,
    pulumiAction,
    setupNode,
    setupPython,
    slack,
} from "./actions";
import { policyPackDir } from "./names";
import {
    Env,
    expr,
    Expression,
    exprBody,
    Job,
    PermissionReasons,
    Permissions,
    RunStep,
    runner,
    secret,
    Step,
    UsesStep,
} from "./model";
import { scriptText } from "./scripts";
import { WorkflowRenderSettings } from "./settings";

/** Python with pip's cache keyed on the requirement files. */
export function pythonSetup(s: WorkflowRenderSettings): Step[] {
    return [
        setupPython({
            name: "Set up Python",
            with: {
                "python-version": s.pythonVersion,
                cache: "pip",
                "cache-dependency-path": s.requirements.join("\n"),
            },
        }),
        {
            name: "Install dependencies",
            run: `python -m pip install ${s.requirements.map((r) => `-r ${r}`).join(" ")}`,
        },
    ];
}

/**
 * A GitHub App token (step id `app-token`) for a whole-stack preview: it reads the workflow files
 * and looks up reviewer teams, nothing else. The App's key is production's secret, so only jobs
 * bound to production can mint it.
 */
export function previewAppToken(s: WorkflowRenderSettings): Step {
    return createAppToken({
        name: "Mint a read-only GitHub App token for the preview",
        id: "app-token",
        env: { APP_PRIVATE_KEY: secret(secretNames.githubAppPrivateKey) },
        with: {
            "client-id": expr(`vars.${variableNames.githubAppClientId}`),
            "private-key": expr("env.APP_PRIVATE_KEY"),
            owner: s.owner,
            repositories: s.repository,
            "permission-contents": "read",
            "permission-members": "read",
        },
    });
}

/**
 * The stack's backend login and secrets passphrase for one step's environment: its Pulumi Cloud
 * token, or (S3) the backend URL, the bucket being reached with the role assumed by
 * backendLogin. Jobs read them from the environment they are bound to (each stack's environment
 * holds its own), so a job can only ever log in as, and decrypt, the stack of its environment.
 */
export function pulumiEnv(s: WorkflowRenderSettings): Env {
    return {
        ...(s.backend === "s3"
            ? { PULUMI_BACKEND_URL: expr(`vars.${variableNames.backendUrl}`) }
            : { PULUMI_ACCESS_TOKEN: secret(secretNames.pulumiAccessToken) }),
        PULUMI_CONFIG_PASSPHRASE: secret(secretNames.pulumiConfigPassphrase),
    };
}

/** The pulumi action's login input: the S3 backend's URL, or none (Pulumi Cloud, from the token). */
export function pulumiLogin(s: WorkflowRenderSettings): { "cloud-url"?: string } {
    return s.backend === "s3" ? { "cloud-url": expr("env.PULUMI_BACKEND_URL") } : {};
}

/**
 * What a job that runs Pulumi needs beyond contents: read: with an S3 backend, GitHub's OIDC token
 * (id-token: write) to assume the stack's AWS role. The role's trust policy admits the subject
 * repo:<owner>/<repo>:environment:<name>, which GitHub gives only jobs bound to that environment
 * (https://docs.github.com/en/actions/reference/security/oidc#example-subject-claims).
 */
export function backendPermissions(s: WorkflowRenderSettings): {
    permissions: Permissions;
    permissionReasons: PermissionReasons;
} {
    return s.backend === "s3"
        ? {
              permissions: { "id-token": "write" },
              permissionReasons: {
                  "id-token": "assume the stack's AWS role for its S3 state through OIDC",
              },
          }
        : { permissions: {}, permissionReasons: {} };
}

/**
 * Node.js and the Pulumi program's locked dependencies, and with an S3 backend the stack's AWS role.
 * `cache: false` for the jobs that publish or deploy: a cache another branch's run could have
 * written must not reach them (cache poisoning).
 */
export function pulumiProgramSetup(s: WorkflowRenderSettings, o: { cache: boolean }): Step[] {
    return [
        ...(s.backend === "s3"
            ? [
                  configureAwsCredentials({
                      name: "Assume the stack's AWS role for its state",
                      with: {
                          "role-to-assume": expr(`vars.${variableNames.backendRole}`),
                          "aws-region": expr(`vars.${variableNames.backendRegion}`),
                      },
                  }),
              ]
            : []),
        setupNode({
            name: "Set up Node.js",
            with: o.cache
                ? {
                      "node-version": s.nodeVersion,
                      cache: "npm",
                      "cache-dependency-path": `${s.pulumiDir}/package-lock.json`,
                  }
                : { "node-version": s.nodeVersion, "package-manager-cache": false },
        }),
        {
            name: "Install the Pulumi program's dependencies",
            run: "npm ci",
            "working-directory": s.pulumiDir,
        },
    ];
}

/** Installs the Pulumi CLI only (the action does nothing else without a command). */
export function installPulumi(): UsesStep {
    return pulumiAction({ name: "Install Pulumi" });
}

/**
 * The config-map input of a CD `pulumi up` or `pulumi preview`: the release (version and digest),
 * the deploy key from the environment secret (step env DEPLOY_SSH_KEY; toJSON keeps its line breaks
 * intact inside the YAML the action parses), and whether the run declares the release alone. The
 * runner masks a secret's JSON-escaped form in logs as well as the secret itself (actions/runner
 * HostContext: SecretMasker.AddValueEncoder(ValueEncoders.JsonStringEscape)), so the input as the
 * log shows it hides the key.
 */
export function releaseConfigMap(version: string, digest: string, releaseOnly: boolean): string {
    return (
        `{"version": {"value": "${version}", "secret": false}, ` +
        `"digest": {"value": "${digest}", "secret": false}, ` +
        `"deploySshKey": {"value": ${expr("toJSON(env.DEPLOY_SSH_KEY)")}, "secret": true}, ` +
        `"releaseOnly": {"value": "${releaseOnly}", "secret": false}}`
    );
}

/** The environment of a CD Pulumi step: the stack's Pulumi credentials and its deploy key. */
export function deployEnv(s: WorkflowRenderSettings): Env {
    return { ...pulumiEnv(s), DEPLOY_SSH_KEY: secret(secretNames.deploySshKey) };
}

/** The type token of the component that releases a stack's hosts (components/deploy). */
export const deploymentType = "cicd:deploy:BlueGreenDeployment";

/**
 * The URN of a stack's BlueGreenDeployment. index.ts names it after the environment, and each stack
 * deploys to the environment of its own name, so the stack name is the component's name too.
 */
export function deploymentUrn(s: WorkflowRenderSettings, stack: string): string {
    return `urn:pulumi:${stack}::${s.project}::${deploymentType}::${stack}`;
}

/**
 * `pulumi up` of one stack with the release pinned through config, targeting only the stack's
 * deployment: with target-dependents the engine also updates every resource whose parent (or
 * dependency) is targeted, so the component's hosts and its release command, and the stack's
 * outputs (always included). With releaseOnly the program declares nothing on GitHub and calls no
 * GitHub API, so the step has no GitHub credential; branch protection, environments and workflow
 * files stay as they are in the state, and a full `pulumi up` applies those.
 */
export function pulumiUp(
    s: WorkflowRenderSettings,
    o: {
        name: string;
        id: string;
        stack: string;
        version: Expression;
        digest: Expression;
        if?: UsesStep["if"];
    },
): UsesStep {
    return pulumiAction({
        name: o.name,
        id: o.id,
        ...(o.if ? { if: o.if } : {}),
        env: deployEnv(s),
        with: {
            command: "up",
            "stack-name": o.stack,
            "work-dir": s.pulumiDir,
            ...pulumiLogin(s),
            "config-map": releaseConfigMap(o.version, o.digest, true),
            target: deploymentUrn(s, o.stack),
            "target-dependents": true,
            policyPacks: policyPackDir,
            message: expr(`format('{0}: {1}', github.workflow, ${exprBody(o.version)})`),
        },
    });
}

/** Logs in to the image registry with the push credentials of the job's environment. */
export function registryLogin(s: WorkflowRenderSettings, options: { if?: UsesStep["if"] } = {}): UsesStep {
    return dockerLogin({
        name: "Log in to the registry",
        ...(options.if ? { if: options.if } : {}),
        env: {
            DOCKER_USERNAME: secret(secretNames.dockerUsername),
            DOCKER_PASSWORD: secret(secretNames.dockerPassword),
        },
        with: {
            ...(s.registry ? { registry: s.registry } : {}),
            username: expr("env.DOCKER_USERNAME"),
            password: expr("env.DOCKER_PASSWORD"),
        },
    });
}

/**
 * Requests each smoke path of the environment (retrying while the release settles) and, for
 * /version, checks that its JSON `version` field is exactly the expected version.
 */
export function smokeTest(
    s: WorkflowRenderSettings,
    o: { name: string; id: string; url: string; version: string; if?: RunStep["if"] },
): RunStep {
    return {
        name: o.name,
        id: o.id,
        ...(o.if ? { if: o.if } : {}),
        env: { ENVIRONMENT_URL: o.url, EXPECTED_VERSION: o.version },
        run: scriptText("smoke-test.sh", { SMOKE_PATHS: s.smokePaths.join(" ") }),
    };
}

/**
 * The notification job: a summary of every needed job's result always, and a Slack message when
 * Slack is on and the webhook secret is set.
 */
export function notifyJob(s: WorkflowRenderSettings, what: string, needs: string[]): Job {
    const results = needs.map((n) => `${n.toUpperCase().replace(/-/g, "_")}_RESULT`);
    const env: Record<string, string> = {
        WHAT: what,
        REF_NAME: expr("github.ref_name"),
        RUN_URL: expr(
            "format('{0}/{1}/actions/runs/{2}', github.server_url, github.repository, github.run_id)",
        ),
    };
    needs.forEach((n, i) => (env[results[i]] = expr(`needs.${n}.result`)));
    const outcomeBody = "contains(needs.*.result, 'failure') && 'failed' || 'succeeded'";
    const outcome = expr(outcomeBody);
    const steps: Step[] = [
        {
            name: "Write the summary",
            env: { ...env, OUTCOME: outcome },
            run: [
                "{",
                '  echo "### ${WHAT} ${OUTCOME} (${REF_NAME})"',
                '  echo ""',
                '  echo "| job | result |"',
                '  echo "| --- | --- |"',
                ...needs.map((n, i) => `  echo "| ${n} | \${${results[i]}} |"`),
                '  echo ""',
                '  echo "[The run](${RUN_URL})"',
                '} >> "${GITHUB_STEP_SUMMARY}"',
                "",
            ].join("\n"),
        },
    ];
    if (s.slack) {
        steps.push(
            slack({
                name: "Notify Slack",
                if: expr("env.SLACK_WEBHOOK != ''"),
                with: {
                    webhook: expr("env.SLACK_WEBHOOK"),
                    "webhook-type": "incoming-webhook",
                    // toJSON quotes the text, so a ref name cannot break the payload's YAML.
                    payload: `text: ${expr(
                        `toJSON(format('{0} {1} for {2} {3}: {4}/{2}/actions/runs/{5}', '${what}', ` +
                            `(${outcomeBody}), github.repository, github.ref_name, github.server_url, github.run_id))`,
                    )}`,
                },
            }),
        );
    }
    return {
        name: "Notify",
        needs,
        if: expr("!cancelled()"),
        "runs-on": runner,
        "timeout-minutes": 5,
        permissions: {},
        // The webhook is a secret of the notifications environment, which has no reviewers and
        // admits the refs the CD workflows run from. Job-level so that the Slack step can be
        // skipped when the secret is not set.
        ...(s.slack
            ? {
                  environment: { name: notificationsEnvironment },
                  env: { SLACK_WEBHOOK: secret(secretNames.slackWebhook) },
              }
            : {}),
        steps,
    };
}
