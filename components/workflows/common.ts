/** Steps and fragments shared by several workflows. */
import { repositorySecretNames } from "../secret-names";
import { dockerLogin, pulumiAction, setupNode, setupPython, slack } from "./actions";
import { Env, expr, Job, RunStep, runner, secret, Step, UsesStep } from "./model";
import { WorkflowSettings } from "./settings";

/** Python with pip's cache keyed on the requirement files. */
export function pythonSetup(s: WorkflowSettings): Step[] {
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

/** Pulumi's backend and secrets passphrase, from repository secrets, for one step's environment. */
export function pulumiEnv(): Env {
    return {
        PULUMI_ACCESS_TOKEN: secret(repositorySecretNames.pulumiAccessToken),
        PULUMI_BACKEND_URL: secret(repositorySecretNames.pulumiBackendUrl),
        PULUMI_CONFIG_PASSPHRASE: secret(repositorySecretNames.pulumiConfigPassphrase),
    };
}

/** Node.js and the Pulumi program's locked dependencies. */
export function pulumiProgramSetup(s: WorkflowSettings): Step[] {
    return [
        setupNode({
            name: "Set up Node.js",
            with: {
                "node-version": s.nodeVersion,
                cache: "npm",
                "cache-dependency-path": `${s.pulumiDir}/package-lock.json`,
            },
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

/** The config-map input that pins a release: version (image tag) and digest. */
export function releaseConfigMap(version: string, digest: string): string {
    return (
        `{"version": {"value": "${version}", "secret": false}, ` +
        `"digest": {"value": "${digest}", "secret": false}}`
    );
}

/** `pulumi up` of one stack with the release pinned through config. */
export function pulumiUp(
    s: WorkflowSettings,
    o: { name: string; id: string; stack: string; version: string; digest: string; if?: UsesStep["if"] },
): UsesStep {
    return pulumiAction({
        name: o.name,
        id: o.id,
        ...(o.if ? { if: o.if } : {}),
        env: pulumiEnv(),
        with: {
            command: "up",
            "stack-name": o.stack,
            "work-dir": s.pulumiDir,
            "cloud-url": expr("env.PULUMI_BACKEND_URL"),
            "config-map": releaseConfigMap(o.version, o.digest),
            message: expr("format('{0} {1}', github.workflow, github.ref_name)"),
        },
    });
}

/** Logs in to the image registry with the repository's registry credentials. */
export function registryLogin(s: WorkflowSettings, options: { if?: UsesStep["if"] } = {}): UsesStep {
    return dockerLogin({
        name: "Log in to the registry",
        ...(options.if ? { if: options.if } : {}),
        env: {
            DOCKER_USERNAME: secret(repositorySecretNames.dockerUsername),
            DOCKER_PASSWORD: secret(repositorySecretNames.dockerPassword),
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
 * /version, checks that the expected version is the one served.
 */
export function smokeTest(
    s: WorkflowSettings,
    o: { name: string; id: string; url: string; version: string; if?: RunStep["if"] },
): RunStep {
    return {
        name: o.name,
        id: o.id,
        ...(o.if ? { if: o.if } : {}),
        env: { ENVIRONMENT_URL: o.url, EXPECTED_VERSION: o.version },
        run: [
            'if [ -z "${ENVIRONMENT_URL}" ]; then',
            '  echo "::error::the stack has no environmentUrl output to smoke-test"',
            "  exit 1",
            "fi",
            'base="${ENVIRONMENT_URL%/}"',
            `paths=(${s.smokePaths.join(" ")})`,
            'for path in "${paths[@]}"; do',
            '  url="${base}${path}"',
            '  echo "GET ${url}"',
            '  body="$(curl --fail --silent --show-error --max-time 10 --retry 10 --retry-delay 3 --retry-all-errors "${url}")"',
            '  if [ "${path}" = "/version" ] && ! grep -qF -- "${EXPECTED_VERSION}" <<<"${body}"; then',
            '    echo "::error::${url} does not report version ${EXPECTED_VERSION}: ${body}"',
            "    exit 1",
            "  fi",
            "done",
            'echo "Smoke tests passed against ${base}"',
            "",
        ].join("\n"),
    };
}

/**
 * The notification job: a summary of every needed job's result always, and a Slack message when
 * Slack is on and the webhook secret is set.
 */
export function notifyJob(s: WorkflowSettings, what: string, needs: string[]): Job {
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
        // Job-level so that the Slack step can be skipped when the secret is not set.
        ...(s.slack ? { env: { SLACK_WEBHOOK: secret(repositorySecretNames.slackWebhook) } } : {}),
        steps,
    };
}
