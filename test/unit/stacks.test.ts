import * as assert from "assert";
import { readStackFile } from "../../config";
import { requiredStatusChecks } from "../../components/workflows/ci-jobs";
import { secretNames } from "../../components/credentials";
import {
    BuiltStack,
    buildStack,
    DeclaredResource,
    githubTeamIds,
    testDigest,
    testSecrets,
} from "../../testkit/mocks";

const stacks = ["staging", "production"] as const;

/**
 * The GitHub object a resource manages, as GitHub identifies it. Two stacks declaring the same
 * identity would overwrite each other on every `pulumi up`.
 */
function githubIdentity(r: DeclaredResource): string {
    const i = r.inputs as Record<string, string>;
    switch (r.type) {
        case "github:index/repositoryRuleset:RepositoryRuleset":
            return `ruleset ${i.repository} ${i.name}`;
        case "github:index/actionsSecret:ActionsSecret":
            return `repository-secret ${i.repository} ${i.secretName}`;
        case "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret":
            return `environment-secret ${i.repository} ${i.environment} ${i.secretName}`;
        case "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable":
            return `environment-variable ${i.repository} ${i.environment} ${i.variableName}`;
        case "github:index/repositoryEnvironment:RepositoryEnvironment":
            return `environment ${i.repository} ${i.environment}`;
        case "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy":
            return `deployment-policy ${i.repository} ${i.environment} ${i.branchPattern ?? ""}${i.tagPattern ?? ""}`;
        case "github:index/branch:Branch":
            return `branch ${i.repository} ${i.branch}`;
        case "github:index/repositoryFile:RepositoryFile":
            return `file ${i.repository} ${i.branch} ${i.file}`;
        case "github:index/repositoryPullRequest:RepositoryPullRequest":
            return `pull-request ${i.baseRepository} ${i.headRef} ${i.baseRef}`;
        default:
            throw new Error(`no identity known for ${r.type}: add it here so the ownership test covers it`);
    }
}

function githubObjects(built: BuiltStack): string[] {
    return built.mocks.resources
        .filter((r) => r.type.startsWith("github:index/"))
        .map(githubIdentity)
        .sort();
}

describe("stacks built from their own Pulumi.<stack>.yaml", () => {
    const built: Partial<Record<(typeof stacks)[number], BuiltStack>> = {};
    before(async () => {
        for (const stack of stacks) built[stack] = await buildStack(stack);
    });
    const get = (stack: (typeof stacks)[number]): BuiltStack => built[stack]!;

    it("both stack files name the same owner of the repository-wide objects, and it is one of them", () => {
        const owners = stacks.map(
            (s) => JSON.parse(readStackFile(s).values["cicd-pipeline:github"]).repositoryObjectsStack,
        );
        assert.strictEqual(new Set(owners).size, 1, `stack files disagree: ${owners}`);
        assert.ok((stacks as readonly string[]).includes(owners[0]));
    });

    it("both stack files describe the repository alike: owner, name, visibility and plan", () => {
        const described = stacks.map((s) => {
            const gh = JSON.parse(readStackFile(s).values["cicd-pipeline:github"]);
            return [gh.owner, gh.repository, gh.visibility, gh.plan];
        });
        assert.deepStrictEqual(described[0], described[1]);
    });

    it("declares no GitHub object in both stacks", () => {
        const [a, b] = stacks.map((s) => new Set(githubObjects(get(s))));
        const both = [...a].filter((o) => b.has(o));
        assert.deepStrictEqual(both, []);
        assert.ok(a.size > 0 && b.size > 0);
    });

    it("declares rulesets only in the owning stack, and no repository secret in any stack", () => {
        const objects = githubObjects(get("staging"));
        assert.deepStrictEqual(
            objects.filter((o) => o.startsWith("ruleset")),
            [],
        );
        assert.deepStrictEqual(
            githubObjects(get("production")).filter((o) => o.startsWith("ruleset")),
            [
                "ruleset web-app cicd-pipeline: develop",
                "ruleset web-app cicd-pipeline: main",
                "ruleset web-app cicd-pipeline: release tags",
            ],
        );
        for (const stack of stacks) {
            // A repository secret reaches a workflow of any branch, pull requests included.
            assert.deepStrictEqual(
                githubObjects(get(stack)).filter((o) => o.startsWith("repository-secret")),
                [],
            );
        }
    });

    const ruleset = (name: string) =>
        get("production").mocks.resources.find(
            (r) => r.type === "github:index/repositoryRuleset:RepositoryRuleset" && r.inputs.name === name,
        );
    const actionsChecks = requiredStatusChecks.map((context) => ({ context, integrationId: 15368 }));

    it("protects main exactly as the pipeline document says", () => {
        assert.deepStrictEqual(ruleset("cicd-pipeline: main")?.inputs, {
            repository: "web-app",
            name: "cicd-pipeline: main",
            target: "branch",
            enforcement: "active",
            conditions: { refName: { includes: ["refs/heads/main"], excludes: [] } },
            bypassActors: [],
            rules: {
                pullRequest: { requiredApprovingReviewCount: 2 },
                requiredStatusChecks: {
                    requiredChecks: actionsChecks,
                    strictRequiredStatusChecksPolicy: true,
                },
                nonFastForward: true,
                deletion: true,
            },
        });
    });

    it("protects develop with pull requests and the CI checks", () => {
        const develop = ruleset("cicd-pipeline: develop")?.inputs as {
            conditions: unknown;
            rules: Record<string, unknown>;
        };
        assert.deepStrictEqual(develop.conditions, {
            refName: { includes: ["refs/heads/develop"], excludes: [] },
        });
        assert.deepStrictEqual(develop.rules.pullRequest, { requiredApprovingReviewCount: 0 });
        assert.deepStrictEqual(develop.rules.requiredStatusChecks, {
            requiredChecks: actionsChecks,
            strictRequiredStatusChecksPolicy: false,
        });
    });

    it("lets only the release managers create, move or delete release tags", () => {
        assert.deepStrictEqual(ruleset("cicd-pipeline: release tags")?.inputs, {
            repository: "web-app",
            name: "cicd-pipeline: release tags",
            target: "tag",
            enforcement: "active",
            conditions: { refName: { includes: ["refs/tags/v*"], excludes: [] } },
            bypassActors: [
                { actorType: "RepositoryRole", actorId: 5, bypassMode: "always" },
                { actorType: "Team", actorId: githubTeamIds["release-managers"], bypassMode: "always" },
            ],
            rules: { creation: true, update: true, deletion: true },
        });
    });

    it("delivers the workflow files from the owning stack only, by pull request into main", () => {
        const files = (s: (typeof stacks)[number]) =>
            githubObjects(get(s)).filter((o) => o.startsWith("file ") || o.startsWith("pull-request"));
        assert.deepStrictEqual(files("staging"), []);
        const production = files("production");
        assert.ok(
            production.some((o) => / \.github\/workflows\/ci\.yml$/.test(o)),
            production.join("\n"),
        );
        assert.ok(production.some((o) => /^pull-request web-app pulumi\/workflows-[0-9a-f]+ main$/.test(o)));
    });

    it("releases the configured version to every host of the stack, the SSH key kept secret", () => {
        for (const [stack, hosts] of [
            ["staging", ["staging.example.com-22"]],
            ["production", ["prod-1.example.com-22", "prod-2.example.com-22"]],
        ] as const) {
            const { mocks, exports } = get(stack);
            const installs = mocks.ofType("command:remote:Command");
            assert.deepStrictEqual(
                installs.map((r) => r.name).sort(),
                hosts.map((h) => `${stack}-${h}-install`),
            );
            for (const r of installs) assert.ok(r.secretInputs.has("connection"));
            const [release] = mocks.ofType("command:local:Command");
            assert.ok(release.secretInputs.has("environment"), "the release's SSH key is not secret");
            assert.strictEqual(exports.version, "1.4.2");
            assert.strictEqual(exports.digest, testDigest);
        }
    });

    it("requires the CI jobs' names as status checks", () => {
        assert.deepStrictEqual(requiredStatusChecks, ["Lint", "Test", "Build", "Security scan"]);
    });

    it("declares each stack's credentials as secrets of its own environment, and staging's preview and drift environments", () => {
        const environmentObjects = (stack: (typeof stacks)[number]) =>
            githubObjects(get(stack)).filter((o) => o.startsWith("environment"));
        assert.deepStrictEqual(environmentObjects("staging"), [
            "environment web-app drift",
            "environment web-app preview",
            "environment web-app staging",
            "environment-secret web-app drift PULUMI_ACCESS_TOKEN",
            "environment-secret web-app drift PULUMI_CONFIG_PASSPHRASE",
            "environment-secret web-app preview PULUMI_ACCESS_TOKEN",
            "environment-secret web-app preview PULUMI_CONFIG_PASSPHRASE",
            "environment-secret web-app staging DEPLOY_SSH_KEY",
            "environment-secret web-app staging DOCKER_PASSWORD",
            "environment-secret web-app staging DOCKER_USERNAME",
            "environment-secret web-app staging PULUMI_ACCESS_TOKEN",
            "environment-secret web-app staging PULUMI_CONFIG_PASSPHRASE",
            "environment-variable web-app staging DEPLOY_HOST_STAGING",
            "environment-variable web-app staging DEPLOY_USER",
        ]);
        assert.deepStrictEqual(environmentObjects("production"), [
            "environment web-app production",
            "environment-secret web-app production DEPLOY_SSH_KEY",
            "environment-secret web-app production DOCKER_PASSWORD",
            "environment-secret web-app production DOCKER_USERNAME",
            "environment-secret web-app production PIPELINE_APP_PRIVATE_KEY",
            "environment-secret web-app production PULUMI_ACCESS_TOKEN",
            "environment-secret web-app production PULUMI_CONFIG_PASSPHRASE",
            "environment-variable web-app production DEPLOY_HOST_PROD",
            "environment-variable web-app production DEPLOY_USER",
            "environment-variable web-app production PIPELINE_APP_CLIENT_ID",
        ]);
    });

    it("fills each environment's secrets from its own stack's config, so no stack holds another's credential", () => {
        for (const stack of stacks) {
            const mine = testSecrets(stack);
            for (const r of get(stack).mocks.ofType(
                "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
            )) {
                const key = Object.entries(secretNames).find(([, n]) => n === r.inputs.secretName)![0];
                assert.strictEqual(
                    r.inputs.value,
                    mine[key].value,
                    `${stack} ${r.inputs.environment} ${key}`,
                );
            }
        }
    });

    it("with an S3 backend, declares the backend's URL, role and region as variables where the token was", async () => {
        const secrets = testSecrets("staging");
        delete secrets.pulumiAccessToken;
        const built = await buildStack("staging", secrets, {}, undefined, (values) => {
            values["cicd-pipeline:backend"] = JSON.stringify({
                url: "s3://acme-pulumi-state/web-app?region=eu-west-1",
                awsRoleArn: "arn:aws:iam::123456789012:role/pulumi-staging",
                awsRegion: "eu-west-1",
            });
        });
        const objects = githubObjects(built);
        for (const env of ["staging", "preview"]) {
            for (const name of ["PULUMI_BACKEND_URL", "PULUMI_BACKEND_ROLE", "PULUMI_BACKEND_REGION"]) {
                assert.ok(objects.includes(`environment-variable web-app ${env} ${name}`), `${env} ${name}`);
            }
            assert.ok(!objects.includes(`environment-secret web-app ${env} PULUMI_ACCESS_TOKEN`));
        }
    });

    it("admits only pull-request runs to the preview environment, with no reviewers", () => {
        const staging = get("staging").mocks;
        const env = staging
            .ofType("github:index/repositoryEnvironment:RepositoryEnvironment")
            .find((r) => r.inputs.environment === "preview");
        assert.strictEqual(env?.inputs.reviewers, undefined);
        assert.deepStrictEqual(env?.inputs.deploymentBranchPolicy, {
            protectedBranches: false,
            customBranchPolicies: true,
        });
        const policies = staging
            .ofType(
                "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
            )
            .filter((r) => r.inputs.environment === "preview");
        assert.deepStrictEqual(
            policies.map((r) => r.inputs.branchPattern),
            ["refs/pull/*/merge"],
        );
    });

    it("lets staging deploy only from develop, production only from v* tags, drift only from main", () => {
        const policies = (s: (typeof stacks)[number]) =>
            githubObjects(get(s)).filter((o) => o.startsWith("deployment-policy"));
        assert.deepStrictEqual(policies("staging"), [
            "deployment-policy web-app drift main",
            "deployment-policy web-app preview refs/pull/*/merge",
            "deployment-policy web-app staging develop",
        ]);
        assert.deepStrictEqual(policies("production"), ["deployment-policy web-app production v*"]);
    });

    it("fills the deploy host and user variables from the stack's hosts, in plaintext (they are in the stack file)", () => {
        const variable = (name: string) =>
            get("production").mocks.resources.find((r) => r.inputs.variableName === name);
        assert.strictEqual(
            variable("DEPLOY_HOST_PROD")?.inputs.value,
            "prod-1.example.com,prod-2.example.com",
        );
        assert.strictEqual(variable("DEPLOY_USER")?.inputs.value, "deploy");
        assert.strictEqual(variable("PIPELINE_APP_CLIENT_ID")?.inputs.value, "Iv23liExampleAppId01");
        assert.ok(!variable("DEPLOY_USER")?.secretInputs.has("value"));
    });

    it("exports environment, protected branches and secret names", () => {
        assert.strictEqual(get("staging").exports.environmentName, "staging");
        assert.strictEqual(get("staging").exports.environmentUrl, "https://staging.example.com");
        assert.deepStrictEqual(get("staging").exports.protectedBranches, []);
        assert.deepStrictEqual(get("production").exports.protectedBranches, ["main", "develop"]);
        assert.deepStrictEqual(get("production").exports.protectedTags, ["v*"]);
        assert.deepStrictEqual(get("staging").exports.protectedTags, []);
        assert.deepStrictEqual(get("production").exports.secretNames, {
            production: [
                "DEPLOY_SSH_KEY",
                "DOCKER_PASSWORD",
                "DOCKER_USERNAME",
                "PIPELINE_APP_PRIVATE_KEY",
                "PULUMI_ACCESS_TOKEN",
                "PULUMI_CONFIG_PASSPHRASE",
            ],
        });
        assert.deepStrictEqual(get("staging").exports.variableNames, {
            staging: ["DEPLOY_HOST_STAGING", "DEPLOY_USER"],
        });
    });

    for (const stack of stacks) {
        it(`${stack}: no secret value appears in an output or a non-secret input`, () => {
            const secretValues = Object.entries(testSecrets(stack))
                .filter(([, v]) => v.secret)
                .map(([, v]) => v.value);
            const { mocks, exports } = get(stack);
            const outputs = JSON.stringify(exports);
            for (const value of secretValues) assert.ok(!outputs.includes(value), `an output holds ${value}`);
            for (const r of mocks.resources) {
                for (const [key, input] of Object.entries(r.inputs)) {
                    if (r.secretInputs.has(key)) continue;
                    const text = JSON.stringify(input) ?? "";
                    for (const value of secretValues) {
                        assert.ok(
                            !text.includes(value),
                            `${r.type} ${r.name}.${key} holds a secret in plaintext`,
                        );
                    }
                }
            }
        });

        it(`${stack}: every Actions secret's value is marked secret`, () => {
            const secrets = get(stack).mocks.resources.filter((r) =>
                /actions(Environment)?Secret/.test(r.type),
            );
            assert.ok(secrets.length > 0);
            for (const s of secrets)
                assert.ok(s.secretInputs.has("value"), `${s.name}'s value is not secret`);
        });
    }

    it("with Slack on, the owning stack declares the webhook in a notifications environment of the CD refs", async () => {
        const withSlack = await buildStack(
            "production",
            testSecrets("production"),
            {},
            undefined,
            (values) => {
                const workflows = JSON.parse(values["cicd-pipeline:workflows"]);
                values["cicd-pipeline:workflows"] = JSON.stringify({ ...workflows, slack: true });
            },
        );
        const objects = githubObjects(withSlack);
        assert.ok(
            objects.includes("environment-secret web-app notifications SLACK_WEBHOOK"),
            objects.join("\n"),
        );
        assert.ok(objects.includes("deployment-policy web-app notifications develop"));
        assert.ok(objects.includes("deployment-policy web-app notifications v*"));
        assert.ok(!githubObjects(get("production")).some((o) => o.includes("SLACK_WEBHOOK")));
    });

    it("without a version, keeps what the stack last released instead of removing it", async () => {
        const secrets = testSecrets("production");
        delete secrets.version;
        delete secrets.digest;
        const previous = `sha256:${"12".repeat(32)}`;
        const kept = await buildStack("production", secrets, { version: "1.4.1", digest: previous });
        assert.deepStrictEqual(
            kept.mocks
                .ofType("command:remote:Command")
                .map((r) => r.name)
                .sort(),
            ["production-prod-1.example.com-22-install", "production-prod-2.example.com-22-install"],
        );
        const [release] = kept.mocks.ofType("command:local:Command");
        assert.match(String(release.inputs.create), new RegExp(`--version 1\\.4\\.1 --digest ${previous} `));
        assert.ok(
            !kept.mocks.invokes.some((i) => i.token.startsWith("docker:")),
            "the tag is not resolved again",
        );
        assert.strictEqual(kept.exports.version, "1.4.1");
    });

    it("without a version, fails rather than remove a release it cannot read back", async () => {
        const secrets = testSecrets("production");
        delete secrets.version;
        delete secrets.digest;
        await assert.rejects(
            buildStack("production", secrets, { version: "1.4.1" }),
            /last release cannot be read back.*pulumi up -s production -c version=<tag>/,
        );
    });

    it("without a version and nothing released yet, declares no release", async () => {
        const secrets = testSecrets("staging");
        delete secrets.version;
        delete secrets.digest;
        const fresh = await buildStack("staging", secrets);
        assert.deepStrictEqual(fresh.mocks.ofType("command:local:Command"), []);
        assert.strictEqual(fresh.exports.version, undefined);
    });

    it("gives the GitHub provider no token of its own: it uses the GITHUB_TOKEN of whoever runs pulumi", () => {
        for (const stack of stacks) {
            const [provider] = get(stack).mocks.ofType("pulumi:providers:github");
            assert.strictEqual(provider.inputs.token, undefined);
            assert.strictEqual(provider.inputs.owner, "acme");
        }
    });

    it("refuses a stack that stores a GitHub token", async () => {
        const secrets = {
            ...testSecrets("staging"),
            "github:token": { value: "ghp_stack_token", secret: true },
        };
        await assert.rejects(
            buildStack("staging", secrets),
            /github:token: a GitHub token in the stack config is refused/,
        );
    });

    it("deploys a digest given with the version as it is, without asking the registry what the tag holds now", () => {
        for (const stack of stacks) {
            const { mocks } = get(stack);
            assert.ok(!mocks.invokes.some((i) => i.token.startsWith("docker:")), stack);
            const [release] = mocks.ofType("command:local:Command");
            assert.match(String(release.inputs.create), new RegExp(`--digest ${testDigest} `));
        }
    });

    describe("a release-only run (the CD workflows' pulumi up)", () => {
        const previous = {
            version: "1.4.1",
            digest: testDigest,
            protectedBranches: ["main", "develop"],
            workflowsPullRequest: 7,
        };
        const releaseOnly = (stack: (typeof stacks)[number]) =>
            buildStack(stack, { ...testSecrets(stack), releaseOnly: { value: "true" } }, previous);

        for (const stack of stacks) {
            it(`${stack}: declares the release alone and calls no GitHub API`, async () => {
                const built = await releaseOnly(stack);
                assert.deepStrictEqual(
                    built.mocks.resources.filter(
                        (r) => r.type.startsWith("github:") || r.type === "pulumi:providers:github",
                    ),
                    [],
                );
                assert.deepStrictEqual(
                    built.mocks.invokes.filter((i) => i.token.startsWith("github:")),
                    [],
                );
                assert.strictEqual(built.mocks.ofType("command:local:Command").length, 1);
                assert.strictEqual(built.exports.version, "1.4.2");
            });
        }

        it("keeps the outputs about the GitHub side that the last full run reported", async () => {
            const built = await releaseOnly("production");
            assert.deepStrictEqual(built.exports.protectedBranches, ["main", "develop"]);
            assert.strictEqual(built.exports.workflowsPullRequest, 7);
            assert.deepStrictEqual(built.exports.secretNames, get("production").exports.secretNames);
        });
    });

    it("a stack with bad config fails before declaring anything", async () => {
        const secrets = testSecrets("staging");
        delete secrets.deploySshKey;
        await assert.rejects(buildStack("staging", secrets), /cicd-pipeline:deploySshKey: is required/);
    });
});
